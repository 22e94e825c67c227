// The cluster page's API contract (`GET /api/v1/clusters/{id}/series` and `/events`), written once
// as zod schemas: the route handlers validate their query strings with them, the read models in
// queries.ts return their types, the OpenAPI document (server/api/openapi.ts) is derived from them,
// and the tests parse real answers with them. Plain JSON only: ISO 8601 times, epoch milliseconds
// for chart points (what a time axis wants), no secrets.
import { z } from "zod";
import { apiRegistry } from "@/server/api/schemas";
import { CLUSTER_SERIES_RANGES, DEFAULT_EVENT_LIMIT, DEFAULT_SERIES_RANGE, MAX_EVENT_LIMIT } from "./ranges";

const isoTime = z.iso.datetime();
const uuid = z.uuid();

// --- query strings -------------------------------------------------------------------------------

export const ClusterSeriesQuerySchema = z.object({
  range: z
    .enum(CLUSTER_SERIES_RANGES, { error: `range must be one of ${CLUSTER_SERIES_RANGES.join(", ")}` })
    .default(DEFAULT_SERIES_RANGE)
    .describe("The window, ending now. Each series has at most 500 points whatever the range."),
});

export const ClusterEventsQuerySchema = z.object({
  limit: z.coerce
    .number({ error: "limit must be a number" })
    .int({ error: "limit must be a whole number" })
    .min(1, { error: "limit must be at least 1" })
    .max(MAX_EVENT_LIMIT, { error: `limit must be at most ${MAX_EVENT_LIMIT}` })
    .default(DEFAULT_EVENT_LIMIT)
    .describe("How many events, newest first."),
});

// --- series --------------------------------------------------------------------------------------

export const SeriesPointSchema = z.object({
  t: z.number().describe("Start of the bin, epoch milliseconds (UTC)."),
  value: z.number().nullable().describe("Latency: median of successful probes; GPU metrics: mean."),
  max: z.number().nullable().describe("The bin's maximum."),
});

export const NodeSeriesSchema = z
  .object({
    source: z.enum(["raw", "1m", "1h"]).describe("Raw rows, or the 1-minute / 1-hour rollups."),
    stepMs: z.number().int().describe("Bin width; bins without data are omitted (a gap)."),
    points: z.array(SeriesPointSchema),
  })
  .register(apiRegistry, { id: "NodeSeries", description: "One metric of one node, downsampled." });

export const LatestHeartbeatSchema = z.object({
  at: isoTime,
  tcpOk: z.boolean(),
  tcpMs: z.number().nullable(),
  httpOk: z.boolean(),
  httpStatus: z.number().int().nullable(),
  httpMs: z.number().nullable(),
  reportedRole: z.string().nullable().describe("What /health said the node's role is."),
  error: z.string().nullable().describe("Why the probe failed, in a few words."),
});

export const GpuReadingSchema = z.object({
  index: z.number().int(),
  utilizationPct: z.number().nullable(),
  temperatureC: z.number().nullable(),
  memoryUsedMib: z.number().nullable(),
  memoryTotalMib: z.number().nullable(),
  powerW: z.number().nullable(),
});

export const NodeSignalsSchema = z
  .object({
    heartbeat: LatestHeartbeatSchema.nullable().describe("The latest probe in the last 15 minutes."),
    gpu: z.object({
      status: z
        .enum(["ok", "lost", "none"])
        .describe(
          "ok: readings; lost: the latest sample is a telemetry-lost marker; none: no sample in 15 min.",
        ),
      at: isoTime.nullable(),
      reason: z.string().nullable().describe("Why telemetry was lost."),
      gpus: z.array(GpuReadingSchema),
    }),
  })
  .register(apiRegistry, { id: "NodeSignals", description: "A node's latest probe and GPU readings." });

export const ClusterSeriesSchema = z
  .object({
    clusterId: uuid,
    clusterName: z.string(),
    range: z.enum(CLUSTER_SERIES_RANGES),
    from: isoTime,
    to: isoTime,
    maxPoints: z.number().int(),
    nodes: z.array(
      z.object({
        id: uuid,
        name: z.string(),
        latest: NodeSignalsSchema,
        series: z.object({
          latency: NodeSeriesSchema.describe("HTTP /health latency, ms."),
          gpu_util: NodeSeriesSchema.describe("GPU utilisation, %, across the node's GPUs."),
          gpu_temp: NodeSeriesSchema.describe("GPU temperature, °C."),
          gpu_mem: NodeSeriesSchema.describe("GPU memory used, MiB."),
          gpu_power: NodeSeriesSchema.describe("GPU power draw, W."),
        }),
      }),
    ),
    generatedAt: isoTime,
  })
  .register(apiRegistry, {
    id: "ClusterSeries",
    description: "Per-node health latency and GPU series for a cluster, at most `maxPoints` points each.",
  });
export type ClusterSeries = z.infer<typeof ClusterSeriesSchema>;
export type ClusterSeriesNode = ClusterSeries["nodes"][number];
export type NodeSignals = z.infer<typeof NodeSignalsSchema>;
export type NodeSeriesView = z.infer<typeof NodeSeriesSchema>;

// --- events --------------------------------------------------------------------------------------

export const ClusterEventSchema = z
  .object({
    id: z.number().int(),
    at: isoTime,
    kind: z.string().describe("e.g. `node.state`, `switchover.completed`, `alert.firing`."),
    severity: z.enum(["info", "warning", "critical"]),
    message: z.string(),
    nodeId: uuid.nullable(),
    nodeName: z.string().nullable(),
    switchoverId: uuid.nullable(),
  })
  .register(apiRegistry, { id: "ClusterEvent" });
export type ClusterEvent = z.infer<typeof ClusterEventSchema>;

export const ClusterEventListSchema = z
  .object({ clusterId: uuid, clusterName: z.string(), items: z.array(ClusterEventSchema) })
  .register(apiRegistry, { id: "ClusterEventList", description: "A cluster's events, newest first." });
export type ClusterEventList = z.infer<typeof ClusterEventListSchema>;
