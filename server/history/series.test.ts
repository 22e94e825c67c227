import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { insertGpuSamples, insertHeartbeats } from "./ingest";
import { planSeries, queryNodeSeries, SeriesQueryError } from "./series";
import { at, grantLease, heartbeat, newNodeId, openScratch, type Scratch } from "./test-helpers";
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from "./time";

const RETENTION = { rawRetentionMs: 48 * HOUR_MS, minuteRetentionMs: 30 * DAY_MS };

describe("planSeries", () => {
  it("picks the smallest nice step that fits, from the finest source that still holds the range", () => {
    expect(planSeries(15 * MINUTE_MS, 500, { fromAgeMs: 15 * MINUTE_MS, ...RETENTION })).toEqual({
      stepMs: 2 * SECOND_MS,
      source: "raw",
    });
    expect(planSeries(DAY_MS, 500, { fromAgeMs: DAY_MS, ...RETENTION })).toEqual({
      stepMs: 5 * MINUTE_MS,
      source: "1m",
    });
    expect(planSeries(7 * DAY_MS, 500, { fromAgeMs: 7 * DAY_MS, ...RETENTION })).toEqual({
      stepMs: 30 * MINUTE_MS,
      source: "1m",
    });
    expect(planSeries(90 * DAY_MS, 500, { fromAgeMs: 90 * DAY_MS, ...RETENTION })).toEqual({
      stepMs: 6 * HOUR_MS,
      source: "1h",
    });
    // Raw rows of three days ago are gone: a short old range reads minutes instead.
    expect(planSeries(15 * MINUTE_MS, 500, { fromAgeMs: 3 * DAY_MS, ...RETENTION })).toEqual({
      stepMs: MINUTE_MS,
      source: "1m",
    });
    expect(planSeries(400 * DAY_MS, 100, { fromAgeMs: 400 * DAY_MS, ...RETENTION })).toEqual({
      stepMs: 5 * DAY_MS,
      source: "1h",
    });
  });
});

describe("queryNodeSeries (Postgres)", () => {
  let s: Scratch;
  const node = newNodeId();
  const now = at("2026-07-08T00:00:00Z");
  const ago = (d: number) => new Date(now.getTime() - d);

  beforeAll(async () => {
    s = await openScratch(inject("databaseUrl"));
    const fence = await grantLease(s.db, "controller", 1);
    // Raw: one probe and two GPU samples a second for the last 15 minutes.
    const times = Array.from({ length: 900 }, (_, i) => ago(15 * MINUTE_MS - i * SECOND_MS));
    await insertHeartbeats(
      s.db,
      times.map((t, i) => heartbeat(node, t, { httpMs: i % 30 })),
      fence,
    );
    await insertGpuSamples(
      s.db,
      times.flatMap((t) =>
        [0, 1].map((gpuIndex) => ({
          time: t,
          nodeId: node,
          gpuIndex,
          utilizationPct: gpuIndex === 0 ? 20 : 80,
          memoryUsedMib: 1000,
          memoryTotalMib: 81_559,
          temperatureC: 60,
          powerW: 300,
          error: null,
        })),
      ),
      fence,
    );
    // Minute rollups for the last 7 days, hour rollups for the last 90.
    for (const [table, step, span] of [
      ["heartbeat_rollup_1m", "1 minute", 7 * DAY_MS],
      ["heartbeat_rollup_1h", "1 hour", 90 * DAY_MS],
    ] as const) {
      await s.db.execute(sql`
        insert into ${sql.identifier(table)}
          (node_id, bucket, probes, probes_ok, tcp_ok, http_ok, latency_p50_ms, latency_p95_ms, latency_max_ms)
        select ${node}::uuid, g, 60, 60, 60, 60, 10, 20, 30
        from generate_series(${ago(span).toISOString()}::timestamptz, ${now.toISOString()}::timestamptz - ${step}::interval, ${step}::interval) g`);
    }
    for (const [table, step, span] of [
      ["gpu_rollup_1m", "1 minute", 7 * DAY_MS],
      ["gpu_rollup_1h", "1 hour", 90 * DAY_MS],
    ] as const) {
      await s.db.execute(sql`
        insert into ${sql.identifier(table)} (node_id, gpu_index, bucket, samples, lost, util_avg, util_max)
        select ${node}::uuid, i, g, 60, 0, case when i = 0 then 20 else 80 end, 100
        from generate_series(${ago(span).toISOString()}::timestamptz, ${now.toISOString()}::timestamptz - ${step}::interval, ${step}::interval) g,
          generate_series(0, 1) i`);
    }
  });
  afterAll(async () => {
    await s?.close();
  });

  const cases = [
    { range: "15 m", ms: 15 * MINUTE_MS, source: "raw", points: 450 },
    { range: "24 h", ms: DAY_MS, source: "1m", points: 288 },
    { range: "7 d", ms: 7 * DAY_MS, source: "1m", points: 336 },
    { range: "90 d", ms: 90 * DAY_MS, source: "1h", points: 360 },
  ] as const;

  for (const c of cases) {
    it(`returns at most maxPoints points for ${c.range}, from ${c.source}`, async () => {
      for (const metric of ["latency", "gpu_util"] as const) {
        const r = await queryNodeSeries(s.db, {
          nodeId: node,
          metric,
          from: ago(c.ms),
          to: now,
          maxPoints: 500,
          now,
        });
        expect(r.source).toBe(c.source);
        expect(r.points.length).toBeLessThanOrEqual(500);
        expect(r.points).toHaveLength(c.points); // the data fills every bin
        expect(r.points.every((p, i) => i === 0 || p.t - (r.points[i - 1]?.t ?? 0) === r.stepMs)).toBe(true);
      }
    });
  }

  it("stays within maxPoints when the range is not aligned to the step, and for small maxPoints", async () => {
    for (const maxPoints of [500, 50, 7]) {
      for (const span of [15 * MINUTE_MS, DAY_MS, 7 * DAY_MS]) {
        const from = new Date(now.getTime() - span + 1234);
        const to = new Date(now.getTime() - 777);
        const r = await queryNodeSeries(s.db, { nodeId: node, metric: "latency", from, to, maxPoints, now });
        expect(r.points.length).toBeLessThanOrEqual(maxPoints);
        expect(r.points.length).toBeGreaterThan(0);
      }
    }
  });

  it("downsamples in SQL: medians and maxima of raw rows, weighted means of rollups, per GPU or across GPUs", async () => {
    const raw = await queryNodeSeries(s.db, {
      nodeId: node,
      metric: "latency",
      from: ago(15 * MINUTE_MS),
      to: now,
      now,
    });
    // Each 2 s bin holds latencies i and i+1 (i even, mod 30): median i + 0.5, max i + 1.
    expect(raw.points[0]).toEqual({ t: ago(15 * MINUTE_MS).getTime(), value: 0.5, max: 1 });
    expect(raw.points[1]).toEqual({ t: ago(15 * MINUTE_MS - 2 * SECOND_MS).getTime(), value: 2.5, max: 3 });

    const hourly = await queryNodeSeries(s.db, {
      nodeId: node,
      metric: "latency",
      from: ago(90 * DAY_MS),
      to: now,
      now,
    });
    expect(hourly.points[0]).toMatchObject({ value: 10, max: 30 });

    const both = await queryNodeSeries(s.db, {
      nodeId: node,
      metric: "gpu_util",
      from: ago(DAY_MS),
      to: now,
      now,
    });
    const gpu1 = await queryNodeSeries(s.db, {
      nodeId: node,
      metric: "gpu_util",
      gpuIndex: 1,
      from: ago(15 * MINUTE_MS),
      to: now,
      now,
    });
    expect(both.points[0]).toMatchObject({ value: 50, max: 100 });
    expect(gpu1.points[0]).toMatchObject({ value: 80, max: 80 });
    const none = await queryNodeSeries(s.db, {
      nodeId: newNodeId(),
      metric: "gpu_temp",
      from: ago(DAY_MS),
      to: now,
      now,
    });
    expect(none.points).toEqual([]);
  });

  it("rejects bad queries with a clear error", async () => {
    const q = { nodeId: node, metric: "latency" as const, from: ago(DAY_MS), to: now, now };
    await expect(queryNodeSeries(s.db, { ...q, maxPoints: 1 })).rejects.toThrow(SeriesQueryError);
    await expect(queryNodeSeries(s.db, { ...q, to: q.from })).rejects.toThrow(/after/);
    await expect(queryNodeSeries(s.db, { ...q, nodeId: "x'; drop table nodes; --" })).rejects.toThrow(/UUID/);
    await expect(queryNodeSeries(s.db, { ...q, metric: "cpu" as "latency" })).rejects.toThrow(
      /unknown metric/,
    );
  });
});
