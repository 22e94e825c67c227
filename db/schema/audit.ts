// The audit log: every mutation, written in the same transaction as the change. Append-only is
// enforced by triggers (see the custom migration), and each row carries the hash of the previous
// row so that tampering with history is detectable by `npm run audit:verify`.
import { bigint, bigserial, index, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const auditLog = pgTable(
  "audit_log",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    actorUserId: uuid("actor_user_id"),
    /** User name, token name, or "controller"; kept as text so it survives user deletion. */
    actorLabel: text("actor_label").notNull(),
    actorRole: text("actor_role").notNull(),
    address: text("address"),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id"),
    clusterId: uuid("cluster_id"),
    reason: text("reason"),
    before: jsonb("before"),
    after: jsonb("after"),
    epoch: bigint("epoch", { mode: "number" }),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    index("audit_log_at_idx").on(t.at),
    index("audit_log_actor_idx").on(t.actorLabel, t.at),
    index("audit_log_cluster_idx").on(t.clusterId, t.at),
  ],
);
