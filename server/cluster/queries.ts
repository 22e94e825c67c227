// Read models for the cluster page (`/clusters/[name]`) and its two API routes: per-node chart series
// over a range, each node's latest probe and GPU readings (the topology's signals), and the
// cluster's event feed. Every function takes the database first and names the cluster by id or by
// name; an unknown cluster is `null` (the route answers 404, the page renders notFound()).
//
// Downsampling happens in SQL (server/history/series.ts): whatever the range, a series has at most
// MAX_SERIES_POINTS points, read from raw rows for short ranges and from the 1-minute / 1-hour
// rollups for long ones. The latest signals read each node's newest rows through the
// (node_id, time desc) indexes, bounded to the last 15 minutes so only the newest hourly
// partitions are touched: a node silent for longer has no current signals, and the page says so.
import { asc, desc, eq, sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { events, nodes } from "@/db/schema";
import { findClusterRef } from "@/server/api/clusters";
import { queryNodeSeries, SERIES_METRICS, type SeriesMetric } from "@/server/history/series";
import { tsParam } from "@/server/history/time";
import { describeNetworkError, oneLine } from "@/server/policy/format";
import {
  type ClusterSeriesRange,
  DEFAULT_EVENT_LIMIT,
  MAX_EVENT_LIMIT,
  MAX_SERIES_POINTS,
  SERIES_RANGE_MS,
} from "./ranges";
import type { ClusterEventList, ClusterSeries, NodeSeriesView, NodeSignals } from "./schemas";

/** How far back the "latest" signals look. */
export const LATEST_WINDOW_MS = 15 * 60_000;
/** GPU rows of one node read to find its newest tick: more than any node has GPUs. */
const LATEST_GPU_ROWS = 64;
/** Readings this close to a node's newest GPU row belong to the same tick. */
const GPU_TICK_SLACK_MS = 30_000;

export class ClusterQueryError extends Error {
  readonly code = "invalid_cluster_query" as const;
}

type ClusterNodeRef = { id: string; name: string };

type GpuRow = {
  node_id: string;
  t: number;
  gpu_index: number;
  utilization_pct: number | null;
  temperature_c: number | null;
  memory_used_mib: number | null;
  memory_total_mib: number | null;
  power_w: number | null;
  error: string | null;
};

async function clusterNodes(db: DbOrTx, clusterId: string): Promise<ClusterNodeRef[]> {
  return db
    .select({ id: nodes.id, name: nodes.name })
    .from(nodes)
    .where(eq(nodes.clusterId, clusterId))
    .orderBy(asc(nodes.priority), asc(nodes.name));
}

/**
 * Each node's newest probe and GPU readings in (now − 15 min, now]. A node whose newest GPU row is
 * a "telemetry lost" marker reads `lost`, with the marker's reason on one bounded line.
 */
export async function getLatestSignals(
  db: DbOrTx,
  nodeIds: readonly string[],
  now: Date = new Date(),
): Promise<Map<string, NodeSignals>> {
  const out = new Map<string, NodeSignals>();
  for (const id of nodeIds) {
    out.set(id, { heartbeat: null, gpu: { status: "none", at: null, reason: null, gpus: [] } });
  }
  if (nodeIds.length === 0) return out;
  const hi = now.getTime();
  if (!Number.isFinite(hi)) throw new ClusterQueryError("now is not a valid date");
  const lo = tsParam(hi - LATEST_WINDOW_MS);
  const top = tsParam(hi);
  const ids = sql`${sql.param([...nodeIds])}::text[]::uuid[]`;

  const [beats, gpuRows] = await Promise.all([
    db.execute<{
      node_id: string;
      t: number;
      tcp_ok: boolean;
      tcp_ms: number | null;
      http_ok: boolean;
      http_status: number | null;
      http_ms: number | null;
      reported_role: string | null;
      error: string | null;
    }>(sql`
      select n.id::text as node_id, h.*
      from unnest(${ids}) as n(id)
      cross join lateral (
        select (extract(epoch from time) * 1000)::float8 as t, tcp_ok, tcp_ms, http_ok, http_status,
          http_ms, reported_role, error
        from heartbeats
        where node_id = n.id and time > ${lo} and time <= ${top}
        order by time desc
        limit 1
      ) h`),
    db.execute<GpuRow>(sql`
      select n.id::text as node_id, g.*
      from unnest(${ids}) as n(id)
      cross join lateral (
        select (extract(epoch from time) * 1000)::float8 as t, gpu_index, utilization_pct, temperature_c,
          memory_used_mib, memory_total_mib, power_w, error
        from gpu_samples
        where node_id = n.id and time > ${lo} and time <= ${top}
        order by time desc
        limit ${LATEST_GPU_ROWS}
      ) g`),
  ]);

  for (const b of beats) {
    const signals = out.get(b.node_id);
    if (!signals) continue;
    signals.heartbeat = {
      at: new Date(b.t).toISOString(),
      tcpOk: b.tcp_ok,
      tcpMs: b.tcp_ms,
      httpOk: b.http_ok,
      httpStatus: b.http_status,
      httpMs: b.http_ms,
      reportedRole: b.reported_role,
      error: describeNetworkError(b.error),
    };
  }

  // Rows arrive newest first per node; the first row decides (reading or marker).
  const byNode = new Map<string, GpuRow[]>();
  for (const r of gpuRows) {
    const list = byNode.get(r.node_id);
    if (list) list.push(r);
    else byNode.set(r.node_id, [r]);
  }
  for (const [nodeId, rows] of byNode) {
    const signals = out.get(nodeId);
    const newest = rows[0];
    if (!signals || !newest) continue;
    if (newest.error !== null) {
      signals.gpu = {
        status: "lost",
        at: new Date(newest.t).toISOString(),
        reason: oneLine(newest.error),
        gpus: [],
      };
      continue;
    }
    const seen = new Set<number>();
    const gpus: NodeSignals["gpu"]["gpus"] = [];
    for (const r of rows) {
      if (r.error !== null || newest.t - r.t > GPU_TICK_SLACK_MS || seen.has(r.gpu_index)) continue;
      seen.add(r.gpu_index);
      gpus.push({
        index: r.gpu_index,
        utilizationPct: r.utilization_pct,
        temperatureC: r.temperature_c,
        memoryUsedMib: r.memory_used_mib,
        memoryTotalMib: r.memory_total_mib,
        powerW: r.power_w,
      });
    }
    gpus.sort((a, b) => a.index - b.index);
    signals.gpu = { status: "ok", at: new Date(newest.t).toISOString(), reason: null, gpus };
  }
  return out;
}

/**
 * The cluster's per-node series over `range` (ending at `now`), every metric at most `maxPoints`
 * points, with each node's latest signals. `null` when no cluster has that id or name.
 */
export async function getClusterSeries(
  db: DbOrTx,
  idOrName: string,
  range: ClusterSeriesRange,
  opts: { now?: Date; maxPoints?: number } = {},
): Promise<ClusterSeries | null> {
  const rangeMs = SERIES_RANGE_MS[range];
  if (rangeMs === undefined) throw new ClusterQueryError(`unknown range ${String(range)}`);
  const maxPoints = opts.maxPoints ?? MAX_SERIES_POINTS;
  const now = opts.now ?? new Date();
  if (!Number.isFinite(now.getTime())) throw new ClusterQueryError("now is not a valid date");
  const ref = await findClusterRef(db, idOrName);
  if (!ref) return null;
  const members = await clusterNodes(db, ref.id);
  const from = new Date(now.getTime() - rangeMs);

  const [latest, perNode] = await Promise.all([
    getLatestSignals(
      db,
      members.map((n) => n.id),
      now,
    ),
    Promise.all(
      members.map(async (n) => {
        const entries = await Promise.all(
          SERIES_METRICS.map(async (metric) => {
            const s = await queryNodeSeries(db, { nodeId: n.id, metric, from, to: now, maxPoints, now });
            const view: NodeSeriesView = { source: s.source, stepMs: s.stepMs, points: s.points };
            return [metric, view] as const;
          }),
        );
        return Object.fromEntries(entries) as Record<SeriesMetric, NodeSeriesView>;
      }),
    ),
  ]);

  return {
    clusterId: ref.id,
    clusterName: ref.name,
    range,
    from: from.toISOString(),
    to: now.toISOString(),
    maxPoints,
    nodes: members.map((n, i) => ({
      id: n.id,
      name: n.name,
      latest: latest.get(n.id) ?? {
        heartbeat: null,
        gpu: { status: "none", at: null, reason: null, gpus: [] },
      },
      // biome-ignore lint/style/noNonNullAssertion: one entry per member, built above
      series: perNode[i]!,
    })),
    generatedAt: new Date().toISOString(),
  };
}

/** The cluster's latest `limit` events, newest first, with the node each names. */
export async function listClusterEvents(
  db: DbOrTx,
  idOrName: string,
  limit: number = DEFAULT_EVENT_LIMIT,
): Promise<ClusterEventList | null> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENT_LIMIT) {
    throw new ClusterQueryError(`limit must be an integer 1..${MAX_EVENT_LIMIT}, got ${limit}`);
  }
  const ref = await findClusterRef(db, idOrName);
  if (!ref) return null;
  const rows = await db
    .select({
      id: events.id,
      at: events.at,
      kind: events.kind,
      severity: events.severity,
      message: events.message,
      nodeId: events.nodeId,
      nodeName: nodes.name,
      switchoverId: events.switchoverId,
    })
    .from(events)
    .leftJoin(nodes, eq(nodes.id, events.nodeId))
    .where(eq(events.clusterId, ref.id))
    .orderBy(desc(events.at), desc(events.id))
    .limit(limit);
  return {
    clusterId: ref.id,
    clusterName: ref.name,
    items: rows.map((r) => ({ ...r, at: r.at.toISOString(), nodeName: r.nodeName ?? null })),
  };
}
