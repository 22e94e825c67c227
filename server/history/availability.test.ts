import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { clusters } from "@/db/schema";
import {
  AvailabilityInputError,
  availabilityByDay,
  clusterAvailability,
  computeAvailability,
  recordAvailabilityChange,
} from "./availability";
import { at, grantLease, openScratch, type Scratch } from "./test-helpers";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "./time";

const up = (iso: string) => ({ at: at(iso), available: true });
const down = (iso: string) => ({ at: at(iso), available: false });
const DAY_FROM = at("2026-03-10T00:00:00Z");
const DAY_TO = at("2026-03-11T00:00:00Z");

describe("computeAvailability (intervals)", () => {
  it("10 minutes down in a 24 h window is 99.3056 %, one incident, MTTR 10 min", () => {
    const r = computeAvailability(
      up("2026-03-09T00:00:00Z"),
      [down("2026-03-10T12:00:00Z"), up("2026-03-10T12:10:00Z")],
      DAY_FROM,
      DAY_TO,
    );
    expect(r.availabilityPct).toBeCloseTo(99.3056, 4);
    expect(r).toMatchObject({
      downtimeMs: 10 * MINUTE_MS,
      uptimeMs: DAY_MS - 10 * MINUTE_MS,
      unknownMs: 0,
      windowMs: DAY_MS,
      incidents: [
        { start: "2026-03-10T12:00:00.000Z", end: "2026-03-10T12:10:00.000Z", durationMs: 10 * MINUTE_MS },
      ],
      mttrMs: 10 * MINUTE_MS,
      mtbfMs: DAY_MS - 10 * MINUTE_MS,
    });
  });

  it("time before the first change is unknown, not up; no data at all is null, not 100 %", () => {
    const partial = computeAvailability(
      null,
      [up("2026-03-10T06:00:00Z"), down("2026-03-10T12:00:00Z"), up("2026-03-10T12:10:00Z")],
      DAY_FROM,
      DAY_TO,
    );
    expect(partial.unknownMs).toBe(6 * HOUR_MS);
    expect(partial.availabilityPct).toBeCloseTo(((18 * 60 - 10) / (18 * 60)) * 100, 9);

    const nothing = computeAvailability(null, [], DAY_FROM, DAY_TO);
    expect(nothing).toMatchObject({
      availabilityPct: null,
      downtimeMs: 0,
      unknownMs: DAY_MS,
      incidents: [],
      mttrMs: null,
      mtbfMs: null,
    });
  });

  it("an incident that began before the window keeps its real start; only in-window time is downtime", () => {
    const r = computeAvailability(
      down("2026-03-09T23:50:00Z"),
      [up("2026-03-10T00:20:00Z")],
      DAY_FROM,
      DAY_TO,
    );
    expect(r.downtimeMs).toBe(20 * MINUTE_MS);
    expect(r.incidents).toEqual([
      { start: "2026-03-09T23:50:00.000Z", end: "2026-03-10T00:20:00.000Z", durationMs: 30 * MINUTE_MS },
    ]);
    expect(r.mttrMs).toBe(30 * MINUTE_MS);
    expect(r.mtbfMs).toBeNull(); // no failure started inside the window
  });

  it("an incident still open at the end has no end; repeated 'down' rows are one incident", () => {
    const r = computeAvailability(
      up("2026-03-01T00:00:00Z"),
      [
        down("2026-03-10T00:00:00Z"), // exactly at `from`
        down("2026-03-10T00:05:00Z"),
        up("2026-03-10T00:10:00Z"),
        up("2026-03-10T01:00:00Z"),
        down("2026-03-10T20:00:00Z"),
      ],
      DAY_FROM,
      DAY_TO,
    );
    expect(r.incidents).toEqual([
      { start: "2026-03-10T00:00:00.000Z", end: "2026-03-10T00:10:00.000Z", durationMs: 10 * MINUTE_MS },
      { start: "2026-03-10T20:00:00.000Z", end: null, durationMs: 4 * HOUR_MS },
    ]);
    expect(r.downtimeMs).toBe(4 * HOUR_MS + 10 * MINUTE_MS);
    expect(r.mttrMs).toBe(10 * MINUTE_MS); // only resolved incidents
    expect(r.mtbfMs).toBe((DAY_MS - r.downtimeMs) / 2);
  });
});

describe("cluster availability (Postgres)", () => {
  let s: Scratch;
  let clusterId: string;
  let emptyClusterId: string;
  const fence = { leaseName: "controller", epoch: 4 };

  beforeAll(async () => {
    s = await openScratch(inject("databaseUrl"));
    await grantLease(s.db, fence.leaseName, fence.epoch);
    const rows = await s.db
      .insert(clusters)
      .values([
        { name: "gte-pro-search", mode: "active_standby" },
        { name: "never-observed", mode: "active_active" },
      ])
      .returning({ id: clusters.id });
    clusterId = rows[0]?.id ?? "";
    emptyClusterId = rows[1]?.id ?? "";
  });
  afterAll(async () => {
    await s?.close();
  });

  it("records flips only, and only for the current epoch", async () => {
    const rec = (iso: string, available: boolean, f = fence) =>
      recordAvailabilityChange(s.db, { clusterId, at: at(iso), available, reason: "test" }, f);
    expect(await rec("2026-03-09T00:00:00Z", true)).toEqual({ recorded: true, fenced: false });
    expect(await rec("2026-03-09T06:00:00Z", true)).toEqual({ recorded: false, fenced: false }); // no flip
    expect(await rec("2026-03-10T12:00:00Z", false, { ...fence, epoch: 3 })).toEqual({
      recorded: false,
      fenced: true,
    });
    expect(await rec("2026-03-10T12:00:00Z", false)).toEqual({ recorded: true, fenced: false });
    expect(await rec("2026-03-10T12:10:00Z", true)).toEqual({ recorded: true, fenced: false });
  });

  it("computes the window from the recorded intervals", async () => {
    const r = await clusterAvailability(s.db, clusterId, DAY_FROM, DAY_TO, {
      now: at("2026-03-12T00:00:00Z"),
    });
    expect(r.availabilityPct).toBeCloseTo(99.3056, 4);
    expect(r.incidents).toHaveLength(1);
    expect(r.mttrMs).toBe(10 * MINUTE_MS);

    // The future is not counted: the window ends at `now`.
    const sofar = await clusterAvailability(s.db, clusterId, DAY_FROM, DAY_TO, {
      now: at("2026-03-10T12:05:00Z"),
    });
    expect(sofar.windowMs).toBe(12 * HOUR_MS + 5 * MINUTE_MS);
    expect(sofar.incidents).toEqual([
      { start: "2026-03-10T12:00:00.000Z", end: null, durationMs: 5 * MINUTE_MS },
    ]);

    // Before the first change, and for a cluster never observed: unknown.
    const before = await clusterAvailability(
      s.db,
      clusterId,
      at("2026-03-08T00:00:00Z"),
      at("2026-03-09T00:00:00Z"),
    );
    expect(before.availabilityPct).toBeNull();
    const never = await clusterAvailability(s.db, emptyClusterId, DAY_FROM, DAY_TO);
    expect(never).toMatchObject({ availabilityPct: null, incidents: [], mttrMs: null });
  });

  it("gives one value per UTC day for a heatmap", async () => {
    const days = await availabilityByDay(s.db, clusterId, 4, { now: at("2026-03-11T06:00:00Z") });
    expect(days.map((d) => d.day)).toEqual(["2026-03-08", "2026-03-09", "2026-03-10", "2026-03-11"]);
    expect(
      days.map((d) => (d.availabilityPct === null ? null : Number(d.availabilityPct.toFixed(4)))),
    ).toEqual([null, 100, 99.3056, 100]);
    expect(days.map((d) => d.incidents)).toEqual([0, 0, 1, 0]);
    expect(days[3]?.windowMs).toBe(6 * HOUR_MS);
    await expect(availabilityByDay(s.db, clusterId, 0)).rejects.toThrow(AvailabilityInputError);
  });
});
