// The availability report as CSV, one table at a time (the report page's exports and
// `GET /api/v1/availability/report?format=csv&table=…`): summary (a row per cluster and window),
// daily (a row per cluster and UTC day) or incidents (a row per outage). Durations are minutes
// with two decimals; an unknown percentage is an empty cell, never 100. Cells go through the
// audit export's quoting, formula guard included (cluster names and causes are user/node text).
import { csvLine } from "@/server/audit/queries";
import type { AvailabilityReport } from "./schemas";

export type AvailabilityCsvTable = "summary" | "daily" | "incidents";

const minutes = (ms: number | null) => (ms === null ? null : Math.round((ms / 60_000) * 100) / 100);
const pct = (p: number | null) => (p === null ? null : Math.round(p * 10_000) / 10_000);

export function availabilityCsv(report: AvailabilityReport, table: AvailabilityCsvTable): string {
  const lines: string[] = [];
  if (table === "summary") {
    lines.push(
      csvLine([
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
      ]),
    );
    for (const c of report.clusters) {
      for (const w of c.windows) {
        lines.push(
          csvLine([
            c.name,
            c.slaTargetPct,
            w.days,
            w.from,
            w.to,
            pct(w.availabilityPct),
            w.meetsSla,
            minutes(w.knownMs),
            minutes(w.downtimeMs),
            minutes(w.unknownMs),
            minutes(w.errorBudgetMs),
            minutes(w.errorBudgetRemainingMs),
            w.errorBudgetRemainingPct === null ? null : Math.round(w.errorBudgetRemainingPct * 100) / 100,
            w.incidents,
            minutes(w.mttrMs),
            minutes(w.mtbfMs),
            w.failovers.total,
            w.failovers.completed,
          ]),
        );
      }
    }
  } else if (table === "daily") {
    lines.push(
      csvLine([
        "cluster",
        "sla_target_pct",
        "day",
        "availability_pct",
        "status",
        "downtime_minutes",
        "unknown_minutes",
        "incidents",
      ]),
    );
    for (const c of report.clusters) {
      for (const d of c.days) {
        lines.push(
          csvLine([
            c.name,
            c.slaTargetPct,
            d.day,
            pct(d.availabilityPct),
            d.status,
            minutes(d.downtimeMs),
            minutes(d.unknownMs),
            d.incidents,
          ]),
        );
      }
    }
  } else {
    lines.push(csvLine(["cluster", "start", "end", "duration_minutes", "ongoing", "cause"]));
    for (const c of report.clusters) {
      for (const i of c.incidents) {
        lines.push(csvLine([c.name, i.start, i.end, minutes(i.durationMs), i.end === null, i.cause]));
      }
    }
  }
  return lines.join("");
}
