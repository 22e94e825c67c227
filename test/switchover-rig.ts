// A whole switchover rig for integration tests: a scratch database with the schema, a simulated
// cluster (HTTP + SSH per node), a simulated LB host reached over SSH, a real nginx in front of the
// cluster, and the inventory rows an operator would create (credentials sealed, host keys pinned,
// the load balancer with its upstream file). Nothing is faked: switchovers run real playbooks
// through real SSH against the simulator and rewrite and reload the real nginx.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { clusters, loadBalancers } from "@/db/schema";
import { createCredential, describePrivateKey } from "@/server/credentials/store";
import { renderUpstream } from "@/server/lb/nginx-config";
import type { Policy } from "@/server/policy/types";
import { ensureBuiltInPlaybooks } from "@/server/switchover/playbook";
import { type SimLbHost, startSimLbHost } from "@/sim/lb-host";
import type { SimRole } from "@/sim/role-log";
import { startTestFleet, type TestFleet } from "@/sim/testing";
import { seedSimCluster } from "./cluster";
import { createScratchDatabase } from "./db";
import { NGINX_BIN, startNginx, type TestNginx } from "./nginx";

export type RigNode = { name: string; host: string; role: "primary" | "standby" | "member" };

export type SwitchoverRig = {
  url: string;
  h: ReturnType<typeof createDb>;
  fleet: TestFleet;
  lbHost: SimLbHost;
  nginx: TestNginx;
  secretKey: Buffer;
  clusterId: string;
  clusterName: string;
  nodeIds: Map<string, string>;
  /** The cluster's endpoint through nginx. */
  endpoint: string;
  stop(): Promise<void>;
};

export async function startSwitchoverRig(opts: {
  baseUrl: string;
  clusterName: string;
  mode?: "active_standby" | "active_active";
  nodes: RigNode[];
  lbHost: string;
  policy?: Partial<Policy>;
}): Promise<SwitchoverRig> {
  const mode = opts.mode ?? "active_standby";
  const scratch = await createScratchDatabase(opts.baseUrl);
  await runMigrations(scratch.url);
  const h = createDb(scratch.url, { max: 4 });
  const cleanups: Array<() => Promise<void>> = [
    async () => {
      await h.sql.end({ timeout: 2 });
      await scratch.drop();
    },
  ];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const simRole = (r: RigNode["role"]): SimRole => (r === "standby" ? "standby" : "master");
    const fleet = await startTestFleet(
      opts.nodes.map((n) => ({
        name: n.name,
        host: n.host,
        cluster: opts.clusterName,
        role: simRole(n.role),
        epoch: 1,
        clusterMode: mode === "active_active" ? ("pool" as const) : undefined,
      })),
    );
    cleanups.push(() => fleet.stop());
    const lbHost = await startSimLbHost({
      name: `${opts.clusterName}-lb`,
      host: opts.lbHost,
      port: 0,
      dataDir: fleet.dataDir,
      authorizedKeys: describePrivateKey(fleet.clientPrivateKey).publicKey,
    });
    cleanups.push(() => lbHost.stop());
    const nginxDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-nginx-"));
    cleanups.push(() => rm(nginxDir, { recursive: true, force: true }));
    const initial = renderUpstream({
      clusterName: opts.clusterName,
      mode: mode === "active_active" ? "active-active" : "active-standby",
      epoch: 1,
      members: opts.nodes.map((n) => {
        const sim = fleet.fleet.getNode(n.name);
        return {
          name: n.name,
          host: sim.host,
          port: sim.httpPort,
          weight: 1,
          state: n.role === "standby" ? "backup" : "active",
        };
      }),
    });
    const nginx = await startNginx({
      dir: nginxDir,
      clusters: [{ clusterName: opts.clusterName }],
      upstreams: { [opts.clusterName]: initial },
    });
    cleanups.push(() => nginx.stop());
    const secretKey = randomBytes(32);
    const roles = Object.fromEntries(opts.nodes.map((n) => [n.name, n.role]));
    const seeded = await seedSimCluster(h.db, {
      name: opts.clusterName,
      mode,
      fleet,
      secretKey,
      roles,
      policy: opts.policy,
    });
    const cred = await createCredential(h.db, secretKey, {
      name: `${opts.clusterName}-lb-key`,
      privateKey: fleet.clientPrivateKey,
    });
    const endpoint = nginx.url(opts.clusterName);
    const [lb] = await h.db
      .insert(loadBalancers)
      .values({
        name: `${opts.clusterName}-lb`,
        host: lbHost.host,
        sshPort: lbHost.port,
        sshUser: "switchyard",
        credentialId: cred.id,
        hostKeyFingerprint: lbHost.hostKeyFingerprint,
        upstreamConfigPath: nginx.upstreamPath(opts.clusterName),
        endpointUrl: endpoint,
        nginxBin: NGINX_BIN,
        nginxConfPath: nginx.confPath,
      })
      .returning({ id: loadBalancers.id });
    if (!lb) throw new Error("no load balancer row");
    await h.db.update(clusters).set({ loadBalancerId: lb.id }).where(eq(clusters.id, seeded.clusterId));
    await ensureBuiltInPlaybooks(h.db);
    return {
      url: scratch.url,
      h,
      fleet,
      lbHost,
      nginx,
      secretKey,
      clusterId: seeded.clusterId,
      clusterName: opts.clusterName,
      nodeIds: seeded.nodeIds,
      endpoint,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** GET through nginx; resolves with the status and the node that answered (from /api/v1/status). */
export async function whoServes(
  endpoint: string,
  timeoutMs = 2_000,
): Promise<{ status: number; node: string | null }> {
  try {
    const res = await fetch(`${endpoint}/api/v1/status`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => null)) as { node?: string; name?: string } | null;
    return { status: res.status, node: body?.node ?? body?.name ?? null };
  } catch {
    return { status: 0, node: null };
  }
}
