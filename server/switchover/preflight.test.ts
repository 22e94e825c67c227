// Preflight against a real Postgres: what the switchover dialog shows before anything moves. Each
// case sets up the inventory, probes and GPU samples the way the controller writes them and reads
// the checks back; the route is called as Next.js calls it, as an actor (runAsActor).
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { GET as getPreflight } from "@/app/api/v1/clusters/[id]/preflight/route";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { clusters, gpuSamples, heartbeats, loadBalancers, nodes, policies, switchovers } from "@/db/schema";
import { buildOpenApiDocument } from "@/server/api/openapi";
import { type Actor, runAsActor } from "@/server/auth/guard";
import { ensurePartitions } from "@/server/history/partitions";
import { createScratchDatabase } from "@/test/db";
import {
  ClusterPreflightSchema,
  computePreflight,
  type StandbyPreflight,
  TELEMETRY_FRESH_MS,
} from "./preflight";
import { requestSwitchover } from "./request";

const NOW = new Date();
const SEC = 1000;
const at = (msAgo: number) => new Date(NOW.getTime() - msAgo);

const actor = (role: Actor["role"]): Actor => ({
  kind: "session",
  userId: null,
  label: `test-${role}`,
  role,
  address: null,
});

type NodeSpec = {
  name: string;
  primary?: boolean;
  priority?: number;
  state?: (typeof nodes.$inferInsert)["state"];
  reportedRole?: string | null;
  maintenance?: boolean;
};

describe("switchover preflight", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const previous = (globalThis as { switchyardDb?: unknown }).switchyardDb;
  let hostSeq = 10;

  /** A fresh active-standby cluster; returns its id and node ids by name. */
  async function makeCluster(
    name: string,
    specs: NodeSpec[],
    opts: { mode?: "active_standby" | "active_active"; epoch?: number; maintenance?: boolean } = {},
  ) {
    const db = h.db;
    const [c] = await db
      .insert(clusters)
      .values({
        name,
        mode: opts.mode ?? "active_standby",
        epoch: opts.epoch ?? 7,
        maintenance: !!opts.maintenance,
      })
      .returning();
    if (!c) throw new Error("no cluster");
    await db.insert(policies).values({ clusterId: c.id, cooldownS: 300, freezeAfterFailoversPerHour: 2 });
    const ids = new Map<string, string>();
    for (const s of specs) {
      const [n] = await db
        .insert(nodes)
        .values({
          clusterId: c.id,
          name: s.name,
          host: `127.0.1.${hostSeq++}`,
          role: opts.mode === "active_active" ? "member" : s.primary ? "primary" : "standby",
          priority: s.priority ?? (s.primary ? 0 : 10),
          state: s.state ?? "healthy",
          reportedRole:
            s.reportedRole !== undefined
              ? s.reportedRole
              : s.primary
                ? "master"
                : opts.mode === "active_active"
                  ? null
                  : "standby",
          maintenance: !!s.maintenance,
          lastSeenAt: at(SEC),
        })
        .returning({ id: nodes.id });
      if (!n) throw new Error("no node");
      ids.set(s.name, n.id);
    }
    const primary = specs.find((s) => s.primary);
    if (primary)
      await db
        .update(clusters)
        .set({ primaryNodeId: ids.get(primary.name) })
        .where(eq(clusters.id, c.id));
    return { id: c.id, ids, node: (n: string) => ids.get(n) as string };
  }

  async function gpu(
    nodeId: string,
    msAgo: number,
    opts: { error?: string; util?: number; temp?: number } = {},
  ) {
    await h.db.insert(gpuSamples).values({
      time: at(msAgo),
      nodeId,
      gpuIndex: 0,
      utilizationPct: opts.error ? null : (opts.util ?? 35),
      memoryUsedMib: opts.error ? null : 4000,
      memoryTotalMib: opts.error ? null : 16000,
      temperatureC: opts.error ? null : (opts.temp ?? 54),
      powerW: null,
      error: opts.error ?? null,
    });
  }

  async function probe(nodeId: string, msAgo: number, ok = true) {
    await h.db.insert(heartbeats).values({
      time: at(msAgo),
      nodeId,
      tcpOk: ok,
      tcpMs: ok ? 0.4 : null,
      httpOk: ok,
      httpStatus: ok ? 200 : null,
      httpMs: ok ? 3.2 : null,
      reportedRole: ok ? "standby" : null,
      error: ok ? null : "ECONNREFUSED",
    });
  }

  const check = (checks: Array<{ key: string; level: string; detail: string }>, key: string) => {
    const c = checks.find((x) => x.key === key);
    if (!c) throw new Error(`no check ${key} in ${checks.map((x) => x.key).join(", ")}`);
    return c;
  };
  const standby = (p: { standbys: StandbyPreflight[] }, name: string) => {
    const s = p.standbys.find((x) => x.name === name);
    if (!s) throw new Error(`no standby ${name}`);
    return s;
  };

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4 });
    (globalThis as { switchyardDb?: unknown }).switchyardDb = h;
    // Telemetry tables are partitioned by hour: the hours the samples below fall in, and the last two.
    await ensurePartitions(h.db, NOW, [at(2 * 3_600_000), at(3_600_000), at(10 * 60_000)]);
  });
  afterAll(async () => {
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previous;
    await h?.sql.end();
    await scratch?.drop();
  });
  beforeEach(() => {
    expect(h).toBeDefined();
  });

  it("a healthy pair: everything ok but the missing load balancer, the standby proposed, no blockers", async () => {
    const c = await makeCluster("pair", [{ name: "pair-a", primary: true }, { name: "pair-b" }]);
    await gpu(c.node("pair-b"), 2 * SEC, { util: 97, temp: 61 });
    await probe(c.node("pair-b"), SEC);
    const p = await computePreflight(h.db, "pair", NOW);
    if (!p) throw new Error("no preflight");
    expect(ClusterPreflightSchema.parse(p)).toEqual(p);
    expect(p.cluster).toMatchObject({ name: "pair", epoch: 7, mode: "active_standby" });
    expect(p.primary?.name).toBe("pair-a");
    expect(p.blockers).toEqual([]);
    expect(p.recommendedTargetId).toBe(c.node("pair-b"));
    expect(Object.fromEntries(p.checks.map((x) => [x.key, x.level]))).toEqual({
      in_flight: "ok",
      primary: "ok",
      target: "ok",
      maintenance: "ok",
      cooldown: "ok",
      load_balancer: "warn",
    });
    expect(check(p.checks, "load_balancer").detail).toMatch(/No load balancer/);
    const b = standby(p, "pair-b");
    expect(b).toMatchObject({ level: "ok", recommended: true, state: "healthy", reportedRole: "standby" });
    expect(b.checks.map((x) => [x.key, x.level])).toEqual([
      ["healthy", "ok"],
      ["role", "ok"],
      ["telemetry", "ok"],
      ["maintenance", "ok"],
    ]);
    // A busy GPU is healthy: 97 % is reported, not held against it.
    expect(check(b.checks, "telemetry").detail).toMatch(/Fresh: sample 2 s ago \(GPU 0: 97 %, 61 °C\)/);
    expect(check(b.checks, "healthy").detail).toBe("Last probe 1 s ago: /health 200 in 3.2 ms.");
    expect(b.telemetry).toMatchObject({ status: "fresh", ageMs: 2 * SEC });
    expect(b.telemetry.gpus[0]?.memoryUsedPct).toBe(25);

    // With an nginx load balancer, the switch is named.
    const [lb] = await h.db
      .insert(loadBalancers)
      .values({
        name: "lb-pair",
        host: "10.0.0.9",
        upstreamConfigPath: "/etc/nginx/switchyard/pair.conf",
        endpointUrl: "http://10.0.0.9/",
      })
      .returning({ id: loadBalancers.id });
    await h.db.update(clusters).set({ loadBalancerId: lb?.id }).where(eq(clusters.id, c.id));
    const withLb = await computePreflight(h.db, c.id, NOW);
    expect(check(withLb?.checks ?? [], "load_balancer")).toMatchObject({ level: "ok" });
    expect(withLb?.loadBalancer).toEqual({
      name: "lb-pair",
      host: "10.0.0.9",
      endpointUrl: "http://10.0.0.9/",
    });
  });

  it("GPU telemetry: stale after 30 s, lost when the newest row is a marker, none without samples — warnings only", async () => {
    const c = await makeCluster("tele", [
      { name: "tele-a", primary: true },
      { name: "tele-stale", priority: 1 },
      { name: "tele-lost", priority: 2 },
      { name: "tele-none", priority: 3 },
      { name: "tele-back", priority: 4 },
    ]);
    await gpu(c.node("tele-stale"), TELEMETRY_FRESH_MS + 5 * SEC);
    await gpu(c.node("tele-lost"), 20 * SEC);
    await gpu(c.node("tele-lost"), 3 * SEC, {
      error:
        "nvidia_smi_failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver",
    });
    // A reading newer than the marker: the stream is back.
    await gpu(c.node("tele-back"), 9 * SEC, { error: "ssh_closed: connection lost" });
    await gpu(c.node("tele-back"), 1 * SEC);
    const p = await computePreflight(h.db, c.id, NOW);
    if (!p) throw new Error("no preflight");
    expect(p.blockers).toEqual([]);
    expect(standby(p, "tele-stale").telemetry.status).toBe("stale");
    expect(check(standby(p, "tele-stale").checks, "telemetry")).toMatchObject({ level: "warn" });
    expect(check(standby(p, "tele-stale").checks, "telemetry").detail).toMatch(
      /^Stale: the last GPU sample is 35 s ago/,
    );
    const lost = standby(p, "tele-lost");
    expect(lost.telemetry).toMatchObject({ status: "lost", ageMs: 3 * SEC });
    expect(check(lost.checks, "telemetry").detail).toMatch(
      /^Lost 3 s ago: nvidia_smi_failed: NVIDIA-SMI has failed.*Not a failure by itself/,
    );
    expect(standby(p, "tele-none").telemetry.status).toBe("none");
    expect(check(standby(p, "tele-none").checks, "telemetry").detail).toMatch(
      /No GPU sample in the last 2 h/,
    );
    expect(standby(p, "tele-back").telemetry.status).toBe("fresh");
    // Telemetry alone never rules a target out, and the best by priority is proposed.
    expect(p.standbys.map((s) => [s.name, s.level])).toEqual([
      ["tele-stale", "warn"],
      ["tele-lost", "warn"],
      ["tele-none", "warn"],
      ["tele-back", "ok"],
    ]);
    expect(p.recommendedTargetId).toBe(c.node("tele-stale"));
  });

  it("proposes the best healthy standby by priority, skipping failed and maintenance ones, which block as targets", async () => {
    const c = await makeCluster("trio", [
      { name: "trio-1", primary: true },
      { name: "trio-2", priority: 10, state: "failed", reportedRole: null },
      { name: "trio-3", priority: 20, maintenance: true },
      { name: "trio-4", priority: 30, reportedRole: "master" },
      { name: "trio-5", priority: 40, state: "recovering" },
    ]);
    await probe(c.node("trio-2"), 2 * SEC, false);
    const p = await computePreflight(h.db, "trio", NOW);
    if (!p) throw new Error("no preflight");
    expect(p.standbys.map((s) => s.name)).toEqual(["trio-2", "trio-3", "trio-4", "trio-5"]);
    expect(p.recommendedTargetId).toBe(c.node("trio-4"));
    expect(p.blockers).toEqual([]);
    const failed = standby(p, "trio-2");
    expect(failed.level).toBe("block");
    expect(check(failed.checks, "healthy").detail).toMatch(
      /Not healthy: failed; last probe 2 s ago: TCP refused; switching to it would take the service down/,
    );
    expect(check(failed.checks, "role")).toMatchObject({
      level: "warn",
      detail: "It has not reported a role on /health yet.",
    });
    expect(check(standby(p, "trio-3").checks, "maintenance")).toMatchObject({ level: "block" });
    expect(standby(p, "trio-3").level).toBe("block");
    const claimsMaster = standby(p, "trio-4");
    expect(claimsMaster).toMatchObject({ level: "warn", recommended: true });
    expect(check(claimsMaster.checks, "role").detail).toMatch(
      /reports master although trio-1 is the primary/,
    );
    expect(check(standby(p, "trio-5").checks, "healthy")).toMatchObject({ level: "block" });
    expect(check(p.checks, "target").detail).toBe("trio-4 can take over.");
  });

  it("blocks when no standby is healthy, naming why", async () => {
    await makeCluster("sick", [
      { name: "sick-a", primary: true, state: "failed" },
      { name: "sick-b", state: "suspect" },
    ]);
    const p = await computePreflight(h.db, "sick", NOW);
    if (!p) throw new Error("no preflight");
    expect(p.recommendedTargetId).toBeNull();
    expect(check(p.checks, "target")).toMatchObject({ level: "block" });
    expect(p.blockers).toEqual([
      "No standby is healthy and out of maintenance: there is nothing safe to switch to.",
    ]);
    // A failed primary is a warning: that is when one switches over.
    expect(check(p.checks, "primary")).toMatchObject({ level: "warn" });
    expect(check(p.checks, "primary").detail).toMatch(/sick-a is failed/);
  });

  it("blocks while a switchover is in flight, and names it", async () => {
    const c = await makeCluster("busy", [{ name: "busy-a", primary: true }, { name: "busy-b" }]);
    const { id } = await requestSwitchover(h.db, {
      cluster: "busy",
      reason: "test",
      kind: "manual",
      actor: { label: "alice", role: "operator" },
    });
    const p = await computePreflight(h.db, c.id, NOW);
    if (!p) throw new Error("no preflight");
    expect(p.inFlight).toMatchObject({ id, kind: "manual", state: "requested", requestedBy: "alice" });
    expect(check(p.checks, "in_flight")).toMatchObject({ level: "block" });
    expect(p.blockers).toHaveLength(1);
    expect(p.blockers[0]).toContain(
      `A manual switchover (${id.slice(0, 8)}, requested by alice) is in flight`,
    );
    // Ended: nothing blocks any more.
    await h.db
      .update(switchovers)
      .set({ state: "completed", finishedAt: new Date() })
      .where(eq(switchovers.id, id));
    expect((await computePreflight(h.db, c.id, NOW))?.blockers).toEqual([]);
  });

  it("cooldown, freeze and maintenance are warnings that say a manual switchover is not blocked", async () => {
    const c = await makeCluster("flappy", [{ name: "flappy-a", primary: true }, { name: "flappy-b" }]);
    const auto = (msAgo: number) => ({
      clusterId: c.id,
      kind: "auto" as const,
      state: "completed" as const,
      requestedByLabel: "controller",
      reason: "primary failed",
      requestedAt: at(msAgo),
      finishedAt: at(msAgo - SEC),
    });
    await h.db.insert(switchovers).values(auto(60 * SEC));
    let p = await computePreflight(h.db, c.id, NOW);
    expect(check(p?.checks ?? [], "cooldown")).toMatchObject({ level: "warn" });
    expect(check(p?.checks ?? [], "cooldown").detail).toMatch(
      /An automatic failover ran 1 min ago; the next may start in 4 min .*a manual switchover is not blocked by the cooldown/,
    );
    expect(p?.blockers).toEqual([]);

    // Two in the hour (the policy's limit): frozen.
    await h.db.insert(switchovers).values(auto(20 * 60_000));
    p = await computePreflight(h.db, c.id, NOW);
    expect(check(p?.checks ?? [], "freeze")).toMatchObject({ level: "warn" });
    expect(check(p?.checks ?? [], "freeze").detail).toMatch(/frozen .*not blocked by the freeze/);
    expect(p?.blockers).toEqual([]);

    // An admin's freeze, maintenance, automatic failover off.
    const d = await makeCluster("frozen", [{ name: "frozen-a", primary: true }, { name: "frozen-b" }], {
      maintenance: true,
    });
    await h.db
      .update(clusters)
      .set({ frozenUntil: new Date(NOW.getTime() + 3_600_000) })
      .where(eq(clusters.id, d.id));
    await h.db.update(policies).set({ autoFailover: false }).where(eq(policies.clusterId, d.id));
    p = await computePreflight(h.db, d.id, NOW);
    expect(check(p?.checks ?? [], "freeze").detail).toMatch(
      /the cluster was frozen.*Automatic failover is off/,
    );
    expect(check(p?.checks ?? [], "maintenance")).toMatchObject({
      level: "warn",
      detail: "The cluster is in maintenance: automatic failover is paused. A manual switchover still runs.",
    });
    expect(p?.cluster.frozenUntil).not.toBeNull();
    expect(p?.blockers).toEqual([]);
  });

  it("a pool has nothing to switch; an unknown cluster is null", async () => {
    await makeCluster("pool", [{ name: "pool-1" }, { name: "pool-2" }], { mode: "active_active" });
    const p = await computePreflight(h.db, "pool", NOW);
    expect(p?.blockers[0]).toMatch(/active-active pool: it has no primary to switch/);
    expect(p?.recommendedTargetId).toBeNull();
    expect(await computePreflight(h.db, "no-such-cluster", NOW)).toBeNull();
    expect(await computePreflight(h.db, "00000000-0000-4000-8000-000000000000", NOW)).toBeNull();
  });

  describe("GET /api/v1/clusters/{id}/preflight", () => {
    const doc = buildOpenApiDocument();
    const call = async (who: Actor | null, id: string) => {
      const res = await runAsActor(who, () =>
        getPreflight(new Request(`http://127.0.0.1/api/v1/clusters/${encodeURIComponent(id)}/preflight`), {
          params: Promise.resolve({ id }),
        }),
      );
      const documented = Object.keys(doc.paths["/clusters/{id}/preflight"]?.get?.responses ?? {});
      expect(documented).toContain(String(res.status));
      return { status: res.status, body: (await res.json()) as unknown, headers: res.headers };
    };

    it("answers every role that may read the fleet, by name or id, with the documented shape", async () => {
      const c = await makeCluster("api", [{ name: "api-a", primary: true }, { name: "api-b" }]);
      for (const role of ["viewer", "operator", "admin"] as const) {
        const res = await call(actor(role), "api");
        expect(res.status, role).toBe(200);
        expect(res.headers.get("cache-control")).toBe("no-store");
        const body = ClusterPreflightSchema.parse(res.body);
        expect(body.cluster.id).toBe(c.id);
        expect(body.recommendedTargetId).toBe(c.node("api-b"));
      }
      const byId = ClusterPreflightSchema.parse((await call(actor("viewer"), c.id)).body);
      expect(byId.cluster.name).toBe("api");
    });

    it("401 without an actor, 404 for an unknown cluster, 400 for an overlong id", async () => {
      expect((await call(null, "api")).status).toBe(401);
      const missing = await call(actor("viewer"), "nope");
      expect(missing).toMatchObject({ status: 404, body: { error: "not_found" } });
      expect((await call(actor("viewer"), "x".repeat(201))).body).toMatchObject({ error: "invalid_path" });
    });

    it("is in the OpenAPI document with its permission and schema", () => {
      const op = doc.paths["/clusters/{id}/preflight"]?.get;
      expect(op?.["x-permission"]).toBe("fleet.read");
      expect(doc.components.schemas.ClusterPreflight).toBeDefined();
      expect(doc.components.schemas.StandbyPreflight).toBeDefined();
    });
  });
});
