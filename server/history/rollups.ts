// Rollups: raw telemetry → 1-minute buckets → 1-hour buckets, for charts and reports that outlive
// the raw partitions (DESIGN.md "Data flow" 6).
//
// Each call is one `insert … select … group by node, date_bin(…) … on conflict do update` per target
// table, so re-running any range is safe and converges on the same rows: the controller re-rolls the
// last few minutes every tick to pick up late rows, and a controller that takes over simply rolls
// from where the tables end. Rows whose values did not change are not rewritten (`where … is
// distinct from …`), so a re-run costs reads, not WAL. Only complete buckets are rolled: a bucket
// is included when it ends at or before `to` (pass `to = now − ingest lag`). A range whose source
// rows are gone (raw partition dropped, minute rows expired) produces nothing and leaves existing
// rollups as they are.
//
// Hours come from the minute table, not from raw rows, so they can be rebuilt for as long as
// minutes are kept (30 days) rather than as long as raw rows are (48 hours). Percentiles do not
// compose, so the hourly latency columns are defined as:
//   - p50 = mean of the minute p50s weighted by each minute's successful probes — a close estimate
//     of the hour's median for the unimodal latency of a health endpoint;
//   - p95 = the worst minute's p95 — an upper bound, chosen because an SLO chart must never hide a
//     bad minute behind a good average (a weighted mean of p95s would smooth a 1-minute spike away);
//   - max = max of minute maxima (exact).
// GPU averages are the sample-weighted mean of the minute averages (exact when every reading of a
// minute has the field); maxima are exact.
import { sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { EPOCH_ORIGIN, floorTo, HOUR_MS, MINUTE_MS, ms, tsParam } from "./time";

export type RollupResult = {
  /** The bucket range actually rolled: [from, to), aligned to the resolution. */
  from: Date;
  to: Date;
  /** Rollup rows inserted or changed. */
  heartbeatBuckets: number;
  gpuBuckets: number;
};

// The same upsert serves both resolutions: the target alias is `r`, and a row is rewritten only
// when a value changed.
const HEARTBEAT_ROLLUP_UPSERT = sql.raw(`on conflict (node_id, bucket) do update set
      probes = excluded.probes, probes_ok = excluded.probes_ok, tcp_ok = excluded.tcp_ok,
      http_ok = excluded.http_ok, latency_p50_ms = excluded.latency_p50_ms,
      latency_p95_ms = excluded.latency_p95_ms, latency_max_ms = excluded.latency_max_ms
    where (r.probes, r.probes_ok, r.tcp_ok, r.http_ok, r.latency_p50_ms, r.latency_p95_ms, r.latency_max_ms)
      is distinct from (excluded.probes, excluded.probes_ok, excluded.tcp_ok, excluded.http_ok,
        excluded.latency_p50_ms, excluded.latency_p95_ms, excluded.latency_max_ms)`);

const GPU_ROLLUP_UPSERT = sql.raw(`on conflict (node_id, gpu_index, bucket) do update set
      samples = excluded.samples, lost = excluded.lost,
      util_avg = excluded.util_avg, util_max = excluded.util_max,
      temp_avg = excluded.temp_avg, temp_max = excluded.temp_max,
      mem_used_avg = excluded.mem_used_avg, mem_used_max = excluded.mem_used_max,
      power_avg = excluded.power_avg, power_max = excluded.power_max
    where (r.samples, r.lost, r.util_avg, r.util_max, r.temp_avg, r.temp_max,
           r.mem_used_avg, r.mem_used_max, r.power_avg, r.power_max)
      is distinct from (excluded.samples, excluded.lost, excluded.util_avg, excluded.util_max,
           excluded.temp_avg, excluded.temp_max, excluded.mem_used_avg, excluded.mem_used_max,
           excluded.power_avg, excluded.power_max)`);

function alignedRange(from: Date, to: Date, stepMs: number): { lo: number; hi: number } | null {
  const lo = floorTo(ms(from, "from"), stepMs);
  const hi = floorTo(ms(to, "to"), stepMs);
  return hi > lo ? { lo, hi } : null;
}

/** Rolls raw heartbeats and GPU samples in [from, to) into 1-minute buckets (complete minutes only). */
export async function rollupMinutes(db: DbOrTx, from: Date, to: Date): Promise<RollupResult> {
  const range = alignedRange(from, to, MINUTE_MS);
  if (!range) return { from, to, heartbeatBuckets: 0, gpuBuckets: 0 };
  const lo = tsParam(range.lo);
  const hi = tsParam(range.hi);

  const hb = await db.execute(sql`
    insert into heartbeat_rollup_1m as r
      (node_id, bucket, probes, probes_ok, tcp_ok, http_ok, latency_p50_ms, latency_p95_ms, latency_max_ms)
    select
      node_id,
      date_bin('1 minute', time, ${EPOCH_ORIGIN}),
      count(*)::int,
      (count(*) filter (where tcp_ok and http_ok))::int,
      (count(*) filter (where tcp_ok))::int,
      (count(*) filter (where http_ok))::int,
      percentile_cont(0.5) within group (order by http_ms) filter (where http_ok),
      percentile_cont(0.95) within group (order by http_ms) filter (where http_ok),
      max(http_ms) filter (where http_ok)
    from heartbeats
    where time >= ${lo} and time < ${hi}
    group by 1, 2
    ${HEARTBEAT_ROLLUP_UPSERT}`);

  const gpu = await db.execute(sql`
    insert into gpu_rollup_1m as r
      (node_id, gpu_index, bucket, samples, lost, util_avg, util_max, temp_avg, temp_max,
       mem_used_avg, mem_used_max, power_avg, power_max)
    select
      node_id,
      gpu_index,
      date_bin('1 minute', time, ${EPOCH_ORIGIN}),
      (count(*) filter (where error is null))::int,
      (count(*) filter (where error is not null))::int,
      avg(utilization_pct) filter (where error is null),
      max(utilization_pct) filter (where error is null),
      avg(temperature_c) filter (where error is null),
      max(temperature_c) filter (where error is null),
      avg(memory_used_mib) filter (where error is null),
      max(memory_used_mib) filter (where error is null),
      avg(power_w) filter (where error is null),
      max(power_w) filter (where error is null)
    from gpu_samples
    where time >= ${lo} and time < ${hi}
    group by 1, 2, 3
    ${GPU_ROLLUP_UPSERT}`);

  return {
    from: new Date(range.lo),
    to: new Date(range.hi),
    heartbeatBuckets: hb.count,
    gpuBuckets: gpu.count,
  };
}

/** Rolls 1-minute buckets in [from, to) into 1-hour buckets (complete hours only). Run it after
 * `rollupMinutes` has covered the same hours. */
export async function rollupHours(db: DbOrTx, from: Date, to: Date): Promise<RollupResult> {
  const range = alignedRange(from, to, HOUR_MS);
  if (!range) return { from, to, heartbeatBuckets: 0, gpuBuckets: 0 };
  const lo = tsParam(range.lo);
  const hi = tsParam(range.hi);

  const hb = await db.execute(sql`
    insert into heartbeat_rollup_1h as r
      (node_id, bucket, probes, probes_ok, tcp_ok, http_ok, latency_p50_ms, latency_p95_ms, latency_max_ms)
    select
      node_id,
      date_bin('1 hour', bucket, ${EPOCH_ORIGIN}),
      sum(probes)::int,
      sum(probes_ok)::int,
      sum(tcp_ok)::int,
      sum(http_ok)::int,
      sum(latency_p50_ms * http_ok) filter (where latency_p50_ms is not null)
        / nullif(sum(http_ok) filter (where latency_p50_ms is not null), 0),
      max(latency_p95_ms),
      max(latency_max_ms)
    from heartbeat_rollup_1m
    where bucket >= ${lo} and bucket < ${hi}
    group by 1, 2
    ${HEARTBEAT_ROLLUP_UPSERT}`);

  const weighted = (col: "util_avg" | "temp_avg" | "mem_used_avg" | "power_avg") =>
    sql.raw(
      `sum(${col} * samples) filter (where ${col} is not null) / nullif(sum(samples) filter (where ${col} is not null), 0)`,
    );
  const gpu = await db.execute(sql`
    insert into gpu_rollup_1h as r
      (node_id, gpu_index, bucket, samples, lost, util_avg, util_max, temp_avg, temp_max,
       mem_used_avg, mem_used_max, power_avg, power_max)
    select
      node_id,
      gpu_index,
      date_bin('1 hour', bucket, ${EPOCH_ORIGIN}),
      sum(samples)::int,
      sum(lost)::int,
      ${weighted("util_avg")}, max(util_max),
      ${weighted("temp_avg")}, max(temp_max),
      ${weighted("mem_used_avg")}, max(mem_used_max),
      ${weighted("power_avg")}, max(power_max)
    from gpu_rollup_1m
    where bucket >= ${lo} and bucket < ${hi}
    group by 1, 2, 3
    ${GPU_ROLLUP_UPSERT}`);

  return {
    from: new Date(range.lo),
    to: new Date(range.hi),
    heartbeatBuckets: hb.count,
    gpuBuckets: gpu.count,
  };
}
