// Availability per cluster against its SLA over the last 7, 30 or 90 days, for the REST API.
// The figures come from the history module (state intervals, never sample counts); here they are
// only converted to minutes and set against the SLA's error budget. The budget is computed over
// the *known* part of the window: time before the first recorded state is neither up nor down.
import { asc, eq } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { clusters } from "@/db/schema";
import { clusterAvailability, DAY_MS } from "@/server/history";
import type { AvailabilityView } from "./schemas";

const MINUTE_MS = 60_000;
const minutes = (ms: number) => Math.round((ms / MINUTE_MS) * 100) / 100;

export async function availabilityReport(
  db: DbOrTx,
  opts: { days: number; clusterId?: string; now?: Date },
): Promise<AvailabilityView> {
  const to = opts.now ?? new Date();
  const from = new Date(to.getTime() - opts.days * DAY_MS);
  const rows = await db
    .select({ id: clusters.id, name: clusters.name, slaTargetPct: clusters.slaTargetPct })
    .from(clusters)
    .where(opts.clusterId ? eq(clusters.id, opts.clusterId) : undefined)
    .orderBy(asc(clusters.name));
  const out: AvailabilityView["clusters"] = [];
  for (const c of rows) {
    const r = await clusterAvailability(db, c.id, from, to, { now: to });
    const knownMs = r.uptimeMs + r.downtimeMs;
    const budgetMs = ((100 - c.slaTargetPct) / 100) * knownMs;
    out.push({
      id: c.id,
      name: c.name,
      slaTargetPct: c.slaTargetPct,
      availabilityPct: r.availabilityPct,
      meetsSla: r.availabilityPct === null ? null : r.availabilityPct >= c.slaTargetPct,
      downtimeMinutes: minutes(r.downtimeMs),
      unknownMinutes: minutes(r.unknownMs),
      errorBudgetMinutes: minutes(budgetMs),
      errorBudgetRemainingMinutes: minutes(budgetMs - r.downtimeMs),
      incidents: r.incidents.length,
      mttrMinutes: r.mttrMs === null ? null : minutes(r.mttrMs),
    });
  }
  return { days: opts.days, from: from.toISOString(), to: to.toISOString(), clusters: out };
}
