import { asc, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { gpuRollup1h, gpuRollup1m, heartbeatRollup1h, heartbeatRollup1m } from "@/db/schema";
import { insertHeartbeats } from "./ingest";
import { ensurePartitions, listPartitions } from "./partitions";
import { RetentionPolicyError, runRetention } from "./retention";
import { at, grantLease, heartbeat, newNodeId, openScratch, type Scratch } from "./test-helpers";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "./time";

describe("retention (Postgres)", () => {
  let s: Scratch;
  const now = at("2026-06-10T12:30:00Z");
  const ago = (msAgo: number) => new Date(now.getTime() - msAgo);
  const node = newNodeId();

  const hbRollup = (bucket: Date) => ({
    nodeId: node,
    bucket,
    probes: 60,
    probesOk: 60,
    tcpOk: 60,
    httpOk: 60,
    latencyP50Ms: 5,
    latencyP95Ms: 9,
    latencyMaxMs: 12,
  });
  const gpuRollup = (bucket: Date) => ({
    nodeId: node,
    gpuIndex: 0,
    bucket,
    samples: 60,
    lost: 0,
    utilAvg: 50,
  });

  beforeAll(async () => {
    s = await openScratch(inject("databaseUrl"));
    const fence = await grantLease(s.db, "controller", 3);
    await ensurePartitions(s.db, now);
    // Raw: one row in each of the hours around the 48 h boundary (cutoff 2026-06-08T12:30Z).
    await insertHeartbeats(
      s.db,
      [
        at("2026-06-08T10:15:00Z"),
        at("2026-06-08T11:59:59Z"),
        at("2026-06-08T12:00:00Z"),
        ago(MINUTE_MS),
      ].map((t) => heartbeat(node, t)),
      fence,
    );
    // Minute rollups: 12 rows older than 30 days (more than two delete batches of 5), 3 inside.
    await s.db
      .insert(heartbeatRollup1m)
      .values([
        ...Array.from({ length: 12 }, (_, i) => hbRollup(ago(30 * DAY_MS + (i + 1) * MINUTE_MS))),
        hbRollup(ago(30 * DAY_MS - MINUTE_MS)),
        hbRollup(ago(DAY_MS)),
        hbRollup(ago(10 * MINUTE_MS)),
      ]);
    await s.db.insert(gpuRollup1m).values([gpuRollup(ago(31 * DAY_MS)), gpuRollup(ago(29 * DAY_MS))]);
    // Hour rollups: kept for 400 days, so a 31-day-old hour stays.
    await s.db
      .insert(heartbeatRollup1h)
      .values([hbRollup(ago(401 * DAY_MS)), hbRollup(ago(399 * DAY_MS)), hbRollup(ago(31 * DAY_MS))]);
    await s.db.insert(gpuRollup1h).values([gpuRollup(ago(500 * DAY_MS)), gpuRollup(ago(2 * HOUR_MS))]);
  });
  afterAll(async () => {
    await s?.close();
  });

  it("drops expired raw partitions and deletes only rollups past their retention, in batches", async () => {
    const res = await runRetention(s.db, now, {
      rawRetentionHours: 48,
      minuteRetentionDays: 30,
      hourRetentionDays: 400,
      batchSize: 5,
    });
    expect(res).toEqual({
      // The insert path made only the heartbeat partitions those rows needed.
      droppedPartitions: ["heartbeats_p2026060810", "heartbeats_p2026060811"],
      deleted: { heartbeatRollup1m: 12, heartbeatRollup1h: 1, gpuRollup1m: 1, gpuRollup1h: 1 },
    });

    const raw = await s.db.execute<{ t: string }>(
      sql`select to_char(time at time zone 'UTC', 'MM-DD"T"HH24:MI') as t from heartbeats order by time`,
    );
    expect(raw.map((r) => r.t)).toEqual(["06-08T12:00", "06-10T12:29"]);
    const minutes = await s.db.select().from(heartbeatRollup1m).orderBy(asc(heartbeatRollup1m.bucket));
    expect(minutes.map((r) => r.bucket)).toEqual([
      ago(30 * DAY_MS - MINUTE_MS),
      ago(DAY_MS),
      ago(10 * MINUTE_MS),
    ]);
    const hours = await s.db.select().from(heartbeatRollup1h).orderBy(asc(heartbeatRollup1h.bucket));
    expect(hours.map((r) => r.bucket)).toEqual([ago(399 * DAY_MS), ago(31 * DAY_MS)]);
    expect((await s.db.select().from(gpuRollup1m)).map((r) => r.bucket)).toEqual([ago(29 * DAY_MS)]);
    expect((await s.db.select().from(gpuRollup1h)).map((r) => r.bucket)).toEqual([ago(2 * HOUR_MS)]);
    // The current and future partitions are untouched.
    const names = (await listPartitions(s.db)).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(["heartbeats_p2026061012", "heartbeats_p2026061015"]));

    expect(await runRetention(s.db, now)).toEqual({
      droppedPartitions: [],
      deleted: { heartbeatRollup1m: 0, heartbeatRollup1h: 0, gpuRollup1m: 0, gpuRollup1h: 0 },
    });
  });

  it("refuses a retention that would drop current data", async () => {
    await expect(
      runRetention(s.db, now, { rawRetentionHours: 0, minuteRetentionDays: 30, hourRetentionDays: 400 }),
    ).rejects.toThrow(RetentionPolicyError);
    await expect(
      runRetention(s.db, now, { rawRetentionHours: 48, minuteRetentionDays: 1.5, hourRetentionDays: 400 }),
    ).rejects.toThrow(/minuteRetentionDays/);
  });
});
