// Read models for the fleet overview. Shapes here are what the UI and the REST API return, so
// they are plain JSON (ISO strings, no Date objects) and carry no secrets (no credential ids).
import { asc } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { clusters } from "@/db/schema";

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
};

export type FleetOverview = { clusters: FleetCluster[]; generatedAt: string };

export async function listFleetOverview(db: DbOrTx): Promise<FleetOverview> {
  const rows = await db.query.clusters.findMany({
    orderBy: [asc(clusters.name)],
    with: { nodes: { orderBy: (n, { asc }) => [asc(n.priority), asc(n.name)] } },
  });
  return {
    generatedAt: new Date().toISOString(),
    clusters: rows.map((c) => ({
      id: c.id,
      name: c.name,
      description: c.description,
      mode: c.mode,
      slaTargetPct: c.slaTargetPct,
      epoch: c.epoch,
      maintenance: c.maintenance,
      primaryNodeId: c.primaryNodeId,
      nodes: c.nodes.map((n) => ({
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
      })),
    })),
  };
}
