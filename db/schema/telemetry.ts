// Raw time series: one heartbeat per probe, one GPU sample per GPU per stream line. Written in
// batches (one multi-row insert per tick), read by time range, so BRIN on time keeps the index
// tiny; (node_id, time) serves per-node charts.
//
// Both tables are `PARTITION BY RANGE (time)` with one partition per UTC hour, named
// `<table>_pYYYYMMDDHH` (custom migration 0003_partition_telemetry). drizzle does not model
// partitioning: these definitions describe the parent's columns, indexes and checks so that queries
// type-check and drizzle-kit sees no drift; the indexes and checks below exist on the parent and so
// on every partition. Partitions are created and dropped by server/history/partitions.ts — raw
// history is thrown away an hour at a time with DROP TABLE, never with DELETE.
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
    // NaN sorts above Infinity in Postgres, so `abs(x) < 'Infinity'` rejects NaN and ±Infinity.
    check("heartbeats_finite_ck", sql`abs(${t.tcpMs}) < 'Infinity' and abs(${t.httpMs}) < 'Infinity'`),
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
    // A reading is a finite number or NULL: a NaN (or ±Infinity) from a bad parse must never be
    // stored as data. NaN sorts above Infinity in Postgres, so `abs(x) < 'Infinity'` rejects all three.
    check(
      "gpu_samples_finite_ck",
      sql`abs(${t.utilizationPct}) < 'Infinity' and abs(${t.memoryUsedMib}) < 'Infinity' and abs(${t.memoryTotalMib}) < 'Infinity' and abs(${t.temperatureC}) < 'Infinity' and abs(${t.powerW}) < 'Infinity'`,
    ),
  ],
);
