// Seeds one cluster whose nodes are simulated ones, for controller and switchover integration
// tests: the same rows an operator would create, with the SSH key sealed and host keys pinned.

import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { clusters, nodes, policies } from "@/db/schema";
import { createCredential } from "@/server/credentials/store";
import type { Policy } from "@/server/policy/types";
import type { TestFleet } from "@/sim/testing";

export type SeededCluster = { clusterId: string; nodeIds: Map<string, string> };

export async function seedSimCluster(
  db: Db,
  opts: {
    name: string;
    mode: "active_standby" | "active_active";
    fleet: TestFleet;
    secretKey: Buffer;
    /** node name → role; the first "primary" becomes the cluster's primary. */
    roles: Record<string, "primary" | "standby" | "member">;
    policy?: Partial<Policy>;
    credentialName?: string;
  },
): Promise<SeededCluster> {
  return db.transaction(async (tx) => {
    const cred = await createCredential(tx, opts.secretKey, {
      name: opts.credentialName ?? `${opts.name}-key`,
      privateKey: opts.fleet.clientPrivateKey,
    });
    const [cluster] = await tx
      .insert(clusters)
      .values({ name: opts.name, mode: opts.mode, epoch: 1 })
      .returning();
    if (!cluster) throw new Error("no cluster row");
    await tx.insert(policies).values({ clusterId: cluster.id, ...(opts.policy ?? {}) });
    const nodeIds = new Map<string, string>();
    let priority = 0;
    for (const [name, role] of Object.entries(opts.roles)) {
      const sim = opts.fleet.fleet.getNode(name);
      if (!sim) throw new Error(`no simulated node ${name}`);
      const [row] = await tx
        .insert(nodes)
        .values({
          clusterId: cluster.id,
          name,
          host: sim.host,
          sshPort: sim.sshPort,
          credentialId: cred.id,
          hostKeyFingerprint: sim.hostKeyFingerprint,
          servicePort: sim.httpPort,
          role,
          priority: priority++,
        })
        .returning({ id: nodes.id });
      if (!row) throw new Error("no node row");
      nodeIds.set(name, row.id);
      if (role === "primary" && !cluster.primaryNodeId) {
        cluster.primaryNodeId = row.id;
        await tx.update(clusters).set({ primaryNodeId: row.id }).where(eq(clusters.id, cluster.id));
      }
    }
    return { clusterId: cluster.id, nodeIds };
  });
}

/** Polls `fn` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T> | T,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`,
  );
}
