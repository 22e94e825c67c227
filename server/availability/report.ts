// The availability report managers read (the /availability page, its CSV export and
// `GET /api/v1/availability/report`): per cluster, availability over the last 7, 30 and 90 days
// against its SLA, the error budget and what is left of it, outages with MTTR and MTBF, one cell per
// UTC day for a heatmap, and how many switchovers of each kind ran.
//
// Every figure comes from the history module's interval arithmetic (`computeAvailability` in
// server/history/availability.ts): time is up or down between recorded flips, never a ratio of
// samples, and time before a cluster's first recorded state is unknown. A window with no known
// time has no percentage ("no data yet"), never a made-up 100 %. The error budget is taken over
// the known time, as in `GET /api/v1/availability`.
//
// The whole report costs a fixed number of queries whatever the fleet size: the clusters, the
// last state of each before the 90-day window, every flip inside it, each cluster's first flip
// ever, and switchover counts; the windows and days are then computed in memory.
import { and, asc, desc, eq, gte, inArray, lt, min, sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { clusterAvailabilityChanges, clusters, switchovers } from "@/db/schema";
import { type AvailabilityChange, computeAvailability, DAY_MS } from "@/server/history";
import {
  type AvailabilityDay,
  type AvailabilityIncident,
  type AvailabilityReport,
  type AvailabilityWindow,
  type ClusterAvailabilityReport,
  type DayStatus,
  HEATMAP_DAYS,
  REPORT_WINDOWS,
} from "./schemas";

/** Incidents listed per cluster in the JSON report (newest first); `incidentsTotal` has the count. */
export const REPORT_MAX_INCIDENTS = 100;

type Change = AvailabilityChange & { reason: string };

/**
 * How a day compares with the SLA: met; below it; far below (more than ten times the downtime the
 * SLA allows, e.g. under 99.9 % against 99.99 %); or no data.
 */
export function dayStatus(availabilityPct: number | null, slaTargetPct: number): DayStatus {
  if (availabilityPct === null) return "no_data";
  if (availabilityPct >= slaTargetPct) return "met";
  const allowed = 100 - slaTargetPct;
  return 100 - availabilityPct > 10 * allowed ? "far_below" : "below";
}

/** The figures for [from, to) from the last change before `from` and every change after it. */
function windowOf(
  prior: Change | null,
  changes: Change[],
  fromMs: number,
  toMs: number,
): { prior: Change | null; inside: Change[] } {
  let p = prior;
  const inside: Change[] = [];
  for (const c of changes) {
    const t = c.at.getTime();
    if (t < fromMs) p = c;
    else if (t < toMs) inside.push(c);
  }
  return { prior: p, inside };
}

type FailoverRow = { clusterId: string; kind: string; state: string; requestedAt: Date };

function countFailovers(rows: FailoverRow[], fromMs: number): AvailabilityWindow["failovers"] {
  const byKind = new Map<string, { total: number; completed: number }>();
  for (const r of rows) {
    if (r.requestedAt.getTime() < fromMs) continue;
    const k = byKind.get(r.kind) ?? { total: 0, completed: 0 };
    k.total += 1;
    if (r.state === "completed") k.completed += 1;
    byKind.set(r.kind, k);
  }
  const list = [...byKind.entries()]
    .map(([kind, v]) => ({ kind, ...v }))
    .sort((a, b) => b.total - a.total || a.kind.localeCompare(b.kind));
  return {
    total: list.reduce((s, k) => s + k.total, 0),
    completed: list.reduce((s, k) => s + k.completed, 0),
    byKind: list,
  };
}

/** Pure: one cluster's report from its flips (the last before the 90-day window, then those in it). */
export function computeClusterReport(
  cluster: Pick<ClusterAvailabilityReport, "id" | "name" | "mode" | "slaTargetPct">,
  input: {
    prior: Change | null;
    changes: Change[];
    firstRecordedAt: Date | null;
    failovers: FailoverRow[];
    now: Date;
    maxIncidents?: number;
  },
): ClusterAvailabilityReport {
  const now = input.now.getTime();
  const sla = cluster.slaTargetPct;

  const windows: AvailabilityWindow[] = REPORT_WINDOWS.map((days) => {
    const fromMs = now - days * DAY_MS;
    const { prior, inside } = windowOf(input.prior, input.changes, fromMs, now);
    const r = computeAvailability(prior, inside, new Date(fromMs), new Date(now));
    const knownMs = r.uptimeMs + r.downtimeMs;
    const budget = ((100 - sla) / 100) * knownMs;
    const remaining = budget - r.downtimeMs;
    return {
      days,
      from: r.from,
      to: r.to,
      availabilityPct: r.availabilityPct,
      meetsSla: r.availabilityPct === null ? null : r.availabilityPct >= sla,
      uptimeMs: r.uptimeMs,
      downtimeMs: r.downtimeMs,
      unknownMs: r.unknownMs,
      knownMs,
      errorBudgetMs: budget,
      errorBudgetRemainingMs: remaining,
      errorBudgetRemainingPct: budget > 0 ? (remaining / budget) * 100 : null,
      incidents: r.incidents.length,
      mttrMs: r.mttrMs,
      mtbfMs: r.mtbfMs,
      failovers: countFailovers(input.failovers, fromMs),
    };
  });

  // One cell per UTC day, oldest first, today up to now (as availabilityByDay computes them).
  const days: AvailabilityDay[] = [];
  const firstDay = Math.floor(now / DAY_MS) * DAY_MS - (HEATMAP_DAYS - 1) * DAY_MS;
  for (let d = firstDay; d <= now && days.length < HEATMAP_DAYS; d += DAY_MS) {
    const end = Math.min(d + DAY_MS, now);
    const { prior, inside } = windowOf(input.prior, input.changes, d, d + DAY_MS);
    const r = computeAvailability(prior, inside, new Date(d), new Date(end));
    days.push({
      day: new Date(d).toISOString().slice(0, 10),
      availabilityPct: r.availabilityPct,
      downtimeMs: r.downtimeMs,
      unknownMs: r.unknownMs,
      windowMs: r.windowMs,
      incidents: r.incidents.filter((x) => Date.parse(x.start) >= d).length,
      status: dayStatus(r.availabilityPct, sla),
    });
  }

  // Outages over the longest window, newest first, with what the controller said at the time.
  const longest = REPORT_WINDOWS[REPORT_WINDOWS.length - 1] ?? HEATMAP_DAYS;
  const fromMs = now - longest * DAY_MS;
  const { prior, inside } = windowOf(input.prior, input.changes, fromMs, now);
  const all = computeAvailability(prior, inside, new Date(fromMs), new Date(now)).incidents;
  const causes = new Map<number, string>();
  for (const c of [...(prior ? [prior] : []), ...inside]) {
    if (!c.available && !causes.has(c.at.getTime())) causes.set(c.at.getTime(), c.reason);
  }
  const incidents: AvailabilityIncident[] = all
    .slice()
    .reverse()
    .slice(0, input.maxIncidents ?? REPORT_MAX_INCIDENTS)
    .map((i) => ({ ...i, cause: causes.get(Date.parse(i.start)) ?? null }));

  return {
    id: cluster.id,
    name: cluster.name,
    mode: cluster.mode,
    slaTargetPct: sla,
    firstRecordedAt: input.firstRecordedAt?.toISOString() ?? null,
    windows,
    days,
    incidents,
    incidentsTotal: all.length,
  };
}

/**
 * The report for every cluster (or one), by name, as of `now` (default: the current time).
 * `maxIncidents` bounds each cluster's incident list (default REPORT_MAX_INCIDENTS).
 */
export async function buildAvailabilityReport(
  db: DbOrTx,
  opts: { now?: Date; clusterId?: string; maxIncidents?: number } = {},
): Promise<AvailabilityReport> {
  const now = opts.now ?? new Date();
  const nowMs = now.getTime();
  if (!Number.isFinite(nowMs)) throw new RangeError("now is not a valid date");
  const longest = Math.max(...REPORT_WINDOWS, HEATMAP_DAYS);
  // The earliest instant any figure needs: the longest window, or the first heatmap day's start.
  const earliest = Math.min(
    nowMs - longest * DAY_MS,
    Math.floor(nowMs / DAY_MS) * DAY_MS - (HEATMAP_DAYS - 1) * DAY_MS,
  );
  const list = await db
    .select({
      id: clusters.id,
      name: clusters.name,
      mode: clusters.mode,
      slaTargetPct: clusters.slaTargetPct,
    })
    .from(clusters)
    .where(opts.clusterId ? eq(clusters.id, opts.clusterId) : undefined)
    .orderBy(asc(clusters.name));
  const report: AvailabilityReport = {
    generatedAt: now.toISOString(),
    windows: [...REPORT_WINDOWS],
    heatmapDays: HEATMAP_DAYS,
    clusters: [],
  };
  if (list.length === 0) return report;
  const ids = list.map((c) => c.id);
  const t = clusterAvailabilityChanges;
  const from = new Date(earliest);

  const [priors, changes, firsts, failovers] = await Promise.all([
    db
      .selectDistinctOn([t.clusterId], {
        clusterId: t.clusterId,
        at: t.at,
        available: t.available,
        reason: t.reason,
      })
      .from(t)
      .where(and(inArray(t.clusterId, ids), lt(t.at, from)))
      .orderBy(t.clusterId, desc(t.at), desc(t.id)),
    db
      .select({ clusterId: t.clusterId, at: t.at, available: t.available, reason: t.reason })
      .from(t)
      .where(and(inArray(t.clusterId, ids), gte(t.at, from), lt(t.at, now)))
      .orderBy(asc(t.clusterId), asc(t.at), asc(t.id)),
    db
      .select({ clusterId: t.clusterId, first: min(t.at) })
      .from(t)
      .where(inArray(t.clusterId, ids))
      .groupBy(t.clusterId),
    db
      .select({
        clusterId: switchovers.clusterId,
        kind: sql<string>`${switchovers.kind}::text`,
        state: sql<string>`${switchovers.state}::text`,
        requestedAt: switchovers.requestedAt,
      })
      .from(switchovers)
      .where(
        and(
          inArray(switchovers.clusterId, ids),
          gte(switchovers.requestedAt, new Date(nowMs - longest * DAY_MS)),
          lt(switchovers.requestedAt, now),
        ),
      ),
  ]);

  const group = <T extends { clusterId: string }>(rows: T[]) => {
    const m = new Map<string, T[]>();
    for (const r of rows) {
      const l = m.get(r.clusterId);
      if (l) l.push(r);
      else m.set(r.clusterId, [r]);
    }
    return m;
  };
  const priorBy = new Map(priors.map((p) => [p.clusterId, p]));
  const changesBy = group(changes);
  const firstBy = new Map(firsts.map((f) => [f.clusterId, f.first]));
  const failoversBy = group(failovers);

  for (const c of list) {
    report.clusters.push(
      computeClusterReport(c, {
        prior: priorBy.get(c.id) ?? null,
        changes: changesBy.get(c.id) ?? [],
        firstRecordedAt: firstBy.get(c.id) ?? null,
        failovers: failoversBy.get(c.id) ?? [],
        now,
        maxIncidents: opts.maxIncidents,
      }),
    );
  }
  return report;
}
