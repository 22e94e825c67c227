// Switchovers: a persisted state machine, one journalled step at a time, so a controller that dies
// mid-way can be replaced by one that resumes or rolls back. "At most one in flight per cluster"
// is a partial unique index, so it holds even if two controllers race.
import { relations, sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { users } from "./auth";
import { clusters } from "./clusters";
import { nodes } from "./nodes";

/**
 * manual | auto | drill move the primary of an active-standby cluster; eject | readmit | drain change
 * one member of an active-active pool in the load balancer (same journal, same report).
 */
export const switchoverKind = pgEnum("switchover_kind", [
  "manual",
  "auto",
  "drill",
  "rollback",
  "eject",
  "readmit",
  "drain",
]);
export const switchoverState = pgEnum("switchover_state", [
  "requested",
  "preflight",
  "fencing",
  "switching_traffic",
  "activating",
  "verifying",
  "completed",
  "rolling_back",
  "rolled_back",
  "failed",
  "aborted",
]);
export const TERMINAL_SWITCHOVER_STATES = ["completed", "rolled_back", "failed", "aborted"] as const;

export const stepState = pgEnum("step_state", ["pending", "running", "succeeded", "failed", "skipped"]);

export const switchovers = pgTable(
  "switchovers",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clusterId: uuid("cluster_id")
      .notNull()
      .references(() => clusters.id, { onDelete: "cascade" }),
    kind: switchoverKind("kind").notNull(),
    state: switchoverState("state").notNull().default("requested"),
    fromNodeId: uuid("from_node_id").references(() => nodes.id, { onDelete: "set null" }),
    toNodeId: uuid("to_node_id").references(() => nodes.id, { onDelete: "set null" }),
    /** The cluster epoch this switchover establishes; every command it runs carries it. */
    epoch: bigint("epoch", { mode: "number" }),
    /** The controller lease epoch of the leader driving it (fencing between controllers). */
    controllerEpoch: bigint("controller_epoch", { mode: "number" }),
    requestedBy: uuid("requested_by").references(() => users.id, { onDelete: "set null" }),
    /** "controller" for automatic ones, else the user name at request time. */
    requestedByLabel: text("requested_by_label").notNull(),
    reason: text("reason").notNull(),
    evidence: jsonb("evidence"),
    report: jsonb("report"),
    error: text("error"),
    requestedAt: timestamp("requested_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("switchovers_one_in_flight_uq")
      .on(t.clusterId)
      .where(sql`${t.state} not in ('completed', 'rolled_back', 'failed', 'aborted')`),
    index("switchovers_cluster_requested_idx").on(t.clusterId, t.requestedAt),
  ],
);

export const switchoverSteps = pgTable(
  "switchover_steps",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    switchoverId: uuid("switchover_id")
      .notNull()
      .references(() => switchovers.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    phase: switchoverState("phase").notNull(),
    name: text("name").notNull(),
    target: text("target").notNull(),
    nodeId: uuid("node_id").references(() => nodes.id, { onDelete: "set null" }),
    command: text("command").notNull(),
    state: stepState("state").notNull().default("pending"),
    exitCode: integer("exit_code"),
    stdout: text("stdout").notNull().default(""),
    stderr: text("stderr").notNull().default(""),
    outputTruncated: boolean("output_truncated").notNull().default(false),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    durationMs: integer("duration_ms"),
  },
  (t) => [uniqueIndex("switchover_steps_seq_uq").on(t.switchoverId, t.seq)],
);

export const switchoversRelations = relations(switchovers, ({ many, one }) => ({
  steps: many(switchoverSteps),
  cluster: one(clusters, { fields: [switchovers.clusterId], references: [clusters.id] }),
}));
export const switchoverStepsRelations = relations(switchoverSteps, ({ one }) => ({
  switchover: one(switchovers, { fields: [switchoverSteps.switchoverId], references: [switchovers.id] }),
}));
