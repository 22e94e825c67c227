// The availability report against a real Postgres, from seeded availability changes and
// switchovers at a fixed "now": outages of known length give the expected downtime, availability,
// error budget, MTTR and MTBF for each window; the daily cells agree with the history module; no
// data is null (never 100 %); the CSV tables and the route handler (called as Next.js calls it,
// under a given actor) carry the same figures.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { GET as getReport } from "@/app/api/v1/availability/report/route";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { clusterAvailabilityChanges, clusters, switchovers } from "@/db/schema";
import { ErrorSchema } from "@/server/api/schemas";
import { type Actor, runAsActor } from "@/server/auth/guard";
import { availabilityByDay, clusterAvailability, DAY_MS, HOUR_MS, MINUTE_MS } from "@/server/history";
import { createScratchDatabase } from "@/test/db";
import { availabilityCsv } from "./csv";
import { buildAvailabilityReport, dayStatus } from "./report";
import { type AvailabilityReport, AvailabilityReportSchema, type ClusterAvailabilityReport } from "./schemas";

const NOW = new Date("2026-03-20T12:00:00Z");
const at = (iso: string) => new Date(iso);
const VIEWER: Actor = { kind: "session", userId: null, label: "viewer-test", role: "viewer", address: null };
const NO_PARAMS = { params: Promise.resolve({}) as Promise<Record<string, never>> };

/** Minimal RFC 4180 reader for the test's own CSVs (no quotes with line breaks in them). */
function csvRows(text: string): string[][] {
  expect(text.endsWith("\r\n")).toBe(true);
  return text
    .slice(0, -2)
    .split("\r\n")
    .map((line) => {
      const out: string[] = [];
      const re = /("((?:[^"]|"")*)"|[^,]*)(,|$)/g;
      for (let m = re.exec(line); m; m = re.exec(line)) {
        out.push(m[2] !== undefined ? m[2].replaceAll('""', '"') : (m[1] ?? ""));
        if (m[3] === "") break;
      }
      return out;
    });
}

describe("availability report", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const previous = (globalThis as { switchyardDb?: unknown }).switchyardDb;
  const id = {
    steady: randomUUID(),
    empty: randomUUID(),
    young: randomUUID(),
    down: randomUUID(),
    evil: randomUUID(),
  };
  let report: AvailabilityReport;
  const cluster = (cid: string): ClusterAvailabilityReport => {
    const c = report.clusters.find((x) => x.id === cid);
    if (!c) throw new Error(`no cluster ${cid} in the report`);
    return c;
  };
  const win = (cid: string, days: number) => {
    const w = cluster(cid).windows.find((x) => x.days === days);
    if (!w) throw new Error(`no ${days}-day window`);
    return w;
  };

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4 });
    (globalThis as { switchyardDb?: unknown }).switchyardDb = h;
    await h.db.insert(clusters).values([
      { id: id.steady, name: "a-steady", mode: "active_standby", slaTargetPct: 99.9 },
      { id: id.empty, name: "b-empty", mode: "active_active", slaTargetPct: 99.99 },
      { id: id.young, name: "c-young", mode: "active_standby", slaTargetPct: 99.5 },
      { id: id.down, name: "d-down", mode: "active_standby", slaTargetPct: 99.9 },
      { id: id.evil, name: '=HYPERLINK("http://x")', mode: "active_standby", slaTargetPct: 99 },
    ]);
    const change = (clusterId: string, iso: string, available: boolean, reason: string) => ({
      clusterId,
      at: at(iso),
      available,
      reason,
      controllerEpoch: 1,
    });
    await h.db.insert(clusterAvailabilityChanges).values([
      // Known since long before the 90-day window; a 2 h outage on 1 Feb (90 days only), a
      // 30 min outage on 18 Mar (every window), and a duplicate "up" row that changes nothing.
      change(id.steady, "2025-11-01T00:00:00Z", true, "first probe"),
      change(id.steady, "2026-02-01T00:00:00Z", false, "gte-a: suspect → failed (connection refused)"),
      change(id.steady, "2026-02-01T02:00:00Z", true, "gte-b: recovering → healthy"),
      change(id.steady, "2026-03-18T10:00:00Z", false, "gte-b: suspect → failed (GPU lost)"),
      change(id.steady, "2026-03-18T10:30:00Z", true, "gte-a: recovering → healthy"),
      change(id.steady, "2026-03-19T00:00:00Z", true, "duplicate"),
      // Known for the last 3 days only, never down.
      change(id.young, "2026-03-17T12:00:00Z", true, "first probe"),
      // Down for the last 20 minutes and still down.
      change(id.down, "2026-03-01T00:00:00Z", true, "first probe"),
      change(id.down, "2026-03-20T11:40:00Z", false, "llm-1: suspect → failed (timeout)"),
      change(id.evil, "2026-03-20T00:00:00Z", false, "@SUM(1)"),
      // After "now": the future is not part of any figure.
      change(id.young, "2026-03-20T13:00:00Z", false, "future"),
    ]);
    const sw = (
      kind: "manual" | "auto" | "drill",
      state: "completed" | "failed" | "rolled_back",
      iso: string,
    ) => ({
      clusterId: id.steady,
      kind,
      state,
      requestedByLabel: kind === "auto" ? "controller" : "alice",
      reason: "test",
      requestedAt: at(iso),
    });
    await h.db.insert(switchovers).values([
      sw("auto", "completed", "2026-03-18T10:00:05Z"), // 7 d
      sw("manual", "completed", "2026-03-05T09:00:00Z"), // 30 d
      sw("manual", "failed", "2026-03-10T09:00:00Z"), // 30 d
      sw("drill", "rolled_back", "2026-01-20T09:00:00Z"), // 90 d
      sw("manual", "completed", "2025-11-15T09:00:00Z"), // older than 90 d
    ]);
    report = await buildAvailabilityReport(h.db, { now: NOW });
  });

  afterAll(async () => {
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previous;
    await h?.sql.end();
    await scratch?.drop();
  });

  it("is shaped as the API promises, clusters by name, windows 7 / 30 / 90, 90 daily cells", () => {
    expect(AvailabilityReportSchema.parse(report)).toEqual(report);
    expect(report.clusters.map((c) => c.name)).toEqual([
      '=HYPERLINK("http://x")',
      "a-steady",
      "b-empty",
      "c-young",
      "d-down",
    ]);
    for (const c of report.clusters) {
      expect(c.windows.map((w) => w.days)).toEqual([7, 30, 90]);
      expect(c.days).toHaveLength(90);
      expect(c.days[0]?.day).toBe("2025-12-21");
      expect(c.days.at(-1)?.day).toBe("2026-03-20");
    }
  });

  it("7 days with one 30-minute outage: downtime, availability, budget overspent, MTTR, MTBF", () => {
    const w = win(id.steady, 7);
    const known = 7 * DAY_MS;
    expect(w).toMatchObject({
      from: "2026-03-13T12:00:00.000Z",
      to: "2026-03-20T12:00:00.000Z",
      downtimeMs: 30 * MINUTE_MS,
      unknownMs: 0,
      knownMs: known,
      incidents: 1,
      mttrMs: 30 * MINUTE_MS,
      mtbfMs: known - 30 * MINUTE_MS,
      meetsSla: false,
    });
    expect(w.availabilityPct).toBeCloseTo(((known - 30 * MINUTE_MS) / known) * 100, 10); // 99.7024 %
    expect(w.errorBudgetMs).toBeCloseTo(10.08 * MINUTE_MS, 3); // 0.1 % of 7 days
    expect(w.errorBudgetRemainingMs).toBeCloseTo(-19.92 * MINUTE_MS, 3);
    expect(w.errorBudgetRemainingPct).toBeCloseTo((-19.92 / 10.08) * 100, 6);
  });

  it("30 days: the same outage fits the budget, with 13.2 minutes left", () => {
    const w = win(id.steady, 30);
    expect(w.availabilityPct).toBeCloseTo((1 - 30 / 43_200) * 100, 10); // 99.9306 %
    expect(w).toMatchObject({
      meetsSla: true,
      incidents: 1,
      downtimeMs: 30 * MINUTE_MS,
      mttrMs: 30 * MINUTE_MS,
    });
    expect(w.errorBudgetMs).toBeCloseTo(43.2 * MINUTE_MS, 3);
    expect(w.errorBudgetRemainingMs).toBeCloseTo(13.2 * MINUTE_MS, 3);
    expect(w.errorBudgetRemainingPct).toBeCloseTo((13.2 / 43.2) * 100, 6);
  });

  it("90 days: two outages (2 h and 30 min), MTTR 75 min, MTBF half the uptime", () => {
    const w = win(id.steady, 90);
    const known = 90 * DAY_MS;
    const down = 150 * MINUTE_MS;
    expect(w.availabilityPct).toBeCloseTo(((known - down) / known) * 100, 10); // 99.8843 %
    expect(w).toMatchObject({
      downtimeMs: down,
      uptimeMs: known - down,
      incidents: 2,
      mttrMs: 75 * MINUTE_MS,
      mtbfMs: (known - down) / 2,
      meetsSla: false,
    });
    expect(w.errorBudgetRemainingMs).toBeCloseTo((129.6 - 150) * MINUTE_MS, 3);
  });

  it("agrees with the history module's clusterAvailability for every window", async () => {
    for (const c of report.clusters) {
      for (const w of c.windows) {
        const r = await clusterAvailability(h.db, c.id, new Date(w.from), new Date(w.to), { now: NOW });
        expect(
          {
            pct: w.availabilityPct,
            down: w.downtimeMs,
            unknown: w.unknownMs,
            n: w.incidents,
            mttr: w.mttrMs,
            mtbf: w.mtbfMs,
          },
          `${c.name} ${w.days} d`,
        ).toEqual({
          pct: r.availabilityPct,
          down: r.downtimeMs,
          unknown: r.unknownMs,
          n: r.incidents.length,
          mttr: r.mttrMs,
          mtbf: r.mtbfMs,
        });
      }
    }
  });

  it("daily cells agree with availabilityByDay and are coloured against the SLA", async () => {
    for (const c of report.clusters) {
      const expected = await availabilityByDay(h.db, c.id, 90, { now: NOW });
      expect(c.days.map(({ status: _s, ...d }) => d)).toEqual(expected);
    }
    const days = new Map(cluster(id.steady).days.map((d) => [d.day, d]));
    expect(days.get("2026-03-18")).toMatchObject({
      downtimeMs: 30 * MINUTE_MS,
      incidents: 1,
      status: "far_below", // 97.9 %: more than ten times the 0.1 % a day may lose
    });
    expect(days.get("2026-02-01")).toMatchObject({ downtimeMs: 2 * HOUR_MS, status: "far_below" });
    expect(days.get("2026-03-19")).toMatchObject({ availabilityPct: 100, status: "met" });
    expect(days.get("2026-03-20")).toMatchObject({ windowMs: 12 * HOUR_MS, status: "met" });
    expect(dayStatus(99.95, 99.9)).toBe("met");
    expect(dayStatus(99.9, 99.9)).toBe("met");
    expect(dayStatus(99.5, 99.9)).toBe("below");
    expect(dayStatus(98.9, 99.9)).toBe("far_below");
    expect(dayStatus(null, 99.9)).toBe("no_data");
  });

  it("lists outages newest first with their cause", () => {
    const c = cluster(id.steady);
    expect(c.incidentsTotal).toBe(2);
    expect(c.incidents).toEqual([
      {
        start: "2026-03-18T10:00:00.000Z",
        end: "2026-03-18T10:30:00.000Z",
        durationMs: 30 * MINUTE_MS,
        cause: "gte-b: suspect → failed (GPU lost)",
      },
      {
        start: "2026-02-01T00:00:00.000Z",
        end: "2026-02-01T02:00:00.000Z",
        durationMs: 2 * HOUR_MS,
        cause: "gte-a: suspect → failed (connection refused)",
      },
    ]);
    expect(c.firstRecordedAt).toBe("2025-11-01T00:00:00.000Z");
  });

  it("counts switchovers by kind and completion per window", () => {
    expect(win(id.steady, 7).failovers).toEqual({
      total: 1,
      completed: 1,
      byKind: [{ kind: "auto", total: 1, completed: 1 }],
    });
    expect(win(id.steady, 30).failovers).toEqual({
      total: 3,
      completed: 2,
      byKind: [
        { kind: "manual", total: 2, completed: 1 },
        { kind: "auto", total: 1, completed: 1 },
      ],
    });
    expect(win(id.steady, 90).failovers).toMatchObject({ total: 4, completed: 2 });
    expect(win(id.empty, 90).failovers).toEqual({ total: 0, completed: 0, byKind: [] });
  });

  it("no data is null, not 100 %: no budget, no MTTR, every day without data", () => {
    const c = cluster(id.empty);
    expect(c.firstRecordedAt).toBeNull();
    for (const w of c.windows) {
      expect(w).toMatchObject({
        availabilityPct: null,
        meetsSla: null,
        knownMs: 0,
        downtimeMs: 0,
        unknownMs: w.days * DAY_MS,
        errorBudgetMs: 0,
        errorBudgetRemainingPct: null,
        incidents: 0,
        mttrMs: null,
        mtbfMs: null,
      });
    }
    expect(new Set(c.days.map((d) => d.status))).toEqual(new Set(["no_data"]));
    expect(c.incidents).toEqual([]);
  });

  it("a cluster known for 3 days: the rest of the window is unknown, not up; the future is ignored", () => {
    const w = win(id.young, 7);
    expect(w).toMatchObject({
      availabilityPct: 100,
      knownMs: 3 * DAY_MS,
      unknownMs: 4 * DAY_MS,
      incidents: 0,
      meetsSla: true,
    });
    expect(w.errorBudgetMs).toBeCloseTo(0.005 * 3 * DAY_MS, 3);
    const days = cluster(id.young).days;
    expect(days.filter((d) => d.status === "no_data")).toHaveLength(86); // data on 17–20 March
    expect(days.find((d) => d.day === "2026-03-17")).toMatchObject({
      unknownMs: 12 * HOUR_MS,
      availabilityPct: 100,
    });
  });

  it("an ongoing outage has no end, lasts until now and has no MTTR yet", () => {
    const c = cluster(id.down);
    expect(c.incidents).toEqual([
      {
        start: "2026-03-20T11:40:00.000Z",
        end: null,
        durationMs: 20 * MINUTE_MS,
        cause: "llm-1: suspect → failed (timeout)",
      },
    ]);
    expect(win(id.down, 7)).toMatchObject({ downtimeMs: 20 * MINUTE_MS, incidents: 1, mttrMs: null });
  });

  it("limits the incident list but counts them all; one cluster on its own", async () => {
    const one = await buildAvailabilityReport(h.db, { now: NOW, clusterId: id.steady, maxIncidents: 1 });
    expect(one.clusters.map((c) => c.name)).toEqual(["a-steady"]);
    expect(one.clusters[0]?.incidents).toHaveLength(1);
    expect(one.clusters[0]?.incidentsTotal).toBe(2);
  });

  describe("CSV", () => {
    it("summary: a row per cluster and window with the figures in minutes", () => {
      const rows = csvRows(availabilityCsv(report, "summary"));
      expect(rows[0]).toEqual([
        "cluster",
        "sla_target_pct",
        "window_days",
        "from",
        "to",
        "availability_pct",
        "meets_sla",
        "known_minutes",
        "downtime_minutes",
        "unknown_minutes",
        "error_budget_minutes",
        "error_budget_remaining_minutes",
        "error_budget_remaining_pct",
        "incidents",
        "mttr_minutes",
        "mtbf_minutes",
        "failovers",
        "failovers_completed",
      ]);
      expect(rows).toHaveLength(1 + 5 * 3);
      const steady30 = rows.find((r) => r[0] === "a-steady" && r[2] === "30");
      expect(steady30).toEqual([
        "a-steady",
        "99.9",
        "30",
        "2026-02-18T12:00:00.000Z",
        "2026-03-20T12:00:00.000Z",
        "99.9306",
        "true",
        "43200",
        "30",
        "0",
        "43.2",
        "13.2",
        "30.56",
        "1",
        "30",
        "43170",
        "3",
        "2",
      ]);
      // Unknown is an empty cell, never 100.
      const empty7 = rows.find((r) => r[0] === "b-empty" && r[2] === "7");
      expect(empty7?.slice(5, 7)).toEqual(["", ""]);
      // A cluster name that a spreadsheet would evaluate is defused.
      expect(rows.filter((r) => r[0] === '\'=HYPERLINK("http://x")')).toHaveLength(3);
    });

    it("daily and incidents tables", () => {
      const daily = csvRows(availabilityCsv(report, "daily"));
      expect(daily[0]).toEqual([
        "cluster",
        "sla_target_pct",
        "day",
        "availability_pct",
        "status",
        "downtime_minutes",
        "unknown_minutes",
        "incidents",
      ]);
      expect(daily).toHaveLength(1 + 5 * 90);
      expect(daily.find((r) => r[0] === "a-steady" && r[2] === "2026-03-18")).toEqual([
        "a-steady",
        "99.9",
        "2026-03-18",
        "97.9167",
        "far_below",
        "30",
        "0",
        "1",
      ]);
      const incidents = csvRows(availabilityCsv(report, "incidents"));
      expect(incidents[0]).toEqual(["cluster", "start", "end", "duration_minutes", "ongoing", "cause"]);
      expect(incidents.find((r) => r[0] === "d-down")).toEqual([
        "d-down",
        "2026-03-20T11:40:00.000Z",
        "",
        "20",
        "true",
        "llm-1: suspect → failed (timeout)",
      ]);
      expect(incidents.find((r) => r[0]?.startsWith("'=HYPERLINK"))?.[5]).toBe("'@SUM(1)");
    });
  });

  describe("GET /api/v1/availability/report", () => {
    const call = (query: string, actor: Actor | null = VIEWER) =>
      runAsActor(actor, () =>
        getReport(
          new Request(`http://127.0.0.1/api/v1/availability/report${query ? `?${query}` : ""}`),
          NO_PARAMS,
        ),
      );

    it("answers the report as of now, for every cluster or one", async () => {
      const res = await call("");
      expect(res.status).toBe(200);
      const body = AvailabilityReportSchema.parse(await res.json());
      expect(body.clusters).toHaveLength(5);
      expect(Math.abs(Date.parse(body.generatedAt) - Date.now())).toBeLessThan(60_000);
      // Its data lies months before the real now: the figures it has are the recorded ones.
      const steady = body.clusters.find((c) => c.name === "a-steady");
      expect(steady?.firstRecordedAt).toBe("2025-11-01T00:00:00.000Z");
      const one = AvailabilityReportSchema.parse(await (await call("cluster=b-empty")).json());
      expect(one.clusters.map((c) => c.name)).toEqual(["b-empty"]);
      expect(one.clusters[0]?.windows.every((w) => w.availabilityPct === null)).toBe(true);
    });

    it("format=csv answers one table as a download", async () => {
      const res = await call("format=csv&table=daily&cluster=a-steady");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toMatch(
        /^attachment; filename="switchyard-availability-daily-\d{4}-\d\d-\d\d\.csv"$/,
      );
      const rows = csvRows(await res.text());
      expect(rows).toHaveLength(91);
      expect(rows[0]?.[2]).toBe("day");
    });

    it("400 for a bad format or table, 404 for an unknown cluster, 401 without a caller", async () => {
      for (const q of ["format=pdf", "format=csv&table=weekly"]) {
        const res = await call(q);
        expect(res.status, q).toBe(400);
        expect(ErrorSchema.parse(await res.json()).error).toBe("invalid_query");
      }
      expect((await call("cluster=nope")).status).toBe(404);
      expect((await call("", null)).status).toBe(401);
    });
  });
});
