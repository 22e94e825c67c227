// Active-active pools: the controller ejects a failed member from the nginx upstream and readmits it
// after `successesToRecover` healthy probes; an operator drains a member and brings it back; the
// last healthy member is never ejected.

import { readFile } from "node:fs/promises";
import { desc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { nodes, switchovers } from "@/db/schema";
import { Controller } from "@/server/controller/controller";
import { waitFor } from "@/test/cluster";
import { type SwitchoverRig, startSwitchoverRig } from "@/test/switchover-rig";
import { requestPoolChange } from "./request";

describe("active-active pool membership", () => {
  let rig: SwitchoverRig;
  let controller: Controller;
  const lbStatus = async (name: string) =>
    (await rig.h.db.select({ s: nodes.lbStatus }).from(nodes).where(eq(nodes.name, name)))[0]?.s;
  const upstream = () => readFile(rig.nginx.upstreamPath("pool"), "utf8");
  const serverLine = (text: string, host: string) =>
    text.split("\n").find((l) => l.includes(`server ${host}:`)) ?? "";
  const latest = async () =>
    (await rig.h.db.select().from(switchovers).orderBy(desc(switchovers.requestedAt)).limit(1))[0];

  /** Waits until nothing is in flight for the pool (a status flips just before its row completes). */
  const settled = () =>
    waitFor(
      "no switchover in flight",
      async () => {
        const rows = await rig.h.db.select({ state: switchovers.state }).from(switchovers);
        return rows.every((r) => ["completed", "rolled_back", "failed", "aborted"].includes(r.state));
      },
      15_000,
      50,
    );

  beforeAll(async () => {
    rig = await startSwitchoverRig({
      baseUrl: inject("databaseUrl"),
      clusterName: "pool",
      mode: "active_active",
      nodes: [
        { name: "pool-1", host: "127.0.0.71", role: "member" },
        { name: "pool-2", host: "127.0.0.72", role: "member" },
        { name: "pool-3", host: "127.0.0.73", role: "member" },
      ],
      lbHost: "127.0.0.70",
      policy: {
        probeIntervalMs: 200,
        tcpTimeoutMs: 200,
        httpTimeoutMs: 300,
        failuresToFail: 3,
        successesToRecover: 3,
      },
    });
    controller = new Controller({
      databaseUrl: rig.url,
      secretKey: rig.secretKey,
      leaseTtlMs: 2_000,
      metricsPort: null,
      gpu: false,
      log: (l) => process.env.DEBUG_CONTROLLER && console.log(l),
    });
    await controller.start();
    for (const id of rig.nodeIds.values()) {
      await waitFor("members healthy", () => controller.nodeState(id) === "healthy", 15_000);
    }
  }, 90_000);

  afterAll(async () => {
    await controller?.stop();
    await rig?.stop();
  });

  it("ejects a crashed member and readmits it once it is healthy again", async () => {
    const node = rig.fleet.fleet.getNode("pool-2");
    await node.applyFault("crash");
    await waitFor("pool-2 ejected", async () => (await lbStatus("pool-2")) === "ejected", 15_000, 50);
    expect(serverLine(await upstream(), node.host)).toMatch(/\bdown\b/);
    expect(serverLine(await upstream(), "127.0.0.71")).not.toMatch(/\bdown\b/);
    expect((await latest())?.kind).toBe("eject");
    // Every request through nginx is still answered by the two others.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${rig.endpoint}/api/v1/search?q=x`);
      const body = (await res.json()) as { node: string };
      expect(res.status).toBe(200);
      expect(body.node).not.toBe("pool-2");
    }
    await node.applyFault("recover");
    await waitFor("pool-2 readmitted", async () => (await lbStatus("pool-2")) === "in", 15_000, 50);
    expect(serverLine(await upstream(), node.host)).not.toMatch(/\bdown\b/);
    expect((await latest())?.kind).toBe("readmit");
    await settled();
  }, 45_000);

  it("drains a member on request and brings it back", async () => {
    const actor = { label: "test", role: "operator" };
    const { id } = await requestPoolChange(rig.h.db, {
      node: "pool-1",
      kind: "drain",
      reason: "driver upgrade",
      actor,
    });
    await waitFor("drained", async () => (await lbStatus("pool-1")) === "drained", 15_000, 50);
    await settled();
    const [row] = await rig.h.db.select().from(switchovers).where(eq(switchovers.id, id));
    expect(row?.state).toBe("completed");
    expect(serverLine(await upstream(), "127.0.0.71")).toMatch(/\bdown\b/);
    // A drained member stays out even though it is healthy: the controller does not readmit it.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await lbStatus("pool-1")).toBe("drained");
    await requestPoolChange(rig.h.db, { node: "pool-1", kind: "readmit", reason: "upgrade done", actor });
    await waitFor("back in", async () => (await lbStatus("pool-1")) === "in", 15_000, 50);
    await settled();
  }, 45_000);

  it("never ejects the last healthy member", async () => {
    const actor = { label: "test", role: "operator" };
    await requestPoolChange(rig.h.db, { node: "pool-1", kind: "drain", reason: "x", actor });
    await waitFor("pool-1 drained", async () => (await lbStatus("pool-1")) === "drained", 15_000, 50);
    await settled();
    await requestPoolChange(rig.h.db, { node: "pool-2", kind: "drain", reason: "x", actor });
    await waitFor("pool-2 drained", async () => (await lbStatus("pool-2")) === "drained", 15_000, 50);
    await settled();
    // pool-3 is the last one serving: draining it is refused, and a crash does not eject it.
    const { id } = await requestPoolChange(rig.h.db, { node: "pool-3", kind: "drain", reason: "x", actor });
    const refused = await waitFor(
      "the drain to be refused",
      async () => {
        const [r] = await rig.h.db.select().from(switchovers).where(eq(switchovers.id, id));
        return r?.state === "failed" ? r : null;
      },
      15_000,
      50,
    );
    expect(refused.error).toMatch(/no other healthy member/);
    await rig.fleet.fleet.getNode("pool-3").applyFault("crash");
    await waitFor(
      "pool-3 failed",
      () => controller.nodeState(rig.nodeIds.get("pool-3") as string) === "failed",
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await lbStatus("pool-3")).toBe("in");
    expect(serverLine(await upstream(), "127.0.0.73")).not.toMatch(/\bdown\b/);
    await rig.fleet.fleet.getNode("pool-3").applyFault("recover");
  }, 60_000);
});
