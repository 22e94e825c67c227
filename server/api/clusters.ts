// Clusters as the REST API shows them: a summary per cluster with a status derived from its nodes,
// and one cluster in detail (nodes, policy, load balancer, the switchover in flight). Explicit
// columns only: the load balancer's and nodes' credential ids never leave the database.
import { and, asc, desc, eq, notInArray } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import {
  clusters,
  loadBalancers,
  nodes,
  policies,
  switchovers,
  TERMINAL_SWITCHOVER_STATES,
} from "@/db/schema";
import { selectNodes, toNodeView } from "./nodes";
import type { ClusterDetail, ClusterSummary, NodeView } from "./schemas";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type StatusInput = {
  mode: ClusterSummary["mode"];
  maintenance: boolean;
  primaryNodeId: string | null;
};

/**
 * One word for a cluster, as the dashboard shows it: maintenance wins; a cluster whose every active
 * node (its primary, or every pool member) failed is down; any node not healthy makes it degraded.
 */
export function clusterStatus(
  cluster: StatusInput,
  members: Array<Pick<NodeView, "id" | "role" | "state">>,
): ClusterSummary["status"] {
  if (cluster.maintenance) return "maintenance";
  if (members.length === 0) return "no_nodes";
  if (members.every((n) => n.state === "unknown")) return "unprobed";
  const active = members.filter((n) =>
    cluster.mode === "active_standby" ? n.id === cluster.primaryNodeId : n.role === "member",
  );
  if (active.length > 0 && active.every((n) => n.state === "failed")) return "down";
  if (members.some((n) => n.state !== "healthy")) return "degraded";
  return "healthy";
}

const clusterColumns = {
  id: clusters.id,
  name: clusters.name,
  description: clusters.description,
  mode: clusters.mode,
  slaTargetPct: clusters.slaTargetPct,
  primaryNodeId: clusters.primaryNodeId,
  epoch: clusters.epoch,
  maintenance: clusters.maintenance,
  frozenUntil: clusters.frozenUntil,
  loadBalancerId: clusters.loadBalancerId,
  createdAt: clusters.createdAt,
  updatedAt: clusters.updatedAt,
};

type ClusterRow = Awaited<ReturnType<typeof selectClusters>>[number];

function selectClusters(db: DbOrTx) {
  return db.select(clusterColumns).from(clusters).$dynamic();
}

function summarize(c: ClusterRow, members: NodeView[]): ClusterSummary {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    mode: c.mode,
    slaTargetPct: c.slaTargetPct,
    primaryNodeId: c.primaryNodeId,
    primary:
      c.mode === "active_standby" ? (members.find((n) => n.id === c.primaryNodeId)?.name ?? null) : null,
    epoch: c.epoch,
    maintenance: c.maintenance,
    frozenUntil: c.frozenUntil?.toISOString() ?? null,
    nodeCount: members.length,
    healthyNodes: members.filter((n) => n.state === "healthy").length,
    status: clusterStatus(c, members),
  };
}

/** The cluster an API path or filter names: its id, or else its (unique) name. */
export async function findClusterRef(
  db: DbOrTx,
  idOrName: string,
): Promise<{ id: string; name: string } | null> {
  const where = UUID_RE.test(idOrName) ? eq(clusters.id, idOrName) : eq(clusters.name, idOrName);
  const [row] = await db.select({ id: clusters.id, name: clusters.name }).from(clusters).where(where);
  return row ?? null;
}

/** Every cluster by name, two queries whatever the fleet size. */
export async function listClusters(db: DbOrTx): Promise<ClusterSummary[]> {
  const [rows, allNodes] = await Promise.all([
    selectClusters(db).orderBy(asc(clusters.name)),
    selectNodes(db).orderBy(asc(nodes.priority), asc(nodes.name)),
  ]);
  const byCluster = new Map<string, NodeView[]>();
  for (const n of allNodes.map(toNodeView)) {
    const list = byCluster.get(n.clusterId);
    if (list) list.push(n);
    else byCluster.set(n.clusterId, [n]);
  }
  return rows.map((c) => summarize(c, byCluster.get(c.id) ?? []));
}

export async function getClusterDetail(db: DbOrTx, idOrName: string): Promise<ClusterDetail | null> {
  const ref = await findClusterRef(db, idOrName);
  if (!ref) return null;
  const [c] = await selectClusters(db).where(eq(clusters.id, ref.id));
  if (!c) return null;
  const [members, [policy], [lb], [inFlight]] = await Promise.all([
    selectNodes(db).where(eq(nodes.clusterId, c.id)).orderBy(asc(nodes.priority), asc(nodes.name)),
    db
      .select({
        preset: policies.preset,
        probeIntervalMs: policies.probeIntervalMs,
        tcpTimeoutMs: policies.tcpTimeoutMs,
        httpTimeoutMs: policies.httpTimeoutMs,
        latencyThresholdMs: policies.latencyThresholdMs,
        failuresToFail: policies.failuresToFail,
        successesToRecover: policies.successesToRecover,
        signalsRequired: policies.signalsRequired,
        gpuTempAlertC: policies.gpuTempAlertC,
        gpuMemoryAlertPct: policies.gpuMemoryAlertPct,
        gpuUtilSaturationPct: policies.gpuUtilSaturationPct,
        gpuSaturationSustainS: policies.gpuSaturationSustainS,
        autoFailover: policies.autoFailover,
        cooldownS: policies.cooldownS,
        freezeAfterFailoversPerHour: policies.freezeAfterFailoversPerHour,
        verifyDeadlineMs: policies.verifyDeadlineMs,
        version: policies.version,
        updatedAt: policies.updatedAt,
      })
      .from(policies)
      .where(eq(policies.clusterId, c.id)),
    c.loadBalancerId
      ? db
          .select({
            id: loadBalancers.id,
            name: loadBalancers.name,
            host: loadBalancers.host,
            endpointUrl: loadBalancers.endpointUrl,
            hostKeyFingerprint: loadBalancers.hostKeyFingerprint,
          })
          .from(loadBalancers)
          .where(eq(loadBalancers.id, c.loadBalancerId))
      : Promise.resolve([]),
    db
      .select({
        id: switchovers.id,
        kind: switchovers.kind,
        state: switchovers.state,
        requestedAt: switchovers.requestedAt,
      })
      .from(switchovers)
      .where(
        and(eq(switchovers.clusterId, c.id), notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES])),
      )
      .orderBy(desc(switchovers.requestedAt))
      .limit(1),
  ]);
  const nodeViews = members.map(toNodeView);
  return {
    ...summarize(c, nodeViews),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    nodes: nodeViews,
    policy: policy ? { ...policy, updatedAt: policy.updatedAt.toISOString() } : null,
    loadBalancer: lb ?? null,
    inFlightSwitchover: inFlight ? { ...inFlight, requestedAt: inFlight.requestedAt.toISOString() } : null,
  };
}
