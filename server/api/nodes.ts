// Nodes as the REST API shows them: explicit columns only (never the credential id), with the
// cluster's name and whether the node is its target primary.
import { and, asc, eq, type SQL } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { clusters, nodes } from "@/db/schema";
import type { NodeView } from "./schemas";

/** The columns a node view is built from: adding a secret column to `nodes` does not leak it here. */
export const nodeColumns = {
  id: nodes.id,
  name: nodes.name,
  clusterId: nodes.clusterId,
  clusterName: clusters.name,
  primaryNodeId: clusters.primaryNodeId,
  host: nodes.host,
  sshPort: nodes.sshPort,
  servicePort: nodes.servicePort,
  healthPath: nodes.healthPath,
  role: nodes.role,
  state: nodes.state,
  reportedRole: nodes.reportedRole,
  priority: nodes.priority,
  weight: nodes.weight,
  maintenance: nodes.maintenance,
  lbStatus: nodes.lbStatus,
  hostKeyFingerprint: nodes.hostKeyFingerprint,
  stateChangedAt: nodes.stateChangedAt,
  lastSeenAt: nodes.lastSeenAt,
};

/** Nodes joined to their cluster; callers add `.where()` / `.orderBy()`. */
export function selectNodes(db: DbOrTx) {
  return db.select(nodeColumns).from(nodes).innerJoin(clusters, eq(clusters.id, nodes.clusterId)).$dynamic();
}

type NodeRow = Awaited<ReturnType<typeof selectNodes>>[number];

export function toNodeView(row: NodeRow): NodeView {
  return {
    id: row.id,
    name: row.name,
    clusterId: row.clusterId,
    clusterName: row.clusterName,
    host: row.host,
    sshPort: row.sshPort,
    servicePort: row.servicePort,
    healthPath: row.healthPath,
    role: row.role,
    isPrimary: row.primaryNodeId === row.id,
    state: row.state,
    reportedRole: row.reportedRole,
    priority: row.priority,
    weight: row.weight,
    maintenance: row.maintenance,
    // A check constraint keeps lb_status to these three values.
    lbStatus: row.lbStatus as NodeView["lbStatus"],
    hostKeyFingerprint: row.hostKeyFingerprint,
    stateChangedAt: row.stateChangedAt.toISOString(),
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
  };
}

/** Nodes ordered by cluster, then preference (priority), then name. */
export async function listNodes(
  db: DbOrTx,
  filter: { clusterId?: string; state?: NodeView["state"] } = {},
): Promise<NodeView[]> {
  const where: SQL[] = [];
  if (filter.clusterId) where.push(eq(nodes.clusterId, filter.clusterId));
  if (filter.state) where.push(eq(nodes.state, filter.state));
  const rows = await selectNodes(db)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(asc(clusters.name), asc(nodes.priority), asc(nodes.name));
  return rows.map(toNodeView);
}
