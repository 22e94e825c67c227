// Availability of a cluster endpoint = the share of time it had a healthy active node, computed from
// the intervals between rows of `cluster_availability_changes` (one row per flip), never from
// counting samples: a changed probe interval, a batch lost in a controller failover or a sampling
// gap must not move an SLA figure.
//
// The state at `from` is the last change before it. Time before the first change ever recorded is
// *unknown*, not "up": it is reported as `unknownMs` and left out of the percentage, and a window
// with no known time at all has `availabilityPct: null` — a report must not invent 100 %.
//
// Incidents are maximal "unavailable" intervals overlapping the window. `start` is the real start
// (it may precede `from`), `end` is null while the endpoint was still down at the window's end, and
// `durationMs` is the real duration (up to the window's end for open incidents). `downtimeMs` only
// counts time inside the window. MTTR is the mean duration of the incidents that ended inside the
// window; MTBF is the available time in the window divided by the incidents that started in it.
//
// Shapes are plain JSON (ISO strings, milliseconds): they go straight to the report page and API.
import { and, asc, desc, eq, gte, lt, sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { clusterAvailabilityChanges } from "@/db/schema";
import type { Fence } from "./ingest";
import { DAY_MS, floorTo, ms } from "./time";

export type AvailabilityChange = { at: Date; available: boolean };

export type Incident = { start: string; end: string | null; durationMs: number };

export type AvailabilityReport = {
  from: string;
  to: string;
  /** 0–100 over the known part of the window; null when nothing in the window is known. */
  availabilityPct: number | null;
  downtimeMs: number;
  uptimeMs: number;
  unknownMs: number;
  windowMs: number;
  incidents: Incident[];
  mttrMs: number | null;
  mtbfMs: number | null;
};

export class AvailabilityInputError extends Error {
  readonly code = "invalid_availability_query" as const;
}

/**
 * Pure: the report for [from, to) given the last change before `from` (or null: unknown before the
 * first change) and the changes inside the window, in time order.
 */
export function computeAvailability(
  prior: AvailabilityChange | null,
  changes: AvailabilityChange[],
  from: Date,
  to: Date,
): AvailabilityReport {
  const lo = ms(from, "from");
  const hi = Math.max(lo, ms(to, "to"));
  let state: boolean | null = prior ? prior.available : null;
  let cursor = lo;
  let up = 0;
  let down = 0;
  let unknown = 0;
  const incidents: Array<{ start: number; end: number | null }> = [];
  let open: { start: number; end: number | null } | null =
    prior && !prior.available ? { start: ms(prior.at), end: null } : null;

  const advance = (until: number) => {
    const span = Math.max(0, Math.min(until, hi) - cursor);
    if (state === null) unknown += span;
    else if (state) up += span;
    else down += span;
    cursor = Math.max(cursor, Math.min(until, hi));
  };

  for (const c of changes) {
    const at = ms(c.at, "change time");
    if (at >= hi) break;
    advance(Math.max(at, lo));
    if (c.available === state) continue;
    if (!c.available) {
      open = { start: at, end: null };
    } else if (open) {
      open.end = at;
      incidents.push(open);
      open = null;
    }
    state = c.available;
  }
  advance(hi);
  if (open) incidents.push(open);

  const known = up + down;
  const resolved = incidents.filter((i) => i.end !== null);
  const startedInWindow = incidents.filter((i) => i.start >= lo).length;
  const out = incidents.map((i) => ({
    start: new Date(i.start).toISOString(),
    end: i.end === null ? null : new Date(i.end).toISOString(),
    durationMs: (i.end ?? hi) - i.start,
  }));
  return {
    from: new Date(lo).toISOString(),
    to: new Date(hi).toISOString(),
    availabilityPct: known > 0 ? (up / known) * 100 : null,
    downtimeMs: down,
    uptimeMs: up,
    unknownMs: unknown,
    windowMs: hi - lo,
    incidents: out,
    mttrMs:
      resolved.length > 0
        ? resolved.reduce((s, i) => s + ((i.end ?? 0) - i.start), 0) / resolved.length
        : null,
    mtbfMs: startedInWindow > 0 ? up / startedInWindow : null,
  };
}

async function loadChanges(db: DbOrTx, clusterId: string, from: number, to: number) {
  const t = clusterAvailabilityChanges;
  const cols = { at: t.at, available: t.available };
  const [prior] = await db
    .select(cols)
    .from(t)
    .where(and(eq(t.clusterId, clusterId), lt(t.at, new Date(from))))
    .orderBy(desc(t.at), desc(t.id))
    .limit(1);
  const changes = await db
    .select(cols)
    .from(t)
    .where(and(eq(t.clusterId, clusterId), gte(t.at, new Date(from)), lt(t.at, new Date(to))))
    .orderBy(asc(t.at), asc(t.id));
  return { prior: prior ?? null, changes };
}

/**
 * Availability of `clusterId` over [from, to). The end is clamped to `opts.now` (default: the
 * current time): the future is not available time.
 */
export async function clusterAvailability(
  db: DbOrTx,
  clusterId: string,
  from: Date,
  to: Date,
  opts: { now?: Date } = {},
): Promise<AvailabilityReport> {
  const lo = ms(from, "from");
  const hi = Math.max(lo, Math.min(ms(to, "to"), ms(opts.now ?? new Date(), "now")));
  const { prior, changes } = await loadChanges(db, clusterId, lo, hi);
  return computeAvailability(prior, changes, new Date(lo), new Date(hi));
}

export type DayAvailability = {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  availabilityPct: number | null;
  downtimeMs: number;
  unknownMs: number;
  windowMs: number;
  /** Incidents that started that day. */
  incidents: number;
};

/**
 * One entry per UTC day for the last `days` days, oldest first, today included (up to `now`).
 * One pair of queries for the whole range, then computed per day.
 */
export async function availabilityByDay(
  db: DbOrTx,
  clusterId: string,
  days: number,
  opts: { now?: Date } = {},
): Promise<DayAvailability[]> {
  if (!Number.isInteger(days) || days < 1 || days > 1000) {
    throw new AvailabilityInputError(`days must be an integer 1..1000, got ${days}`);
  }
  const now = ms(opts.now ?? new Date(), "now");
  const first = floorTo(now, DAY_MS) - (days - 1) * DAY_MS;
  const { prior, changes } = await loadChanges(db, clusterId, first, now);
  const out: DayAvailability[] = [];
  let before: AvailabilityChange | null = prior;
  let i = 0;
  for (let d = first; d <= now && out.length < days; d += DAY_MS) {
    const end = Math.min(d + DAY_MS, now);
    const inDay: AvailabilityChange[] = [];
    while (i < changes.length && (changes[i]?.at.getTime() ?? Number.POSITIVE_INFINITY) < d + DAY_MS) {
      inDay.push(changes[i] as AvailabilityChange);
      i++;
    }
    const r = computeAvailability(before, inDay, new Date(d), new Date(end));
    out.push({
      day: new Date(d).toISOString().slice(0, 10),
      availabilityPct: r.availabilityPct,
      downtimeMs: r.downtimeMs,
      unknownMs: r.unknownMs,
      windowMs: r.windowMs,
      incidents: r.incidents.filter((x) => Date.parse(x.start) >= d).length,
    });
    before = inDay.at(-1) ?? before;
  }
  return out;
}

/**
 * Records a flip of the cluster endpoint's availability, fenced by the controller's epoch and
 * deduplicated: nothing is written when the latest recorded state already equals `available`.
 * One statement.
 */
export async function recordAvailabilityChange(
  db: DbOrTx,
  change: { clusterId: string; at: Date; available: boolean; reason: string },
  fence: Fence,
): Promise<{ recorded: boolean; fenced: boolean }> {
  const at = new Date(ms(change.at, "at")).toISOString();
  const t = clusterAvailabilityChanges;
  const [row] = await db.execute<{ lease_ok: boolean; recorded: number }>(sql`
    with lease as (
      select 1 from controller_lease where name = ${fence.leaseName} and epoch = ${fence.epoch}::bigint for share
    ), ins as (
      insert into ${t} (cluster_id, at, available, reason, controller_epoch)
      select ${change.clusterId}::uuid, ${at}::timestamptz, ${change.available}::boolean, ${change.reason}, ${fence.epoch}::bigint
      where exists (select 1 from lease)
        and ${change.available}::boolean is distinct from (
          select available from ${t} where cluster_id = ${change.clusterId}::uuid order by at desc, id desc limit 1)
      returning 1
    )
    select exists (select 1 from lease) as lease_ok, (select count(*) from ins)::int as recorded`);
  return { recorded: (row?.recorded ?? 0) > 0, fenced: !row?.lease_ok };
}
