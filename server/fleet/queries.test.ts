// The fleet overview read model against a real Postgres: status, 30-day availability ("no data
// yet" rather than a made-up 100 %), firing alerts for the cluster and its nodes, the latest three
// switchovers, and a fixed number of queries whatever the fleet size.
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import * as schema from "@/db/schema";
import { alerts, clusterAvailabilityChanges, clusters, nodes, switchovers } from "@/db/schema";
import { createScratchDatabase } from "@/test/db";
import { deriveClusterStatus, type FleetCluster, listFleetOverview } from "./queries";

const NOW = new Date("2026-03-31T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms);

type StatusInput = Parameters<typeof deriveClusterStatus>[0];
const node = (id: string, state: StatusInput["nodes"][number]["state"], role = "standby" as const) => ({
  id,
  role,
  state,
  maintenance: false,
});
const as = (over: Partial<StatusInput>): StatusInput => ({
  mode: "active_standby",
  primaryNodeId: "p",
  maintenance: false,
  frozenUntil: null,
  inFlightSwitchoverId: null,
  nodes: [node("p", "healthy"), node("s", "healthy")],
  ...over,
});

describe("deriveClusterStatus", () => {
  const now = NOW.getTime();
  it.each<[string, StatusInput, ReturnType<typeof deriveClusterStatus>]>([
    ["every node healthy", as({}), "healthy"],
    ["a standby failed", as({ nodes: [node("p", "healthy"), node("s", "failed")] }), "degraded"],
    ["the primary suspect", as({ nodes: [node("p", "suspect"), node("s", "healthy")] }), "degraded"],
    ["the primary failed", as({ nodes: [node("p", "failed"), node("s", "healthy")] }), "down"],
    ["no primary at all", as({ primaryNodeId: null }), "down"],
    [
      "a switchover in flight beats everything",
      as({ inFlightSwitchoverId: "sw", nodes: [node("p", "failed"), node("s", "healthy")] }),
      "failing_over",
    ],
    ["maintenance", as({ maintenance: true, nodes: [node("p", "healthy"), node("s", "failed")] }), "frozen"],
    ["frozen until later", as({ frozenUntil: new Date(now + HOUR).toISOString() }), "frozen"],
    ["a freeze that has passed", as({ frozenUntil: new Date(now - HOUR).toISOString() }), "healthy"],
    [
      "down while frozen still reads down",
      as({ maintenance: true, nodes: [node("p", "failed"), node("s", "healthy")] }),
      "down",
    ],
    ["no nodes", as({ nodes: [] }), "unknown"],
    ["nothing probed yet", as({ nodes: [node("p", "unknown"), node("s", "unknown")] }), "unknown"],
    [
      "a pool with one member failed",
      as({
        mode: "active_active",
        primaryNodeId: null,
        nodes: [node("a", "healthy", "member" as never), node("b", "failed", "member" as never)],
      }),
      "degraded",
    ],
    [
      "a pool with every member failed",
      as({
        mode: "active_active",
        primaryNodeId: null,
        nodes: [node("a", "failed", "member" as never), node("b", "failed", "member" as never)],
      }),
      "down",
    ],
  ])("%s", (_, input, expected) => {
    expect(deriveClusterStatus(input, now)).toBe(expected);
  });
});

describe("listFleetOverview (real Postgres)", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const ids: Record<string, string> = {};
  let hosts = 0;

  const addCluster = async (name: string, over: Partial<typeof clusters.$inferInsert> = {}) => {
    const [c] = await h.db
      .insert(clusters)
      .values({ name, mode: "active_standby", slaTargetPct: 99.9, epoch: 1, ...over })
      .returning();
    if (!c) throw new Error("no cluster");
    ids[name] = c.id;
    return c.id;
  };
  const addNode = async (clusterId: string, name: string, over: Partial<typeof nodes.$inferInsert> = {}) => {
    const [n] = await h.db
      .insert(nodes)
      .values({ clusterId, name, host: `10.0.0.${++hosts}`, role: "standby", state: "healthy", ...over })
      .returning();
    if (!n) throw new Error("no node");
    ids[name] = n.id;
    return n.id;
  };

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4, applicationName: "fleet-test" });

    // "alpha": primary a1 failed, standby a2 healthy, an auto failover in flight, 4 older switchovers.
    const alpha = await addCluster("alpha", { slaTargetPct: 99.95 });
    const a1 = await addNode(alpha, "a1", { role: "primary", state: "failed", priority: 0 });
    const a2 = await addNode(alpha, "a2", { priority: 10 });
    await h.db.update(clusters).set({ primaryNodeId: a1 }).where(eq(clusters.id, alpha));
    for (const [i, state] of (["completed", "rolled_back", "failed", "completed"] as const).entries()) {
      await h.db.insert(switchovers).values({
        clusterId: alpha,
        kind: "manual",
        state,
        fromNodeId: a2,
        toNodeId: a1,
        requestedByLabel: "op",
        reason: `old ${i}`,
        requestedAt: ago((10 - i) * HOUR),
        finishedAt: ago((10 - i) * HOUR - 5_000),
      });
    }
    const [inFlight] = await h.db
      .insert(switchovers)
      .values({
        clusterId: alpha,
        kind: "auto",
        state: "fencing",
        fromNodeId: a1,
        toNodeId: a2,
        requestedByLabel: "controller",
        reason: "primary a1 failed",
        requestedAt: ago(10_000),
      })
      .returning();
    ids.inFlight = inFlight?.id ?? "";
    // Up for the whole window except 1 hour down 2 days ago; the last change before the window says "up".
    await h.db.insert(clusterAvailabilityChanges).values([
      { clusterId: alpha, at: ago(40 * DAY), available: true, reason: "seed", controllerEpoch: 1 },
      { clusterId: alpha, at: ago(2 * DAY), available: false, reason: "down", controllerEpoch: 1 },
      { clusterId: alpha, at: ago(2 * DAY - HOUR), available: true, reason: "up", controllerEpoch: 1 },
    ]);
    // Alerts: a warning on the cluster, a critical on a node (cluster id left unset), a resolved one.
    await h.db.insert(alerts).values([
      { kind: "gpu_hot", severity: "warning", clusterId: alpha, nodeId: a2, message: "a2: GPU 90 °C" },
      {
        kind: "tcp",
        severity: "critical",
        nodeId: a1,
        message: "a1: connection refused",
        firedAt: ago(60_000),
      },
      { kind: "old", severity: "critical", clusterId: alpha, message: "resolved", resolvedAt: ago(1_000) },
    ]);

    // "beta": healthy, no history at all, frozen by an admin.
    const beta = await addCluster("beta", { frozenUntil: new Date(NOW.getTime() + HOUR) });
    const b1 = await addNode(beta, "b1", { role: "primary", priority: 0 });
    await h.db.update(clusters).set({ primaryNodeId: b1 }).where(eq(clusters.id, beta));

    // "gamma": no nodes.
    await addCluster("gamma");
  }, 60_000);

  afterAll(async () => {
    await h?.sql.end({ timeout: 5 });
    await scratch?.drop();
  });

  const byName = async (): Promise<Map<string, FleetCluster>> => {
    const o = await listFleetOverview(h.db, { now: NOW });
    expect(o.generatedAt).toBe(NOW.toISOString());
    return new Map(o.clusters.map((c) => [c.name, c]));
  };

  it("lists every cluster by name with its nodes and status", async () => {
    const all = await byName();
    expect([...all.keys()]).toEqual(["alpha", "beta", "gamma"]);
    expect(all.get("alpha")).toMatchObject({ status: "failing_over", inFlightSwitchoverId: ids.inFlight });
    expect(all.get("alpha")?.nodes.map((n) => [n.name, n.state])).toEqual([
      ["a1", "failed"],
      ["a2", "healthy"],
    ]);
    expect(all.get("beta")).toMatchObject({ status: "frozen", frozen: true, inFlightSwitchoverId: null });
    expect(all.get("gamma")).toMatchObject({ status: "unknown", frozen: false, nodes: [] });
  });

  it("computes 30-day availability from state intervals, and says null when nothing is known", async () => {
    const all = await byName();
    const a = all.get("alpha")?.availability;
    expect(a).toMatchObject({ targetPct: 99.95, windowDays: 30, downtimeMs: HOUR, knownMs: 30 * DAY });
    expect(a?.pct).toBeCloseTo((1 - HOUR / (30 * DAY)) * 100, 9);
    expect(all.get("beta")?.availability).toMatchObject({ pct: null, knownMs: 0, downtimeMs: 0 });
  });

  it("counts unresolved alerts on the cluster and its nodes and names the most severe", async () => {
    const all = await byName();
    expect(all.get("alpha")?.alerts).toEqual({
      firing: 2,
      worst: { severity: "critical", message: "a1: connection refused", firedAt: ago(60_000).toISOString() },
    });
    expect(all.get("beta")?.alerts).toEqual({ firing: 0, worst: null });
  });

  it("shows the latest three switchovers, newest first, with node names", async () => {
    const recent = (await byName()).get("alpha")?.recentSwitchovers ?? [];
    expect(recent.map((s) => [s.kind, s.state, s.from, s.to])).toEqual([
      ["auto", "fencing", "a1", "a2"],
      ["manual", "completed", "a2", "a1"],
      ["manual", "failed", "a2", "a1"],
    ]);
    expect(recent[0]).toMatchObject({
      id: ids.inFlight,
      requestedAt: ago(10_000).toISOString(),
      finishedAt: null,
    });
    expect(recent[1]?.finishedAt).toBe(ago(7 * HOUR - 5_000).toISOString());
  });

  it("uses a fixed number of queries whatever the number of clusters", async () => {
    let sent = 0;
    const counted = postgres(scratch.url, { max: 1, onnotice: () => {}, debug: () => void sent++ });
    const db = drizzle(counted, { schema });
    try {
      await listFleetOverview(db, { now: NOW }); // the first call also fetches the enum types
      sent = 0;
      await listFleetOverview(db, { now: NOW });
      const few = sent;
      expect(few).toBeGreaterThan(0);
      for (let i = 0; i < 20; i++) {
        const id = await addCluster(`many-${i}`);
        await addNode(id, `many-${i}-n`, { role: "primary" });
      }
      sent = 0;
      const o = await listFleetOverview(db, { now: NOW });
      expect(o.clusters).toHaveLength(23);
      expect(sent).toBe(few);
    } finally {
      await counted.end({ timeout: 5 });
    }
  });
});
