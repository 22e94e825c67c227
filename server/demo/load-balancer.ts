// The demo's load balancer: one real nginx on this machine fronting every demo cluster, reached by
// Switchyard over SSH on a simulated LB host (127.0.0.10), like a real LB box. This module keeps
// the database side in step: one load_balancers row per cluster (its upstream include file and
// client endpoint), and the upstream text nginx starts with, rendered from the cluster's current
// target state so a restarted demo serves what the last switchover decided.
import { eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { clusters, credentials, loadBalancers } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import { renderUpstream } from "@/server/lb/nginx-config";
import { DEMO_CLUSTERS } from "./inventory";

export const DEMO_LB_HOST = "127.0.0.10";
const CREDENTIAL_NAME = "demo-fleet-key";

/** Upstream include text per demo cluster, from what the database says should serve. */
export async function demoUpstreams(db: Db): Promise<Record<string, string>> {
  const names = DEMO_CLUSTERS.map((c) => c.name);
  const rows = await db.query.clusters.findMany({
    where: inArray(clusters.name, names),
    with: { nodes: true },
  });
  const out: Record<string, string> = {};
  for (const c of rows) {
    const mode = c.mode === "active_active" ? "active-active" : "active-standby";
    out[c.name] = renderUpstream({
      clusterName: c.name,
      mode,
      epoch: c.epoch,
      members: c.nodes.map((n) => ({
        name: n.name,
        host: n.host,
        port: n.servicePort,
        weight: n.weight,
        state:
          mode === "active-active"
            ? n.lbStatus === "in"
              ? "active"
              : "down"
            : n.id === c.primaryNodeId
              ? "active"
              : n.maintenance || n.lbStatus !== "in"
                ? "down"
                : "backup",
      })),
    });
  }
  return out;
}

export type DemoLbInput = {
  sshPort: number;
  hostKeyFingerprint: string;
  nginxBin: string;
  nginxConfPath: string;
  /** Per cluster name: its upstream include file and the URL clients use. */
  endpoints: Map<string, { upstreamPath: string; url: string }>;
};

/** Creates or updates one LB row per demo cluster and attaches it. Idempotent; audited on change. */
export async function upsertDemoLoadBalancers(db: Db, input: DemoLbInput): Promise<void> {
  await db.transaction(async (tx) => {
    const cred = await tx.query.credentials.findFirst({ where: eq(credentials.name, CREDENTIAL_NAME) });
    if (!cred) throw new Error("the demo credential is missing; seed the demo inventory first");
    for (const spec of DEMO_CLUSTERS) {
      const ep = input.endpoints.get(spec.name);
      const cluster = await tx.query.clusters.findFirst({ where: eq(clusters.name, spec.name) });
      if (!ep || !cluster) continue;
      const name = `lb-${spec.name}`;
      const values = {
        name,
        host: DEMO_LB_HOST,
        sshPort: input.sshPort,
        sshUser: "switchyard",
        credentialId: cred.id,
        hostKeyFingerprint: input.hostKeyFingerprint,
        upstreamConfigPath: ep.upstreamPath,
        endpointUrl: ep.url,
        nginxBin: input.nginxBin,
        nginxConfPath: input.nginxConfPath,
      };
      const existing = await tx.query.loadBalancers.findFirst({ where: eq(loadBalancers.name, name) });
      let id = existing?.id;
      const changed =
        !existing ||
        (Object.keys(values) as Array<keyof typeof values>).some((k) => existing[k] !== values[k]);
      if (!existing) {
        const [row] = await tx.insert(loadBalancers).values(values).returning({ id: loadBalancers.id });
        id = row?.id;
      } else if (changed) {
        await tx
          .update(loadBalancers)
          .set({ ...values, updatedAt: new Date() })
          .where(eq(loadBalancers.id, existing.id));
      }
      if (!id) throw new Error("load balancer insert returned no row");
      if (cluster.loadBalancerId !== id) {
        await tx
          .update(clusters)
          .set({ loadBalancerId: id, updatedAt: new Date() })
          .where(eq(clusters.id, cluster.id));
      }
      if (changed || cluster.loadBalancerId !== id) {
        await appendAudit(tx, {
          actorLabel: "demo",
          actorRole: "system",
          action: "load_balancer.upsert",
          targetType: "load_balancer",
          targetId: id,
          clusterId: cluster.id,
          reason: "demo nginx",
          after: {
            host: values.host,
            upstreamConfigPath: values.upstreamConfigPath,
            endpointUrl: values.endpointUrl,
          },
        });
      }
    }
  });
}

/** Without nginx the demo clusters run without a load balancer: switchovers skip the LB steps. */
export async function detachDemoLoadBalancers(db: Db): Promise<void> {
  const names = DEMO_CLUSTERS.map((c) => c.name);
  await db.update(clusters).set({ loadBalancerId: null }).where(inArray(clusters.name, names));
}
