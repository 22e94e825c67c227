// Seeds the demo inventory once. A second run finds the clusters and changes nothing except host
// keys that the simulator re-generated (its data directory was wiped), which it re-pins and
// audits: the demo provisioned those hosts itself, so it is the operator that trusts them.
import { eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { clusters, credentials, nodes, policies } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import { createCredential } from "@/server/credentials/store";
import { DEMO_CLUSTERS } from "./inventory";

export type SeedInput = {
  secretKey: Buffer;
  /** Private key the simulator authorises; stored sealed as the fleet's SSH credential. */
  clientPrivateKey: string;
  /** Host-key fingerprints of the simulated nodes, by node name. */
  hostKeys: Map<string, string>;
  sshPort: number;
  servicePort: number;
};

const ACTOR = { actorLabel: "demo", actorRole: "system" } as const;
const CREDENTIAL_NAME = "demo-fleet-key";

export async function seedDemoInventory(
  db: Db,
  input: SeedInput,
): Promise<{ created: string[]; repinned: string[] }> {
  return db.transaction(async (tx) => {
    const created: string[] = [];
    const repinned: string[] = [];
    const cred = await tx.query.credentials.findFirst({ where: eq(credentials.name, CREDENTIAL_NAME) });
    let credentialId = cred?.id;
    if (!credentialId) {
      const c = await createCredential(tx, input.secretKey, {
        name: CREDENTIAL_NAME,
        privateKey: input.clientPrivateKey,
      });
      credentialId = c.id;
      await appendAudit(tx, {
        ...ACTOR,
        action: "credential.create",
        targetType: "credential",
        targetId: c.id,
        after: { name: CREDENTIAL_NAME, fingerprint: c.fingerprint },
      });
    }

    for (const spec of DEMO_CLUSTERS) {
      const existing = await tx.query.clusters.findFirst({ where: eq(clusters.name, spec.name) });
      if (existing) continue;
      const [cluster] = await tx
        .insert(clusters)
        .values({
          name: spec.name,
          description: spec.description,
          mode: spec.mode,
          slaTargetPct: spec.slaTargetPct,
        })
        .returning();
      if (!cluster) throw new Error("cluster insert returned no row");
      await tx.insert(policies).values({ clusterId: cluster.id });
      const inserted = await tx
        .insert(nodes)
        .values(
          spec.nodes.map((n) => ({
            clusterId: cluster.id,
            name: n.name,
            host: n.host,
            sshPort: input.sshPort,
            sshUser: "switchyard",
            credentialId,
            hostKeyFingerprint: input.hostKeys.get(n.name) ?? null,
            servicePort: input.servicePort,
            role: n.role,
            priority: n.priority,
            weight: n.weight,
          })),
        )
        .returning({ id: nodes.id, name: nodes.name, role: nodes.role });
      const primary = inserted.find((n) => n.role === "primary");
      if (primary)
        await tx
          .update(clusters)
          .set({ primaryNodeId: primary.id, epoch: 1 })
          .where(eq(clusters.id, cluster.id));
      await appendAudit(tx, {
        ...ACTOR,
        action: "cluster.create",
        targetType: "cluster",
        targetId: cluster.id,
        clusterId: cluster.id,
        reason: "demo inventory",
        after: { name: spec.name, mode: spec.mode, nodes: spec.nodes.map((n) => n.name) },
      });
      created.push(spec.name);
    }

    const names = DEMO_CLUSTERS.flatMap((c) => c.nodes.map((n) => n.name));
    const rows = await tx.select().from(nodes).where(inArray(nodes.name, names));
    for (const row of rows) {
      const fp = input.hostKeys.get(row.name);
      if (fp && row.hostKeyFingerprint !== fp) {
        await tx
          .update(nodes)
          .set({ hostKeyFingerprint: fp, updatedAt: new Date() })
          .where(eq(nodes.id, row.id));
        await appendAudit(tx, {
          ...ACTOR,
          action: "node.host_key.pin",
          targetType: "node",
          targetId: row.id,
          clusterId: row.clusterId,
          reason: "demo simulator host key regenerated",
          before: { hostKeyFingerprint: row.hostKeyFingerprint },
          after: { hostKeyFingerprint: fp },
        });
        repinned.push(row.name);
      }
    }
    return { created, repinned };
  });
}
