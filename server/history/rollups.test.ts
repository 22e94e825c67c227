import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { gpuRollup1h, gpuRollup1m, heartbeatRollup1h, heartbeatRollup1m } from "@/db/schema";
import { type GpuSampleRow, type HeartbeatRow, insertGpuSamples, insertHeartbeats } from "./ingest";
import { dropExpiredPartitions } from "./partitions";
import { rollupHours, rollupMinutes } from "./rollups";
import {
  at,
  grantLease,
  heartbeat,
  newNodeId,
  openScratch,
  percentileCont,
  type Scratch,
} from "./test-helpers";

const T = (hms: string) => at(`2026-06-01T${hms}Z`);

describe("rollups (Postgres)", () => {
  let s: Scratch;
  const a = newNodeId();
  const b = newNodeId();
  const fence = { leaseName: "controller", epoch: 1 };

  // Minute 10:00 on node A: one probe with TCP down, one HTTP 503 (its latency must not count),
  // and 18 successes at 10, 20 … 180 ms.
  const minute0: HeartbeatRow[] = Array.from({ length: 20 }, (_, i) => {
    const time = new Date(T("10:00:00").getTime() + i * 3000);
    if (i === 0) return heartbeat(a, time, { tcpOk: false, httpOk: false, httpStatus: null, httpMs: null });
    if (i === 1) return heartbeat(a, time, { httpOk: false, httpStatus: 503, httpMs: 800 });
    return heartbeat(a, time, { httpMs: (i - 1) * 10 });
  });
  // Minute 10:01: nine fast probes and one slow one.
  const minute1Latencies = [5, 5, 5, 5, 5, 5, 5, 5, 5, 400];
  const minute1 = minute1Latencies.map((ms, i) =>
    heartbeat(a, new Date(T("10:01:00").getTime() + i * 6000), { httpMs: ms }),
  );
  const minute2 = [heartbeat(a, T("10:02:10"), { httpMs: 50 })];

  const gpu = (time: Date, over: Partial<GpuSampleRow>): GpuSampleRow => ({
    time,
    nodeId: a,
    gpuIndex: 0,
    utilizationPct: null,
    memoryUsedMib: null,
    memoryTotalMib: 81_559,
    temperatureC: null,
    powerW: null,
    error: null,
    ...over,
  });
  const gpuRows: GpuSampleRow[] = [
    gpu(T("10:00:01"), { utilizationPct: 10, temperatureC: 50, memoryUsedMib: 1000, powerW: 100 }),
    gpu(T("10:00:02"), { utilizationPct: 20, temperatureC: 60, memoryUsedMib: 2000, powerW: 200 }),
    gpu(T("10:00:03"), { utilizationPct: 90, temperatureC: 70, memoryUsedMib: 3000, powerW: 300 }),
    gpu(T("10:00:04"), {
      memoryTotalMib: null,
      error: "Unable to determine the device handle for GPU0: GPU is lost",
    }),
    gpu(T("10:00:05"), {
      gpuIndex: 1,
      utilizationPct: 100,
      temperatureC: 80,
      memoryUsedMib: 500,
      powerW: 650,
    }),
    // Power not reported this minute ([N/A]).
    gpu(T("10:01:30"), { utilizationPct: 80, temperatureC: 40, memoryUsedMib: 4000, powerW: null }),
  ];

  beforeAll(async () => {
    s = await openScratch(inject("databaseUrl"));
    await grantLease(s.db, fence.leaseName, fence.epoch);
    await insertHeartbeats(
      s.db,
      [...minute0, ...minute1, ...minute2, heartbeat(b, T("10:00:30"), { httpMs: 7 })],
      fence,
    );
    await insertGpuSamples(s.db, gpuRows, fence);
  });
  afterAll(async () => {
    await s?.close();
  });

  const minuteRows = () =>
    s.db
      .select()
      .from(heartbeatRollup1m)
      .orderBy(asc(heartbeatRollup1m.nodeId), asc(heartbeatRollup1m.bucket));
  const gpuMinuteRows = () =>
    s.db
      .select()
      .from(gpuRollup1m)
      .orderBy(asc(gpuRollup1m.nodeId), asc(gpuRollup1m.gpuIndex), asc(gpuRollup1m.bucket));

  it("rolls complete minutes: counts, p50/p95/max of successful HTTP latency", async () => {
    const res = await rollupMinutes(s.db, T("09:59:30"), T("10:02:30"));
    expect(res).toEqual({ from: T("09:59:00"), to: T("10:02:00"), heartbeatBuckets: 3, gpuBuckets: 3 });

    const rows = await s.db
      .select()
      .from(heartbeatRollup1m)
      .where(eq(heartbeatRollup1m.nodeId, a))
      .orderBy(asc(heartbeatRollup1m.bucket));
    expect(rows.map((r) => r.bucket.toISOString())).toEqual([
      "2026-06-01T10:00:00.000Z",
      "2026-06-01T10:01:00.000Z",
    ]); // 10:02 is not complete
    const okLatencies = Array.from({ length: 18 }, (_, i) => (i + 1) * 10);
    expect(rows[0]).toEqual({
      nodeId: a,
      bucket: T("10:00:00"),
      probes: 20,
      probesOk: 18,
      tcpOk: 19,
      httpOk: 18,
      latencyP50Ms: 95,
      latencyP95Ms: expect.closeTo(171.5, 9),
      latencyMaxMs: 180,
    });
    expect(percentileCont(okLatencies, 0.95)).toBeCloseTo(171.5, 9); // the hand value is what Postgres means
    expect(rows[1]).toMatchObject({ probes: 10, probesOk: 10, latencyP50Ms: 5, latencyMaxMs: 400 });
    expect(rows[1]?.latencyP95Ms).toBeCloseTo(percentileCont(minute1Latencies, 0.95), 9);
    expect(rows[1]?.latencyP95Ms).toBeCloseTo(222.25, 9);

    const g = await gpuMinuteRows();
    expect(g).toEqual([
      {
        nodeId: a,
        gpuIndex: 0,
        bucket: T("10:00:00"),
        samples: 3,
        lost: 1,
        utilAvg: 40,
        utilMax: 90,
        tempAvg: 60,
        tempMax: 70,
        memUsedAvg: 2000,
        memUsedMax: 3000,
        powerAvg: 200,
        powerMax: 300,
      },
      expect.objectContaining({
        gpuIndex: 0,
        bucket: T("10:01:00"),
        samples: 1,
        lost: 0,
        utilAvg: 80,
        powerAvg: null,
      }),
      expect.objectContaining({
        gpuIndex: 1,
        bucket: T("10:00:00"),
        samples: 1,
        utilMax: 100,
        powerMax: 650,
      }),
    ]);
  });

  it("is idempotent: a re-run changes nothing; a late row changes only its bucket", async () => {
    const before = { hb: await minuteRows(), gpu: await gpuMinuteRows() };
    expect(await rollupMinutes(s.db, T("09:59:30"), T("10:02:30"))).toMatchObject({
      heartbeatBuckets: 0,
      gpuBuckets: 0,
    });
    expect({ hb: await minuteRows(), gpu: await gpuMinuteRows() }).toEqual(before);

    await insertHeartbeats(s.db, [heartbeat(b, T("10:00:59"), { httpMs: 9 })], fence);
    expect(await rollupMinutes(s.db, T("10:00:00"), T("10:02:00"))).toMatchObject({
      heartbeatBuckets: 1,
      gpuBuckets: 0,
    });
    const [nodeB] = await s.db.select().from(heartbeatRollup1m).where(eq(heartbeatRollup1m.nodeId, b));
    expect(nodeB).toMatchObject({ probes: 2, latencyP50Ms: 8, latencyMaxMs: 9 });
  });

  it("rolls complete hours from minutes: sums, weighted p50, worst-minute p95, exact max", async () => {
    await rollupMinutes(s.db, T("10:00:00"), T("11:00:00"));
    expect(await rollupHours(s.db, T("10:00:00"), T("10:59:59"))).toMatchObject({
      heartbeatBuckets: 0,
      gpuBuckets: 0,
    }); // the hour is not complete yet
    expect(await rollupHours(s.db, T("10:30:00"), T("11:30:00"))).toEqual({
      from: T("10:00:00"),
      to: T("11:00:00"),
      heartbeatBuckets: 2,
      gpuBuckets: 2,
    });
    const [hourA] = await s.db.select().from(heartbeatRollup1h).where(eq(heartbeatRollup1h.nodeId, a));
    expect(hourA).toEqual({
      nodeId: a,
      bucket: T("10:00:00"),
      probes: 31,
      probesOk: 29,
      tcpOk: 30,
      httpOk: 29,
      latencyP50Ms: expect.closeTo((95 * 18 + 5 * 10 + 50 * 1) / 29, 9),
      latencyP95Ms: expect.closeTo(222.25, 9),
      latencyMaxMs: 400,
    });
    const gpuHours = await s.db.select().from(gpuRollup1h).orderBy(asc(gpuRollup1h.gpuIndex));
    expect(gpuHours[0]).toEqual({
      nodeId: a,
      gpuIndex: 0,
      bucket: T("10:00:00"),
      samples: 4,
      lost: 1,
      utilAvg: 50,
      utilMax: 90,
      tempAvg: 55,
      tempMax: 70,
      memUsedAvg: 2500,
      memUsedMax: 4000,
      powerAvg: 200, // the minute without power readings does not drag the mean towards zero
      powerMax: 300,
    });
    expect(await rollupHours(s.db, T("10:30:00"), T("11:30:00"))).toMatchObject({
      heartbeatBuckets: 0,
      gpuBuckets: 0,
    });
  });

  it("rollups survive their raw partitions: re-rolling a dropped range changes nothing", async () => {
    const before = await minuteRows();
    const dropped = await dropExpiredPartitions(s.db, at("2026-06-03T12:00:00Z"), { rawRetentionHours: 48 });
    expect(dropped).toContain("heartbeats_p2026060110");
    expect(await rollupMinutes(s.db, T("10:00:00"), T("11:00:00"))).toMatchObject({
      heartbeatBuckets: 0,
      gpuBuckets: 0,
    });
    expect(await minuteRows()).toEqual(before);
    expect(await rollupMinutes(s.db, T("10:00:00"), T("10:00:00"))).toMatchObject({ heartbeatBuckets: 0 });
  });
});
