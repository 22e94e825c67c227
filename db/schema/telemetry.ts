// Raw time series: one heartbeat per probe, one GPU sample per GPU per stream line. Written in
// batches (one multi-row insert per tick), read by time range, so BRIN on time keeps the index
// tiny; (node_id, time) serves per-node charts.
import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  doublePrecision,
  index,
  pgTable,
  smallint,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

export const heartbeats = pgTable(
  "heartbeats",
  {
    time: timestamp("time", { withTimezone: true }).notNull(),
    nodeId: uuid("node_id").notNull(),
    tcpOk: boolean("tcp_ok").notNull(),
    tcpMs: doublePrecision("tcp_ms"),
    httpOk: boolean("http_ok").notNull(),
    httpStatus: smallint("http_status"),
    httpMs: doublePrecision("http_ms"),
    reportedRole: text("reported_role"),
    error: text("error"),
  },
  (t) => [
    index("heartbeats_time_brin").using("brin", t.time),
    index("heartbeats_node_time_idx").on(t.nodeId, t.time.desc()),
  ],
);

export const gpuSamples = pgTable(
  "gpu_samples",
  {
    time: timestamp("time", { withTimezone: true }).notNull(),
    nodeId: uuid("node_id").notNull(),
    gpuIndex: smallint("gpu_index").notNull(),
    utilizationPct: doublePrecision("utilization_pct"),
    memoryUsedMib: doublePrecision("memory_used_mib"),
    memoryTotalMib: doublePrecision("memory_total_mib"),
    temperatureC: doublePrecision("temperature_c"),
    powerW: doublePrecision("power_w"),
    /** Set when the sample is a "telemetry lost" marker rather than a reading. */
    error: text("error"),
  },
  (t) => [
    index("gpu_samples_time_brin").using("brin", t.time),
    index("gpu_samples_node_time_idx").on(t.nodeId, t.time.desc()),
    // A reading is a finite number or NULL: a NaN from a bad parse must never be stored as data.
    check(
      "gpu_samples_finite_ck",
      sql`${t.utilizationPct} <> 'NaN' and ${t.memoryUsedMib} <> 'NaN' and ${t.temperatureC} <> 'NaN' and ${t.powerW} <> 'NaN'`,
    ),
  ],
);
