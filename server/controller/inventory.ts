// What the controller watches, read in one query: clusters with their policy and nodes. The
// controller keeps this in memory and re-reads it when the web side NOTIFYs an inventory change
// (and on a slow timer, in case a notification was missed while disconnected).
import type { DbOrTx } from "@/db/client";
import { DEFAULT_POLICY } from "@/server/policy/presets";
import type { Policy } from "@/server/policy/types";

export type InventoryNode = {
  id: string;
  clusterId: string;
  name: string;
  host: string;
  sshPort: number;
  sshUser: string;
  credentialId: string | null;
  hostKeyFingerprint: string | null;
  servicePort: number;
  healthPath: string;
  role: "primary" | "standby" | "member";
  state: "unknown" | "healthy" | "suspect" | "failed" | "recovering";
  stateChangedAt: Date;
  maintenance: boolean;
  priority: number;
  /** Pool members: in the LB upstream, or ejected / drained. */
  lbStatus: string;
};

export type InventoryCluster = {
  id: string;
  name: string;
  mode: "active_standby" | "active_active";
  primaryNodeId: string | null;
  epoch: number;
  maintenance: boolean;
  loadBalancerId: string | null;
  frozenUntil: Date | null;
  policy: Policy;
  nodeIds: string[];
};

export type Inventory = { clusters: Map<string, InventoryCluster>; nodes: Map<string, InventoryNode> };

export async function loadInventory(db: DbOrTx): Promise<Inventory> {
  const rows = await db.query.clusters.findMany({ with: { nodes: true, policy: true } });
  const clusters = new Map<string, InventoryCluster>();
  const nodes = new Map<string, InventoryNode>();
  for (const c of rows) {
    const p = c.policy;
    const policy: Policy = p
      ? {
          preset: p.preset,
          probeIntervalMs: p.probeIntervalMs,
          tcpTimeoutMs: p.tcpTimeoutMs,
          httpTimeoutMs: p.httpTimeoutMs,
          latencyThresholdMs: p.latencyThresholdMs,
          failuresToFail: p.failuresToFail,
          successesToRecover: p.successesToRecover,
          signalsRequired: p.signalsRequired,
          gpuTempAlertC: p.gpuTempAlertC,
          gpuMemoryAlertPct: p.gpuMemoryAlertPct,
          gpuUtilSaturationPct: p.gpuUtilSaturationPct,
          gpuSaturationSustainS: p.gpuSaturationSustainS,
          autoFailover: p.autoFailover,
          cooldownS: p.cooldownS,
          freezeAfterFailoversPerHour: p.freezeAfterFailoversPerHour,
          verifyDeadlineMs: p.verifyDeadlineMs,
        }
      : { ...DEFAULT_POLICY };
    clusters.set(c.id, {
      id: c.id,
      name: c.name,
      mode: c.mode,
      primaryNodeId: c.primaryNodeId,
      epoch: c.epoch,
      maintenance: c.maintenance,
      loadBalancerId: c.loadBalancerId,
      frozenUntil: c.frozenUntil,
      policy,
      nodeIds: c.nodes.map((n) => n.id),
    });
    for (const n of c.nodes) {
      nodes.set(n.id, {
        id: n.id,
        clusterId: c.id,
        name: n.name,
        host: n.host,
        sshPort: n.sshPort,
        sshUser: n.sshUser,
        credentialId: n.credentialId,
        hostKeyFingerprint: n.hostKeyFingerprint,
        servicePort: n.servicePort,
        healthPath: n.healthPath,
        role: n.role,
        state: n.state,
        stateChangedAt: n.stateChangedAt,
        maintenance: n.maintenance,
        priority: n.priority,
        lbStatus: n.lbStatus,
      });
    }
  }
  return { clusters, nodes };
}

/** "The cluster endpoint has a healthy active node" — the definition availability is measured by.
 * Suspect still counts as serving (a single failed probe is not an outage); when it turns into a
 * failure, the outage is back-dated to when the node became suspect. */
export function isClusterAvailable(
  cluster: Pick<InventoryCluster, "mode" | "primaryNodeId" | "nodeIds">,
  stateOf: (nodeId: string) => InventoryNode["state"] | undefined,
): boolean | null {
  const serving = (s: InventoryNode["state"] | undefined) => s === "healthy" || s === "suspect";
  if (cluster.mode === "active_standby") {
    if (!cluster.primaryNodeId) return false;
    const s = stateOf(cluster.primaryNodeId);
    return s === undefined || s === "unknown" ? null : serving(s);
  }
  const states = cluster.nodeIds.map(stateOf);
  if (states.every((s) => s === undefined || s === "unknown")) return null;
  return states.some(serving);
}
