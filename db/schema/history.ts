// What we remember after the raw telemetry is gone (DESIGN.md "Data flow" 6): 1-minute and 1-hour
// rollups of heartbeats and GPU samples for charts (kept for months), and the availability
// timeline of every cluster endpoint, from which SLA reports are computed.
//
// One table per resolution rather than one table with a `resolution` column: the two resolutions
// have different retention (30 days vs 400 days), so retention is a plain range delete on one
// table's bucket index; the 1-hour table stays small enough that year-long charts never touch
// minute rows; and each primary key stays the natural (node[, gpu], bucket).
//
// No foreign key to `nodes`, as for the raw tables: history outlives inventory (a node removed
// today still counts in last quarter's report), and bulk upserts stay free of per-row FK checks.
// Rollups of deleted nodes age out with retention.
import { relations, sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";
import { clusters } from "./clusters";

/** Fresh column builders per table (drizzle builders must not be shared between tables). */
function heartbeatRollupColumns() {
  return {
    nodeId: uuid("node_id").notNull(),
    /** Start of the bucket (UTC-aligned minute or hour). */
    bucket: timestamp("bucket", { withTimezone: true }).notNull(),
    probes: integer("probes").notNull(),
    /** Probes where both TCP and HTTP succeeded. */
    probesOk: integer("probes_ok").notNull(),
    tcpOk: integer("tcp_ok").notNull(),
    httpOk: integer("http_ok").notNull(),
    /** HTTP latency of successful probes. In the 1-hour table, p50 is the probe-weighted mean of
     * the minute p50s and p95 is the worst minute's p95 (see server/history/rollups.ts). */
    latencyP50Ms: doublePrecision("latency_p50_ms"),
    latencyP95Ms: doublePrecision("latency_p95_ms"),
    latencyMaxMs: doublePrecision("latency_max_ms"),
  };
}

function gpuRollupColumns() {
  return {
    nodeId: uuid("node_id").notNull(),
    gpuIndex: smallint("gpu_index").notNull(),
    bucket: timestamp("bucket", { withTimezone: true }).notNull(),
    /** Readings (rows without an error marker). */
    samples: integer("samples").notNull(),
    /** "Telemetry lost" markers (rows with an error). */
    lost: integer("lost").notNull(),
    utilAvg: doublePrecision("util_avg"),
    utilMax: doublePrecision("util_max"),
    tempAvg: doublePrecision("temp_avg"),
    tempMax: doublePrecision("temp_max"),
    /** MiB. */
    memUsedAvg: doublePrecision("mem_used_avg"),
    memUsedMax: doublePrecision("mem_used_max"),
    powerAvg: doublePrecision("power_avg"),
    powerMax: doublePrecision("power_max"),
  };
}

export const heartbeatRollup1m = pgTable("heartbeat_rollup_1m", heartbeatRollupColumns(), (t) => [
  primaryKey({ name: "heartbeat_rollup_1m_pk", columns: [t.nodeId, t.bucket] }),
  index("heartbeat_rollup_1m_bucket_idx").on(t.bucket),
  check("heartbeat_rollup_1m_counts_ck", sql`${t.probesOk} between 0 and ${t.probes}`),
]);

export const heartbeatRollup1h = pgTable("heartbeat_rollup_1h", heartbeatRollupColumns(), (t) => [
  primaryKey({ name: "heartbeat_rollup_1h_pk", columns: [t.nodeId, t.bucket] }),
  index("heartbeat_rollup_1h_bucket_idx").on(t.bucket),
  check("heartbeat_rollup_1h_counts_ck", sql`${t.probesOk} between 0 and ${t.probes}`),
]);

export const gpuRollup1m = pgTable("gpu_rollup_1m", gpuRollupColumns(), (t) => [
  primaryKey({ name: "gpu_rollup_1m_pk", columns: [t.nodeId, t.gpuIndex, t.bucket] }),
  index("gpu_rollup_1m_bucket_idx").on(t.bucket),
]);

export const gpuRollup1h = pgTable("gpu_rollup_1h", gpuRollupColumns(), (t) => [
  primaryKey({ name: "gpu_rollup_1h_pk", columns: [t.nodeId, t.gpuIndex, t.bucket] }),
  index("gpu_rollup_1h_bucket_idx").on(t.bucket),
]);

/**
 * One row each time "the cluster endpoint has a healthy active node" flips, written by the leading
 * controller (fenced by its epoch). Availability is the length of the intervals between these rows,
 * never a ratio of sample counts: a probe interval change or a controller gap must not move the SLA.
 */
export const clusterAvailabilityChanges = pgTable(
  "cluster_availability_changes",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    clusterId: uuid("cluster_id")
      .notNull()
      .references(() => clusters.id, { onDelete: "cascade" }),
    at: timestamp("at", { withTimezone: true }).notNull(),
    available: boolean("available").notNull(),
    reason: text("reason").notNull(),
    controllerEpoch: bigint("controller_epoch", { mode: "number" }).notNull(),
  },
  (t) => [index("cluster_availability_changes_cluster_at_idx").on(t.clusterId, t.at)],
);

export const clusterAvailabilityChangesRelations = relations(clusterAvailabilityChanges, ({ one }) => ({
  cluster: one(clusters, { fields: [clusterAvailabilityChanges.clusterId], references: [clusters.id] }),
}));
