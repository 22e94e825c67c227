// Per-node chart series, downsampled in SQL so a browser never receives more than ~maxPoints points
// (CONVENTIONS.md "Charts"). The step is the smallest "nice" step (1 s … 1 d) that fits the range in
// maxPoints epoch-aligned bins; the source is the finest table that both resolves that step and
// still holds `from`: raw rows (48 h), then 1-minute rollups (30 days), then 1-hour rollups.
// Bins are `date_bin(step, …)` with a UTC epoch origin, so the same range always yields the same
// bins. Bins without data are omitted (a gap on the chart), not zero-filled.
//
// Each point has `value` (latency: median; GPU metrics: mean) and `max`. From rollups, the median is
// the probe-weighted mean of minute medians and the mean is sample-weighted (see rollups.ts).
// GPU metrics are for one GPU when `gpuIndex` is given, else across the node's GPUs (mean of
// readings, max of maxima). Times are epoch milliseconds: that is what a chart's time axis wants.
import { type SQL, sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { DAY_MS, EPOCH_ORIGIN, HOUR_MS, intervalParam, MINUTE_MS, ms, SECOND_MS, tsParam } from "./time";

export type SeriesMetric = "latency" | "gpu_util" | "gpu_temp" | "gpu_mem" | "gpu_power";
export const SERIES_METRICS: readonly SeriesMetric[] = [
  "latency",
  "gpu_util",
  "gpu_temp",
  "gpu_mem",
  "gpu_power",
];
export type SeriesSource = "raw" | "1m" | "1h";

export type SeriesQuery = {
  nodeId: string;
  metric: SeriesMetric;
  from: Date;
  to: Date;
  maxPoints?: number;
  gpuIndex?: number;
  /** For choosing a source that still holds `from`; defaults match DEFAULT_RETENTION. */
  now?: Date;
  rawRetentionHours?: number;
  minuteRetentionDays?: number;
};

export type SeriesPoint = { t: number; value: number | null; max: number | null };
export type Series = { metric: SeriesMetric; source: SeriesSource; stepMs: number; points: SeriesPoint[] };

export class SeriesQueryError extends Error {
  readonly code = "invalid_series_query" as const;
}

const NICE_STEPS = [
  SECOND_MS,
  2 * SECOND_MS,
  5 * SECOND_MS,
  10 * SECOND_MS,
  15 * SECOND_MS,
  30 * SECOND_MS,
  MINUTE_MS,
  2 * MINUTE_MS,
  5 * MINUTE_MS,
  10 * MINUTE_MS,
  15 * MINUTE_MS,
  30 * MINUTE_MS,
  HOUR_MS,
  2 * HOUR_MS,
  3 * HOUR_MS,
  6 * HOUR_MS,
  12 * HOUR_MS,
  DAY_MS,
];

/**
 * Pure: the step and source for a range. `ceil(range / step) + 1` epoch-aligned bins can touch a
 * range, so the step is at least `range / (maxPoints − 1)`.
 */
export function planSeries(
  rangeMs: number,
  maxPoints: number,
  age: { fromAgeMs: number; rawRetentionMs: number; minuteRetentionMs: number },
): { stepMs: number; source: SeriesSource } {
  const minStep = rangeMs / (maxPoints - 1);
  let step = NICE_STEPS.find((s) => s >= minStep) ?? Math.ceil(minStep / DAY_MS) * DAY_MS;
  if (step < MINUTE_MS && age.fromAgeMs <= age.rawRetentionMs) return { stepMs: step, source: "raw" };
  step = Math.max(step, MINUTE_MS);
  if (step < HOUR_MS && age.fromAgeMs <= age.minuteRetentionMs) return { stepMs: step, source: "1m" };
  return { stepMs: Math.max(step, HOUR_MS), source: "1h" };
}

const GPU_COLUMNS = {
  gpu_util: { raw: "utilization_pct", avg: "util_avg", max: "util_max" },
  gpu_temp: { raw: "temperature_c", avg: "temp_avg", max: "temp_max" },
  gpu_mem: { raw: "memory_used_mib", avg: "mem_used_avg", max: "mem_used_max" },
  gpu_power: { raw: "power_w", avg: "power_avg", max: "power_max" },
} as const;

function seriesSql(q: SeriesQuery, source: SeriesSource, stepMs: number, from: number, to: number): SQL {
  const step = intervalParam(stepMs);
  const lo = tsParam(from);
  const hi = tsParam(to);
  const t = (col: string) =>
    sql`(extract(epoch from date_bin(${step}, ${sql.identifier(col)}, ${EPOCH_ORIGIN})) * 1000)::float8`;
  const node = sql`node_id = ${q.nodeId}::uuid`;

  if (q.metric === "latency") {
    if (source === "raw") {
      return sql`select ${t("time")} as t,
          percentile_cont(0.5) within group (order by http_ms) filter (where http_ok) as value,
          max(http_ms) filter (where http_ok) as max
        from heartbeats where ${node} and time >= ${lo} and time < ${hi}
        group by 1 order by 1`;
    }
    const table = sql.identifier(source === "1m" ? "heartbeat_rollup_1m" : "heartbeat_rollup_1h");
    return sql`select ${t("bucket")} as t,
        sum(latency_p50_ms * http_ok) filter (where latency_p50_ms is not null)
          / nullif(sum(http_ok) filter (where latency_p50_ms is not null), 0) as value,
        max(latency_max_ms) as max
      from ${table} where ${node} and bucket >= ${lo} and bucket < ${hi}
      group by 1 order by 1`;
  }

  const cols = GPU_COLUMNS[q.metric];
  const gpu = q.gpuIndex === undefined ? sql`true` : sql`gpu_index = ${q.gpuIndex}`;
  if (source === "raw") {
    const c = sql.identifier(cols.raw);
    return sql`select ${t("time")} as t,
        avg(${c}) filter (where error is null) as value,
        max(${c}) filter (where error is null) as max
      from gpu_samples where ${node} and ${gpu} and time >= ${lo} and time < ${hi}
      group by 1 order by 1`;
  }
  const table = sql.identifier(source === "1m" ? "gpu_rollup_1m" : "gpu_rollup_1h");
  const avg = sql.identifier(cols.avg);
  const max = sql.identifier(cols.max);
  return sql`select ${t("bucket")} as t,
      sum(${avg} * samples) filter (where ${avg} is not null)
        / nullif(sum(samples) filter (where ${avg} is not null), 0) as value,
      max(${max}) as max
    from ${table} where ${node} and ${gpu} and bucket >= ${lo} and bucket < ${hi}
    group by 1 order by 1`;
}

/** A node's series for a chart, at most `maxPoints` (default 500) points. */
export async function queryNodeSeries(db: DbOrTx, q: SeriesQuery): Promise<Series> {
  const maxPoints = q.maxPoints ?? 500;
  if (!Number.isInteger(maxPoints) || maxPoints < 2 || maxPoints > 10_000) {
    throw new SeriesQueryError(`maxPoints must be an integer 2..10000, got ${maxPoints}`);
  }
  if (!SERIES_METRICS.includes(q.metric)) throw new SeriesQueryError(`unknown metric ${String(q.metric)}`);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(q.nodeId)) {
    throw new SeriesQueryError("nodeId is not a UUID");
  }
  if (q.gpuIndex !== undefined && (!Number.isInteger(q.gpuIndex) || q.gpuIndex < 0 || q.gpuIndex > 32767)) {
    throw new SeriesQueryError(`gpuIndex must be an integer 0..32767, got ${q.gpuIndex}`);
  }
  const from = ms(q.from, "from");
  const to = ms(q.to, "to");
  if (to <= from) throw new SeriesQueryError("to must be after from");
  const now = ms(q.now ?? new Date(), "now");
  const plan = planSeries(to - from, maxPoints, {
    fromAgeMs: now - from,
    rawRetentionMs: (q.rawRetentionHours ?? 48) * HOUR_MS,
    minuteRetentionMs: (q.minuteRetentionDays ?? 30) * DAY_MS,
  });
  const rows = await db.execute<{ t: number; value: number | null; max: number | null }>(
    seriesSql(q, plan.source, plan.stepMs, from, to),
  );
  return {
    metric: q.metric,
    source: plan.source,
    stepMs: plan.stepMs,
    points: rows.map((r) => ({ t: r.t, value: r.value, max: r.max })),
  };
}
