// The compact fleet summary behind `GET /api/v1/status` (what a `switchyard status` CLI prints):
// each cluster's status and primary, the switchovers in flight, open alerts, and who leads the
// controllers. A handful of queries whatever the fleet size.
import { and, count, desc, eq, gt, isNull, notInArray, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { DbOrTx } from "@/db/client";
import {
  alerts,
  clusters,
  controllerLease,
  nodes,
  switchovers,
  TERMINAL_SWITCHOVER_STATES,
} from "@/db/schema";
import { CONTROLLER_LEASE } from "@/server/controller/lease";
import { listClusters } from "./clusters";
import type { FleetStatus } from "./schemas";

export async function fleetStatus(db: DbOrTx): Promise<FleetStatus> {
  const fromNode = alias(nodes, "from_node");
  const toNode = alias(nodes, "to_node");
  const [summaries, inFlight, [alertCounts], [lease]] = await Promise.all([
    listClusters(db),
    db
      .select({
        id: switchovers.id,
        clusterId: switchovers.clusterId,
        clusterName: clusters.name,
        kind: switchovers.kind,
        state: switchovers.state,
        from: fromNode.name,
        to: toNode.name,
        requestedBy: switchovers.requestedByLabel,
        requestedAt: switchovers.requestedAt,
      })
      .from(switchovers)
      .innerJoin(clusters, eq(clusters.id, switchovers.clusterId))
      .leftJoin(fromNode, eq(fromNode.id, switchovers.fromNodeId))
      .leftJoin(toNode, eq(toNode.id, switchovers.toNodeId))
      .where(notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]))
      .orderBy(desc(switchovers.requestedAt)),
    db
      .select({
        open: count(),
        unacknowledged: sql<number>`count(*) filter (where ${alerts.acknowledgedAt} is null)`.mapWith(Number),
        critical: sql<number>`count(*) filter (where ${alerts.severity} = 'critical')`.mapWith(Number),
      })
      .from(alerts)
      .where(isNull(alerts.resolvedAt)),
    // Judged by the database clock, like the lease itself: an expired lease means no live leader.
    db
      .select({
        holderId: controllerLease.holderId,
        epoch: controllerLease.epoch,
        expiresAt: controllerLease.expiresAt,
      })
      .from(controllerLease)
      .where(and(eq(controllerLease.name, CONTROLLER_LEASE), gt(controllerLease.expiresAt, sql`now()`))),
  ]);
  return {
    generatedAt: new Date().toISOString(),
    clusters: summaries.map((c) => ({
      id: c.id,
      name: c.name,
      mode: c.mode,
      status: c.status,
      primary: c.primary,
      epoch: c.epoch,
      maintenance: c.maintenance,
      nodes: { total: c.nodeCount, healthy: c.healthyNodes },
    })),
    switchoversInFlight: inFlight.map((s) => ({ ...s, requestedAt: s.requestedAt.toISOString() })),
    alerts: {
      open: alertCounts?.open ?? 0,
      unacknowledged: alertCounts?.unacknowledged ?? 0,
      critical: alertCounts?.critical ?? 0,
    },
    controller: {
      leader: lease?.holderId ?? null,
      epoch: lease?.epoch ?? null,
      leaseExpiresAt: lease?.expiresAt.toISOString() ?? null,
    },
  };
}
