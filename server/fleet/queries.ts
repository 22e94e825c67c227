// Read models for the fleet overview. Shapes here are what the UI and the REST API return, so
// they are plain JSON (ISO strings, no Date objects) and carry no secrets (no credential ids).
//
// The overview is re-read whenever a live event arrives (components/live/live-events.tsx), so it is
// built from a fixed number of set-based queries whatever the fleet size — never one query per
// cluster: clusters and nodes, 30-day availability changes, open alerts, in-flight switchovers and
// the latest three switchovers of each cluster (a lateral join on the (cluster, requested_at) index).
import { and, asc, desc, eq, gte, inArray, isNull, lt, notInArray, sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import {
  alerts,
  clusterAvailabilityChanges,
  clusters,
  nodes,
  switchovers,
  TERMINAL_SWITCHOVER_STATES,
} from "@/db/schema";
import { type AvailabilityChange, computeAvailability } from "@/server/history/availability";
import { DAY_MS } from "@/server/history/time";

export type FleetNode = {
  id: string;
  name: string;
  host: string;
  servicePort: number;
  role: "primary" | "standby" | "member";
  state: "unknown" | "healthy" | "suspect" | "failed" | "recovering";
  reportedRole: string | null;
  priority: number;
  weight: number;
  maintenance: boolean;
  hostKeyPinned: boolean;
  stateChangedAt: string;
  lastSeenAt: string | null;
};

/** What an operator reads first. `failing_over` = a switchover in flight; `frozen` = maintenance or a freeze. */
export type FleetClusterStatus = "healthy" | "degraded" | "down" | "failing_over" | "frozen" | "unknown";

export type ClusterAvailability = {
  /** Over the known part of the window; null when nothing is known yet (never a made-up 100 %). */
  pct: number | null;
  targetPct: number;
  windowDays: number;
  /** Time inside the window with a recorded state (the rest predates the first record). */
  knownMs: number;
  downtimeMs: number;
};

export type ClusterAlerts = {
  /** Unresolved alerts on the cluster or any of its nodes. */
  firing: number;
  /** The most severe, newest first among equals; null when none fire. */
  worst: { severity: "info" | "warning" | "critical"; message: string; firedAt: string } | null;
};

type SwitchoverRow = typeof switchovers.$inferSelect;

export type RecentSwitchover = {
  id: string;
  kind: SwitchoverRow["kind"];
  state: SwitchoverRow["state"];
  from: string | null;
  to: string | null;
  requestedAt: string;
  finishedAt: string | null;
};

/** The fields the REST contract documents (server/api/schemas.ts FleetOverviewSchema). */
export type FleetClusterSummary = {
  id: string;
  name: string;
  description: string;
  mode: "active_standby" | "active_active";
  slaTargetPct: number;
  epoch: number;
  maintenance: boolean;
  primaryNodeId: string | null;
  nodes: FleetNode[];
};

/** A cluster as the overview shows it: the summary plus status, availability, alerts, switchovers. */
export type FleetCluster = {
  id: string;
  name: string;
  description: string;
  mode: "active_standby" | "active_active";
  slaTargetPct: number;
  epoch: number;
  maintenance: boolean;
  primaryNodeId: string | null;
  nodes: FleetNode[];
  frozenUntil: string | null;
  /** In maintenance, or `frozenUntil` is in the future: automatic failover will not act. */
  frozen: boolean;
  status: FleetClusterStatus;
  /** The switchover in flight, if any (at most one per cluster, enforced by the database). */
  inFlightSwitchoverId: string | null;
  availability: ClusterAvailability;
  alerts: ClusterAlerts;
  /** Newest first, at most three. */
  recentSwitchovers: RecentSwitchover[];
};

/**
 * The documented shape of GET /api/v1/fleet. What `listFleetOverview` returns (and the endpoint
 * answers) is `FleetOverviewDetail`, which only adds fields — the contract's own rule is that
 * clients ignore fields they do not know — until the schema documents them too.
 */
export type FleetOverview = { clusters: FleetClusterSummary[]; generatedAt: string };
export type FleetOverviewDetail = { clusters: FleetCluster[]; generatedAt: string };

export const AVAILABILITY_WINDOW_DAYS = 30;
export const RECENT_SWITCHOVERS = 3;

const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 } as const;

/**
 * Pure: a cluster's headline status. A switchover in flight says the most about what is happening;
 * then an endpoint with no serving active node; then a cluster an operator froze (maintenance or
 * `frozen_until`), since its other troubles are expected; then any node that is not healthy.
 */
export function deriveClusterStatus(
  c: {
    mode: FleetCluster["mode"];
    primaryNodeId: string | null;
    maintenance: boolean;
    frozenUntil: string | null;
    inFlightSwitchoverId: string | null;
    nodes: Pick<FleetNode, "id" | "role" | "state" | "maintenance">[];
  },
  now: number,
): FleetClusterStatus {
  if (c.inFlightSwitchoverId) return "failing_over";
  if (c.nodes.length === 0 || c.nodes.every((n) => n.state === "unknown")) {
    return c.maintenance ? "frozen" : "unknown";
  }
  const active =
    c.mode === "active_standby"
      ? c.nodes.filter((n) => n.id === c.primaryNodeId)
      : c.nodes.filter((n) => n.role === "member" && !n.maintenance);
  if (active.length === 0 || active.every((n) => n.state === "failed")) return "down";
  const frozen = c.maintenance || (c.frozenUntil !== null && Date.parse(c.frozenUntil) > now);
  if (frozen) return "frozen";
  if (c.nodes.some((n) => n.state !== "healthy")) return "degraded";
  return "healthy";
}

const iso = (epochMs: number | string | null): string | null =>
  epochMs === null ? null : new Date(Number(epochMs)).toISOString();

export async function listFleetOverview(db: DbOrTx, opts: { now?: Date } = {}): Promise<FleetOverviewDetail> {
  const now = opts.now ?? new Date();
  const windowStart = new Date(now.getTime() - AVAILABILITY_WINDOW_DAYS * DAY_MS);
  const rows = await db.query.clusters.findMany({
    orderBy: [asc(clusters.name)],
    with: { nodes: { orderBy: (n, { asc }) => [asc(n.priority), asc(n.name)] } },
  });
  const ids = rows.map((c) => c.id);
  if (ids.length === 0) return { generatedAt: now.toISOString(), clusters: [] };

  const t = clusterAvailabilityChanges;
  const [priorRows, changeRows, alertRows, inFlightRows, recentRows] = await Promise.all([
    // The state each cluster was in when the window opened: its last change before it.
    db
      .selectDistinctOn([t.clusterId], { clusterId: t.clusterId, at: t.at, available: t.available })
      .from(t)
      .where(and(inArray(t.clusterId, ids), lt(t.at, windowStart)))
      .orderBy(t.clusterId, desc(t.at), desc(t.id)),
    db
      .select({ clusterId: t.clusterId, at: t.at, available: t.available })
      .from(t)
      .where(and(inArray(t.clusterId, ids), gte(t.at, windowStart), lt(t.at, now)))
      .orderBy(t.clusterId, asc(t.at), asc(t.id)),
    // Node alerts carry their cluster too, but take it from the node when they do not.
    db
      .select({
        clusterId: sql<string | null>`coalesce(${alerts.clusterId}, ${nodes.clusterId})`,
        severity: alerts.severity,
        message: alerts.message,
        firedAt: alerts.firedAt,
      })
      .from(alerts)
      .leftJoin(nodes, eq(nodes.id, alerts.nodeId))
      .where(isNull(alerts.resolvedAt)),
    db
      .select({ id: switchovers.id, clusterId: switchovers.clusterId })
      .from(switchovers)
      .where(notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES])),
    db.execute<{
      cluster_id: string;
      id: string;
      kind: SwitchoverRow["kind"];
      state: SwitchoverRow["state"];
      from_node_id: string | null;
      to_node_id: string | null;
      report_from: string | null;
      report_to: string | null;
      requested_ms: number | string;
      finished_ms: number | string | null;
    }>(sql`
      select c.id as cluster_id, s.id, s.kind::text as kind, s.state::text as state,
             s.from_node_id, s.to_node_id,
             s.report->>'from' as report_from, s.report->>'to' as report_to,
             (extract(epoch from s.requested_at) * 1000)::float8 as requested_ms,
             (extract(epoch from s.finished_at) * 1000)::float8 as finished_ms
      from ${clusters} c
      cross join lateral (
        select * from ${switchovers} s
        where s.cluster_id = c.id
        order by s.requested_at desc, s.id desc
        limit ${RECENT_SWITCHOVERS}
      ) s
      order by c.id, s.requested_at desc, s.id desc`),
  ]);

  const prior = new Map<string, AvailabilityChange>(
    priorRows.map((r) => [r.clusterId, { at: r.at, available: r.available }]),
  );
  const changes = new Map<string, AvailabilityChange[]>();
  for (const r of changeRows) {
    const list = changes.get(r.clusterId) ?? [];
    list.push({ at: r.at, available: r.available });
    changes.set(r.clusterId, list);
  }
  const alertsBy = new Map<string, ClusterAlerts>();
  for (const a of alertRows) {
    if (!a.clusterId) continue;
    const entry = alertsBy.get(a.clusterId) ?? { firing: 0, worst: null };
    entry.firing++;
    const w = entry.worst;
    if (
      !w ||
      SEVERITY_RANK[a.severity] > SEVERITY_RANK[w.severity] ||
      (SEVERITY_RANK[a.severity] === SEVERITY_RANK[w.severity] && a.firedAt.toISOString() > w.firedAt)
    ) {
      entry.worst = {
        severity: a.severity,
        message: a.message.slice(0, 300),
        firedAt: a.firedAt.toISOString(),
      };
    }
    alertsBy.set(a.clusterId, entry);
  }
  const inFlight = new Map(inFlightRows.map((r) => [r.clusterId, r.id]));
  const names = new Map(rows.flatMap((c) => c.nodes.map((n) => [n.id, n.name] as const)));
  const recent = new Map<string, RecentSwitchover[]>();
  for (const r of recentRows) {
    const list = recent.get(r.cluster_id) ?? [];
    list.push({
      id: r.id,
      kind: r.kind,
      state: r.state,
      from: (r.from_node_id && names.get(r.from_node_id)) || r.report_from || null,
      to: (r.to_node_id && names.get(r.to_node_id)) || r.report_to || null,
      requestedAt: iso(r.requested_ms) ?? "",
      finishedAt: iso(r.finished_ms),
    });
    recent.set(r.cluster_id, list);
  }

  return {
    generatedAt: now.toISOString(),
    clusters: rows.map((c) => {
      const report = computeAvailability(prior.get(c.id) ?? null, changes.get(c.id) ?? [], windowStart, now);
      const fleetNodes: FleetNode[] = c.nodes.map((n) => ({
        id: n.id,
        name: n.name,
        host: n.host,
        servicePort: n.servicePort,
        role: n.role,
        state: n.state,
        reportedRole: n.reportedRole,
        priority: n.priority,
        weight: n.weight,
        maintenance: n.maintenance,
        hostKeyPinned: n.hostKeyFingerprint !== null,
        stateChangedAt: n.stateChangedAt.toISOString(),
        lastSeenAt: n.lastSeenAt?.toISOString() ?? null,
      }));
      const base = {
        mode: c.mode,
        primaryNodeId: c.primaryNodeId,
        maintenance: c.maintenance,
        frozenUntil: c.frozenUntil?.toISOString() ?? null,
        inFlightSwitchoverId: inFlight.get(c.id) ?? null,
        nodes: fleetNodes,
      };
      return {
        id: c.id,
        name: c.name,
        description: c.description,
        slaTargetPct: c.slaTargetPct,
        epoch: c.epoch,
        ...base,
        frozen: c.maintenance || (c.frozenUntil !== null && c.frozenUntil.getTime() > now.getTime()),
        status: deriveClusterStatus(base, now.getTime()),
        availability: {
          pct: report.availabilityPct,
          targetPct: c.slaTargetPct,
          windowDays: AVAILABILITY_WINDOW_DAYS,
          knownMs: report.uptimeMs + report.downtimeMs,
          downtimeMs: report.downtimeMs,
        },
        alerts: alertsBy.get(c.id) ?? { firing: 0, worst: null },
        recentSwitchovers: recent.get(c.id) ?? [],
      };
    }),
  };
}
