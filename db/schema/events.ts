// What happened, in order: detector state changes per node, and a general event feed (state
// changes, switchover progress, alerts) that the web side streams to browsers over SSE.
import { bigint, bigserial, index, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { clusters } from "./clusters";
import { nodeState, severity } from "./enums";
import { nodes } from "./nodes";

export const nodeStateChanges = pgTable(
  "node_state_changes",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    nodeId: uuid("node_id")
      .notNull()
      .references(() => nodes.id, { onDelete: "cascade" }),
    clusterId: uuid("cluster_id")
      .notNull()
      .references(() => clusters.id, { onDelete: "cascade" }),
    fromState: nodeState("from_state").notNull(),
    toState: nodeState("to_state").notNull(),
    reason: text("reason").notNull(),
    controllerEpoch: bigint("controller_epoch", { mode: "number" }),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("node_state_changes_node_at_idx").on(t.nodeId, t.at),
    index("node_state_changes_cluster_at_idx").on(t.clusterId, t.at),
  ],
);

export const events = pgTable(
  "events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    kind: text("kind").notNull(),
    severity: severity("severity").notNull().default("info"),
    clusterId: uuid("cluster_id").references(() => clusters.id, { onDelete: "cascade" }),
    nodeId: uuid("node_id").references(() => nodes.id, { onDelete: "set null" }),
    switchoverId: uuid("switchover_id"),
    message: text("message").notNull(),
    data: jsonb("data"),
  },
  (t) => [index("events_cluster_at_idx").on(t.clusterId, t.at), index("events_at_idx").on(t.at)],
);
