// The availability report's contract (`GET /api/v1/availability/report`), as zod schemas: the report
// (report.ts) returns these types, the route validates its query with them, the OpenAPI document
// is derived from them (they register in the API's registry), and the tests parse real answers.
import { z } from "zod";
import { apiRegistry, ClusterModeSchema } from "@/server/api/schemas";

const isoTime = z.iso.datetime();

export const REPORT_WINDOWS = [7, 30, 90] as const;
export const HEATMAP_DAYS = 90;

export const DAY_STATUSES = ["met", "below", "far_below", "no_data"] as const;

export const AvailabilityReportQuerySchema = z.object({
  cluster: z.string().trim().min(1).max(200).optional().describe("Only this cluster (id or name)."),
  format: z
    .enum(["json", "csv"], { error: "format must be json or csv" })
    .default("json")
    .describe("`csv` answers a download of one table (see `table`)."),
  table: z
    .enum(["summary", "daily", "incidents"], { error: "table must be summary, daily or incidents" })
    .default("summary")
    .describe(
      "With `format=csv`: `summary` (a row per cluster and window), `daily` (a row per cluster and UTC day) or `incidents` (a row per outage).",
    ),
});

export const FailoverCountSchema = z.object({
  kind: z.string().describe("manual, auto, drill, rollback, eject, readmit or drain."),
  total: z.number().int().describe("Requested in the window."),
  completed: z.number().int(),
});

export const AvailabilityWindowSchema = z
  .object({
    days: z.number().int(),
    from: isoTime,
    to: isoTime,
    availabilityPct: z.number().nullable().describe("Over the known part of the window; null: no data yet."),
    meetsSla: z.boolean().nullable(),
    uptimeMs: z.number(),
    downtimeMs: z.number(),
    unknownMs: z.number().describe("Before the first recorded state: neither up nor down."),
    knownMs: z.number(),
    errorBudgetMs: z.number().describe("Downtime the SLA allows over the known time."),
    errorBudgetRemainingMs: z.number().describe("Negative when the budget is overspent."),
    errorBudgetRemainingPct: z
      .number()
      .nullable()
      .describe("Share of the budget left; null without a budget."),
    incidents: z.number().int().describe("Outages overlapping the window."),
    mttrMs: z.number().nullable().describe("Mean duration of the outages that ended in the window."),
    mtbfMs: z
      .number()
      .nullable()
      .describe("Available time divided by the outages that started in the window."),
    failovers: z.object({
      total: z.number().int(),
      completed: z.number().int(),
      byKind: z.array(FailoverCountSchema),
    }),
  })
  .register(apiRegistry, { id: "AvailabilityWindow" });

export const AvailabilityDaySchema = z
  .object({
    day: z.string().describe("UTC day, YYYY-MM-DD."),
    availabilityPct: z.number().nullable(),
    downtimeMs: z.number(),
    unknownMs: z.number(),
    windowMs: z.number().describe("A full day, except today (up to now)."),
    incidents: z.number().int().describe("Outages that started that day."),
    status: z
      .enum(DAY_STATUSES)
      .describe("met: at or above the SLA; below; far_below: more than ten times the downtime it allows."),
  })
  .register(apiRegistry, { id: "AvailabilityDay" });

export const AvailabilityIncidentSchema = z
  .object({
    start: isoTime,
    end: isoTime.nullable().describe("null while it lasts."),
    durationMs: z.number().describe("Up to now for an ongoing outage."),
    cause: z.string().nullable().describe("What the controller recorded when the endpoint went down."),
  })
  .register(apiRegistry, { id: "AvailabilityIncident" });

export const ClusterAvailabilityReportSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    mode: ClusterModeSchema,
    slaTargetPct: z.number(),
    firstRecordedAt: isoTime.nullable().describe("The first recorded state ever; null: no data yet."),
    windows: z.array(AvailabilityWindowSchema).describe("7, 30 and 90 days up to now."),
    days: z.array(AvailabilityDaySchema).describe("The last 90 UTC days, oldest first."),
    incidents: z.array(AvailabilityIncidentSchema).describe("Outages in the last 90 days, newest first."),
    incidentsTotal: z.number().int().describe("How many there were (the list may be cut)."),
  })
  .register(apiRegistry, { id: "ClusterAvailabilityReport" });

export const AvailabilityReportSchema = z
  .object({
    generatedAt: isoTime,
    windows: z.array(z.number().int()),
    heatmapDays: z.number().int(),
    clusters: z.array(ClusterAvailabilityReportSchema),
  })
  .register(apiRegistry, {
    id: "AvailabilityReport",
    description: "The managers' availability report: every cluster against its SLA over 7, 30 and 90 days.",
  });

export type AvailabilityWindow = z.infer<typeof AvailabilityWindowSchema>;
export type AvailabilityDay = z.infer<typeof AvailabilityDaySchema>;
export type AvailabilityIncident = z.infer<typeof AvailabilityIncidentSchema>;
export type ClusterAvailabilityReport = z.infer<typeof ClusterAvailabilityReportSchema>;
export type AvailabilityReport = z.infer<typeof AvailabilityReportSchema>;
export type DayStatus = (typeof DAY_STATUSES)[number];
