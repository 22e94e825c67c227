// The controller against real parts: Postgres, the simulator's HTTP services and SSH servers.
// Policy is sped up (200 ms probes) so each scenario takes about a second of wall time.
import { randomBytes } from "node:crypto";
import { and, eq, isNull, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { alerts, clusterAvailabilityChanges, events, nodeStateChanges, nodes } from "@/db/schema";
import { notifyInventoryChanged } from "@/server/notify/events";
import { worstCaseDetectionMs } from "@/server/policy/presets";
import type { Policy } from "@/server/policy/types";
import { startTestFleet, type TestFleet } from "@/sim/testing";
import { seedSimCluster, waitFor } from "@/test/cluster";
import { createScratchDatabase } from "@/test/db";
import { Controller } from "./controller";

const POLICY: Partial<Policy> = {
  probeIntervalMs: 200,
  tcpTimeoutMs: 200,
  httpTimeoutMs: 300,
  latencyThresholdMs: 250,
  failuresToFail: 3,
  successesToRecover: 2,
  gpuSaturationSustainS: 1,
};

describe("controller", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  let fleet: TestFleet;
  let controller: Controller;
  let ids: Map<string, string>;
  let clusterId: string;
  const secretKey = randomBytes(32);

  const stateInDb = async (name: string) =>
    (
      await h.db
        .select({ s: nodes.state })
        .from(nodes)
        .where(eq(nodes.id, ids.get(name) as string))
    )[0]?.s;

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 2 });
    fleet = await startTestFleet([
      { name: "c-a", host: "127.0.0.21", cluster: "ctl", role: "master", epoch: 1 },
      { name: "c-b", host: "127.0.0.22", cluster: "ctl", role: "standby", epoch: 1 },
      { name: "c-c", host: "127.0.0.23", cluster: "ctl", role: "standby", epoch: 1 },
    ]);
    const seeded = await seedSimCluster(h.db, {
      name: "ctl",
      mode: "active_standby",
      fleet,
      secretKey,
      roles: { "c-a": "primary", "c-b": "standby", "c-c": "standby" },
      policy: POLICY,
    });
    ids = seeded.nodeIds;
    clusterId = seeded.clusterId;
    controller = new Controller({
      databaseUrl: scratch.url,
      secretKey,
      leaseTtlMs: 2000,
      metricsPort: null,
      gpuSampleIntervalMs: 200,
      log: (l) => process.env.DEBUG_CONTROLLER && console.log(l),
    });
    await controller.start();
  }, 60_000);

  afterAll(async () => {
    await controller?.stop();
    await fleet?.stop();
    await h?.sql.end();
    await scratch?.drop();
  });

  it("leads, probes every node and records them healthy", async () => {
    expect(controller.status()).toMatchObject({ leader: true, epoch: 1, nodes: 3 });
    for (const name of ["c-a", "c-b", "c-c"]) {
      await waitFor(
        `${name} healthy in the database`,
        async () => (await stateInDb(name)) === "healthy",
        10_000,
      );
    }
    const [a] = await h.db
      .select()
      .from(nodes)
      .where(eq(nodes.id, ids.get("c-a") as string));
    expect(a?.reportedRole).toBe("master");
    // Every probe lands in history: none lost between the prober and the batched insert.
    await new Promise((r) => setTimeout(r, 2000)); // probing has been steady for a while
    const from = new Date(Date.now() - 2000);
    const to = new Date(Date.now() - 1000);
    await new Promise((r) => setTimeout(r, 1500)); // the batch covering [from, to) is flushed
    const perNode = await h.db.execute<{ node_id: string; n: number }>(
      sql`select node_id, count(*)::int as n from heartbeats where time >= ${from.toISOString()}::timestamptz and time < ${to.toISOString()}::timestamptz group by node_id`,
    );
    expect(perNode).toHaveLength(3);
    // 1 s at a 200 ms interval: 5 probes each, ±1 for phase and jitter at the window's edges.
    for (const row of perNode) expect(Math.abs(row.n - 5)).toBeLessThanOrEqual(1);
    await waitFor("the cluster recorded as available", async () => {
      const rows = await h.db
        .select()
        .from(clusterAvailabilityChanges)
        .where(eq(clusterAvailabilityChanges.clusterId, clusterId));
      return rows.some((r) => r.available);
    });
  });

  it("fails a crashed node within failures × interval + timeout, and recovers it", async () => {
    const bound = worstCaseDetectionMs({ ...(POLICY as Policy) });
    const node = fleet.fleet.getNode("c-a");
    const t0 = Date.now();
    await node?.applyFault("crash");
    await waitFor(
      "c-a failed in memory",
      () => controller.nodeState(ids.get("c-a") as string) === "failed",
      bound + 1500,
      10,
    );
    const detectedMs = Date.now() - t0;
    // The bound is the policy's worst case; the slack covers tick scheduling on a busy 2-core box.
    expect(detectedMs).toBeLessThanOrEqual(bound + 1000);

    await waitFor("the failure in the database", async () => (await stateInDb("c-a")) === "failed", 5000);
    const changes = await h.db
      .select()
      .from(nodeStateChanges)
      .where(eq(nodeStateChanges.nodeId, ids.get("c-a") as string));
    expect(changes.map((c) => c.toState)).toEqual(expect.arrayContaining(["suspect", "failed"]));
    expect(changes.find((c) => c.toState === "failed")?.reason).toMatch(/TCP connect refused/);
    expect(changes.every((c) => c.controllerEpoch === 1)).toBe(true);
    await waitFor("the cluster recorded as unavailable", async () => {
      const rows = await h.db
        .select()
        .from(clusterAvailabilityChanges)
        .where(eq(clusterAvailabilityChanges.clusterId, clusterId));
      return rows.some((r) => !r.available);
    });

    await node?.applyFault("recover");
    await waitFor("c-a healthy again", async () => (await stateInDb("c-a")) === "healthy", 5000);
  });

  it("fails a hung node by timeout without delaying the others' probes", async () => {
    const node = fleet.fleet.getNode("c-c");
    await node?.applyFault("hang");
    await waitFor("c-c failed", () => controller.nodeState(ids.get("c-c") as string) === "failed", 5000, 20);
    // The healthy nodes stayed healthy the whole time.
    expect(controller.nodeState(ids.get("c-a") as string)).toBe("healthy");
    expect(controller.nodeState(ids.get("c-b") as string)).toBe("healthy");
    const failed = await waitFor("the hang's reason", async () => {
      const rows = await h.db
        .select()
        .from(nodeStateChanges)
        .where(
          and(eq(nodeStateChanges.nodeId, ids.get("c-c") as string), eq(nodeStateChanges.toState, "failed")),
        );
      return rows[0];
    });
    expect(failed.reason).toMatch(/HTTP timed out/);
    await node?.applyFault("recover");
    await waitFor(
      "c-c healthy again",
      () => controller.nodeState(ids.get("c-c") as string) === "healthy",
      5000,
    );
  });

  it("never fails a node for 100 % GPU utilisation, but raises a saturation alert", async () => {
    const node = fleet.fleet.getNode("c-b");
    await node?.applyFault("gpu_saturated");
    const alert = await waitFor(
      "a saturation alert",
      async () =>
        (
          await h.db
            .select()
            .from(alerts)
            .where(and(eq(alerts.kind, "gpu_saturation"), isNull(alerts.resolvedAt)))
        )[0],
      8000,
    );
    expect(alert.nodeId).toBe(ids.get("c-b"));
    expect(controller.nodeState(ids.get("c-b") as string)).toBe("healthy");
    await node?.applyFault("recover");
    await waitFor(
      "the saturation alert resolved",
      async () => (await h.db.select().from(alerts).where(eq(alerts.id, alert.id)))[0]?.resolvedAt,
      8000,
    );
  });

  it("turns a lost GPU driver into a telemetry-lost signal", async () => {
    const node = fleet.fleet.getNode("c-b");
    await node?.applyFault("gpu_lost");
    const ev = await waitFor(
      "a telemetry-lost event",
      async () => (await h.db.select().from(events).where(eq(events.kind, "gpu.telemetry_lost")))[0],
      8000,
    );
    expect(ev.message).toMatch(/GPU telemetry lost/);
    expect(ev.data).toMatchObject({ code: "driver_unreachable" });
    await node?.applyFault("recover");
    await waitFor(
      "telemetry restored",
      async () => (await h.db.select().from(events).where(eq(events.kind, "gpu.telemetry_restored")))[0],
      8000,
    );
  });

  it("stops SSH to a node whose host key no longer matches the pin, and alerts", async () => {
    await h.db
      .update(nodes)
      .set({ hostKeyFingerprint: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })
      .where(eq(nodes.id, ids.get("c-c") as string));
    await h.db.transaction((tx) => notifyInventoryChanged(tx, clusterId));
    const alert = await waitFor(
      "a host-key-changed alert",
      async () => (await h.db.select().from(alerts).where(eq(alerts.kind, "host_key_changed")))[0],
      10_000,
    );
    expect(alert.nodeId).toBe(ids.get("c-c"));
    expect(alert.message).toMatch(/host key changed/);

    // The operator re-pins the right key: telemetry flows again and the alert resolves.
    await h.db
      .update(nodes)
      .set({ hostKeyFingerprint: fleet.fleet.getNode("c-c")?.hostKeyFingerprint })
      .where(eq(nodes.id, ids.get("c-c") as string));
    await h.db.transaction((tx) => notifyInventoryChanged(tx, clusterId));
    await waitFor(
      "the host-key alert resolved after the re-pin",
      async () => (await h.db.select().from(alerts).where(eq(alerts.id, alert.id)))[0]?.resolvedAt,
      10_000,
    );
  });

  it("a new leader adopts alerts the previous one left open, and resolves those no longer firing", async () => {
    await controller.stop();
    const [stale] = await h.db
      .insert(alerts)
      .values({
        kind: "gpu_temperature",
        severity: "warning",
        clusterId,
        nodeId: ids.get("c-a") as string,
        message: "c-a: GPU temperature 92 °C > 85 °C (left open by a previous leader)",
      })
      .returning();
    controller = new Controller({
      databaseUrl: scratch.url,
      secretKey,
      leaseTtlMs: 2000,
      metricsPort: null,
      gpuSampleIntervalMs: 200,
      log: () => {},
    });
    await controller.start();
    expect(controller.status()).toMatchObject({ leader: true, epoch: 2 });
    await waitFor(
      "the stale alert resolved",
      async () =>
        (
          await h.db
            .select()
            .from(alerts)
            .where(eq(alerts.id, stale?.id as string))
        )[0]?.resolvedAt,
      10_000,
    );
  });
});
