// Alerts fire, may be acknowledged by a human, and resolve. One open alert per (kind, cluster,
// node): the partial unique index makes "fire again" an update, not a duplicate.
import { sql } from "drizzle-orm";
import { index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { users } from "./auth";
import { clusters } from "./clusters";
import { severity } from "./enums";
import { nodes } from "./nodes";

export const alerts = pgTable(
  "alerts",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    kind: text("kind").notNull(),
    severity: severity("severity").notNull(),
    clusterId: uuid("cluster_id").references(() => clusters.id, { onDelete: "cascade" }),
    nodeId: uuid("node_id").references(() => nodes.id, { onDelete: "cascade" }),
    message: text("message").notNull(),
    data: jsonb("data"),
    firedAt: timestamp("fired_at", { withTimezone: true }).notNull().defaultNow(),
    resolvedAt: timestamp("resolved_at", { withTimezone: true }),
    acknowledgedAt: timestamp("acknowledged_at", { withTimezone: true }),
    acknowledgedBy: uuid("acknowledged_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [
    uniqueIndex("alerts_open_uq")
      .on(
        t.kind,
        sql`coalesce(${t.clusterId}, '00000000-0000-0000-0000-000000000000'::uuid)`,
        sql`coalesce(${t.nodeId}, '00000000-0000-0000-0000-000000000000'::uuid)`,
      )
      .where(sql`${t.resolvedAt} is null`),
    index("alerts_fired_at_idx").on(t.firedAt),
  ],
);
