// The switchover engine end to end: a real controller (in-process), real Postgres, the simulator's
// nodes over real SSH, and a real nginx in front whose upstream the engine rewrites over SSH on a
// simulated LB host. Traffic is real HTTP through nginx.
import { readFile } from "node:fs/promises";
import http from "node:http";
import { and, desc, eq, gt } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  alerts,
  auditLog,
  clusterAvailabilityChanges,
  clusters,
  events,
  nodes,
  switchoverSteps,
  switchovers,
} from "@/db/schema";
import { Controller } from "@/server/controller/controller";
import type { Policy } from "@/server/policy/types";
import { findDoubleMasterIntervals } from "@/sim/role-log";
import { waitFor } from "@/test/cluster";
import { type SwitchoverRig, startSwitchoverRig, whoServes } from "@/test/switchover-rig";
import { DEFAULT_PLAYBOOKS } from "./default-playbooks";
import { savePlaybookVersion } from "./playbook";
import type { SwitchoverReport } from "./report";
import { abortSwitchover, requestSwitchover, SwitchoverRequestError } from "./request";

const POLICY: Partial<Policy> = {
  probeIntervalMs: 200,
  tcpTimeoutMs: 200,
  httpTimeoutMs: 300,
  latencyThresholdMs: 250,
  failuresToFail: 3,
  successesToRecover: 2,
  gpuSaturationSustainS: 1,
  cooldownS: 1,
  verifyDeadlineMs: 2_000,
};
const ACTOR = { label: "test operator", role: "operator" };
const TERMINAL = ["completed", "rolled_back", "failed", "aborted"];

/**
 * One GET on a fresh connection. A keep-alive connection that nginx closes as an old worker exits
 * after a reload races with the next request on it; clients that reuse connections retry idempotent
 * requests on that error (browsers, Go, curl), fetch does not, so the test client does not reuse.
 */
function get(url: string): Promise<{ status: number; node: string | null; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 3_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => {
        let node: string | null = null;
        try {
          node = (JSON.parse(body) as { node?: string }).node ?? null;
        } catch {}
        resolve({ status: res.statusCode ?? 0, node });
      });
      res.on("error", (err) => resolve({ status: 0, node: null, error: err.message }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ status: 0, node: null, error: err.message }));
  });
}

/** Sends GET searches through nginx every `everyMs` until stopped; counts what failed. */
function startTraffic(endpoint: string, everyMs = 20) {
  let stopped = false;
  let sent = 0;
  const failures: string[] = [];
  const servedBy = new Map<string, number>();
  const loop = (async () => {
    const deadline = Date.now() + 60_000;
    while (!stopped && Date.now() < deadline && sent < 5_000) {
      sent++;
      const res = await get(`${endpoint}/api/v1/search?q=gpu`);
      if (res.status !== 200) failures.push(res.error ?? `HTTP ${res.status}`);
      else if (res.node) servedBy.set(res.node, (servedBy.get(res.node) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { sent, failures, servedBy };
    },
  };
}

describe("switchover engine against real nginx, SSH and Postgres", () => {
  let rig: SwitchoverRig;
  let controller: Controller;

  const primaryName = async () => {
    const [c] = await rig.h.db.select().from(clusters).where(eq(clusters.id, rig.clusterId));
    const [n] = c?.primaryNodeId
      ? await rig.h.db.select().from(nodes).where(eq(nodes.id, c.primaryNodeId))
      : [];
    return { name: n?.name ?? null, epoch: c?.epoch ?? null };
  };
  const finished = async (id: string, timeoutMs = 20_000) =>
    await waitFor(
      `switchover ${id} to end`,
      async () => {
        const [row] = await rig.h.db.select().from(switchovers).where(eq(switchovers.id, id));
        return row && TERMINAL.includes(row.state) ? row : null;
      },
      timeoutMs,
      50,
    );
  /** Both nodes healthy and nothing in flight (a readmit may follow a recovery). */
  const healthy = async (...names: string[]) => {
    for (const name of names) {
      const id = rig.nodeIds.get(name) as string;
      await waitFor(`${name} healthy`, () => controller.nodeState(id) === "healthy", 15_000);
    }
    await waitFor(
      "no switchover in flight, and every node back in the upstream (a readmit follows a recovery)",
      async () => {
        const rows = await rig.h.db.select({ state: switchovers.state }).from(switchovers);
        const members = await rig.h.db.select({ lbStatus: nodes.lbStatus }).from(nodes);
        return rows.every((r) => TERMINAL.includes(r.state)) && members.every((n) => n.lbStatus === "in");
      },
      15_000,
    );
  };

  beforeAll(async () => {
    rig = await startSwitchoverRig({
      baseUrl: inject("databaseUrl"),
      clusterName: "sw",
      nodes: [
        { name: "sw-a", host: "127.0.0.61", role: "primary" },
        { name: "sw-b", host: "127.0.0.62", role: "standby" },
      ],
      lbHost: "127.0.0.60",
      policy: POLICY,
    });
    controller = new Controller({
      databaseUrl: rig.url,
      secretKey: rig.secretKey,
      leaseTtlMs: 2_000,
      metricsPort: null,
      gpuSampleIntervalMs: 200,
      log: (l) => process.env.DEBUG_CONTROLLER && console.log(l),
    });
    await controller.start();
    await healthy("sw-a", "sw-b");
  }, 90_000);

  afterAll(async () => {
    await controller?.stop();
    await rig?.stop();
  });

  it("a manual switchover moves traffic, degrades the old primary, and leaves an audit entry and a report", async () => {
    expect((await whoServes(rig.endpoint)).node).toBe("sw-a");
    const traffic = startTraffic(rig.endpoint);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const { id } = await requestSwitchover(rig.h.db, {
      cluster: "sw",
      target: "sw-b",
      reason: "driver upgrade on sw-a",
      kind: "manual",
      actor: ACTOR,
    });
    const row = await finished(id);
    const tookMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 300));
    const { sent, failures, servedBy } = await traffic.stop();

    expect(row.state, row.error ?? "").toBe("completed");
    expect(tookMs).toBeLessThan(10_000);
    expect((await whoServes(rig.endpoint)).node).toBe("sw-b");
    expect(rig.fleet.fleet.getNode("sw-a").role).toBe("standby");
    expect(rig.fleet.fleet.getNode("sw-b").role).toBe("master");
    expect(await primaryName()).toEqual({ name: "sw-b", epoch: 2 });
    expect(rig.fleet.fleet.getNode("sw-b").epoch).toBe(2);
    // Traffic kept flowing: every request answered, first by a, then by b.
    expect(sent).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    expect(servedBy.get("sw-a")).toBeGreaterThan(0);
    expect(servedBy.get("sw-b")).toBeGreaterThan(0);
    // The journal: every phase, in order, each step succeeded.
    const steps = await rig.h.db
      .select()
      .from(switchoverSteps)
      .where(eq(switchoverSteps.switchoverId, id))
      .orderBy(switchoverSteps.seq);
    expect([...new Set(steps.map((s) => s.phase))]).toEqual([
      "preflight",
      "fencing",
      "switching_traffic",
      "activating",
      "verifying",
    ]);
    expect(steps.every((s) => s.state === "succeeded" && s.exitCode === 0)).toBe(true);
    const lbStep = steps.find((s) => s.phase === "switching_traffic");
    expect(lbStep?.command).toContain("switchyard-epoch: 2");
    expect(lbStep?.stdout).toMatch(/epoch 2/);
    // The audit entry, written with the request.
    const [audit] = await rig.h.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, id), eq(auditLog.action, "switchover.request.manual")));
    expect(audit).toMatchObject({ actorLabel: "test operator", reason: "driver upgrade on sw-a" });
    // The report, kept on the row.
    const report = row.report as SwitchoverReport;
    expect(report).toMatchObject({
      id,
      state: "completed",
      from: "sw-a",
      to: "sw-b",
      epoch: 2,
      kind: "manual",
    });
    expect(report.steps).toHaveLength(steps.length);
    expect(report.steps[0]).toEqual(
      expect.objectContaining({ command: expect.any(String), exitCode: 0, durationMs: expect.any(Number) }),
    );
    expect(report.phases.map((p) => p.phase)).toContain("switching_traffic");
    expect(findDoubleMasterIntervals(rig.fleet.fleet.roleLog.entries, ["sw-a", "sw-b"])).toEqual([]);
  }, 60_000);

  it("two concurrent requests: one runs, the other gets a clear error; a stale epoch cannot activate", async () => {
    await healthy("sw-a", "sw-b");
    const attempts = await Promise.allSettled(
      [1, 2].map((i) =>
        requestSwitchover(rig.h.db, { cluster: "sw", reason: `race ${i}`, kind: "manual", actor: ACTOR }),
      ),
    );
    const ok = attempts.filter((a) => a.status === "fulfilled");
    const refused = attempts.filter((a) => a.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const err = (refused[0] as PromiseRejectedResult).reason as SwitchoverRequestError;
    expect(err).toBeInstanceOf(SwitchoverRequestError);
    expect(err.code).toBe("in_flight");
    expect(err.message).toMatch(/already in flight/);
    const row = await finished((ok[0] as PromiseFulfilledResult<{ id: string }>).value.id);
    expect(row.state, row.error ?? "").toBe("completed");
    expect(await primaryName()).toEqual({ name: "sw-a", epoch: 3 });

    // sw-b has seen epoch 3 (it was degraded with it): an activation carrying epoch 2 is refused.
    const b = rig.fleet.fleet.getNode("sw-b");
    const res = await fetch(`http://${b.host}:${b.httpPort}/api/v1/activate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ epoch: 2 }),
    });
    expect(res.status).toBe(409);
    expect(b.role).toBe("standby");
  }, 60_000);

  it("rolls back when the new primary never reports master within the verify deadline", async () => {
    await healthy("sw-a", "sw-b");
    const original = DEFAULT_PLAYBOOKS.find((p) => p.kind === "activate");
    if (!original) throw new Error("no default activate playbook");
    // An activate playbook that does nothing: sw-b stays standby, verify must give up and roll back.
    await savePlaybookVersion(rig.h.db, {
      name: original.name,
      kind: "activate",
      steps: [
        {
          name: "pretend-to-activate",
          target: "new_primary",
          command: "true",
          timeoutMs: 5_000,
          expect: { exitCode: 0 },
          onFailure: "rollback",
        },
      ],
    });
    try {
      const traffic = startTraffic(rig.endpoint);
      const { id } = await requestSwitchover(rig.h.db, {
        cluster: "sw",
        target: "sw-b",
        reason: "rollback test",
        kind: "manual",
        actor: ACTOR,
      });
      const row = await finished(id, 30_000);
      const { failures } = await traffic.stop();
      expect(row.state, row.error ?? "").toBe("rolled_back");
      expect(row.error).toMatch(/not master/);
      // Back where it started, at a newer epoch (the forward one, then the rollback's).
      expect(await primaryName()).toEqual({ name: "sw-a", epoch: 5 });
      expect(rig.fleet.fleet.getNode("sw-a").role).toBe("master");
      expect(rig.fleet.fleet.getNode("sw-b").role).toBe("standby");
      expect((await whoServes(rig.endpoint)).node).toBe("sw-a");
      expect(failures).toEqual([]);
      const phases = await rig.h.db
        .select({ phase: switchoverSteps.phase, state: switchoverSteps.state })
        .from(switchoverSteps)
        .where(eq(switchoverSteps.switchoverId, id))
        .orderBy(switchoverSteps.seq);
      expect(phases.some((p) => p.phase === "verifying" && p.state === "failed")).toBe(true);
      expect(phases.filter((p) => p.phase === "rolling_back").every((p) => p.state === "succeeded")).toBe(
        true,
      );
      const [alert] = await rig.h.db
        .select()
        .from(alerts)
        .where(and(eq(alerts.clusterId, rig.clusterId), eq(alerts.kind, "switchover_failed")));
      expect(alert?.message).toMatch(/rolled back/);
      expect(findDoubleMasterIntervals(rig.fleet.fleet.roleLog.entries, ["sw-a", "sw-b"])).toEqual([]);
    } finally {
      await savePlaybookVersion(rig.h.db, { name: original.name, kind: "activate", steps: original.steps });
    }
  }, 60_000);

  it("does not fail over for a saturated GPU alone, nor for a blip shorter than the window", async () => {
    await healthy("sw-a", "sw-b");
    const before = await rig.h.db.select({ id: switchovers.id }).from(switchovers);
    const a = rig.fleet.fleet.getNode("sw-a");
    await a.applyFault("gpu_saturated");
    // A health blip: 2 failed probes at 200 ms, under the 3 it takes to fail.
    await a.applyFault("http503");
    await new Promise((r) => setTimeout(r, 380));
    await a.clearFault("http503");
    await new Promise((r) => setTimeout(r, 3_000));
    await a.applyFault("recover");
    const after = await rig.h.db.select({ id: switchovers.id }).from(switchovers);
    expect(after.length).toBe(before.length);
    expect(controller.nodeState(rig.nodeIds.get("sw-a") as string)).not.toBe("failed");
    expect((await primaryName()).name).toBe("sw-a");
  }, 30_000);

  it("fails over automatically when the primary's process crashes, and records the evidence", async () => {
    await healthy("sw-a", "sw-b");
    const traffic = startTraffic(rig.endpoint);
    const crashedAt = Date.now();
    await rig.fleet.fleet.getNode("sw-a").applyFault("crash");
    const row = await waitFor(
      "an automatic switchover to complete",
      async () => {
        const [r] = await rig.h.db
          .select()
          .from(switchovers)
          .where(eq(switchovers.kind, "auto"))
          .orderBy(desc(switchovers.requestedAt))
          .limit(1);
        return r && TERMINAL.includes(r.state) ? r : null;
      },
      20_000,
      50,
    );
    const recoveredMs = Date.now() - crashedAt;
    const { failures } = await traffic.stop();
    expect(row.state, row.error ?? "").toBe("completed");
    expect(recoveredMs).toBeLessThan(15_000);
    expect((await primaryName()).name).toBe("sw-b");
    expect((await whoServes(rig.endpoint)).node).toBe("sw-b");
    expect(row.requestedByLabel).toBe("controller");
    expect(row.evidence).toMatchObject({
      primary: { name: "sw-a", state: "failed" },
      standby: { name: "sw-b" },
    });
    // nginx retried idempotent requests on the backup while the controller decided.
    expect(failures).toEqual([]);
    // The outage that began when sw-a failed ends when sw-b becomes the primary.
    await waitFor("availability recorded back up", async () => {
      const [last] = await rig.h.db
        .select()
        .from(clusterAvailabilityChanges)
        .where(eq(clusterAvailabilityChanges.clusterId, rig.clusterId))
        .orderBy(desc(clusterAvailabilityChanges.at))
        .limit(1);
      return last?.available === true;
    });
    // Degrading the dead primary failed and the playbook went on (onFailure: continue).
    const degrade = await rig.h.db
      .select()
      .from(switchoverSteps)
      .where(and(eq(switchoverSteps.switchoverId, row.id), eq(switchoverSteps.phase, "fencing")));
    expect(degrade[0]?.state).toBe("failed");
    // No automatic failback once sw-a is back; it came back believing it is master (as a real
    // service would), so the controller degrades it with the current epoch.
    await rig.fleet.fleet.getNode("sw-a").applyFault("recover");
    await waitFor(
      "sw-a fenced back to standby",
      () => rig.fleet.fleet.getNode("sw-a").role === "standby",
      10_000,
    );
    const fenced = await waitFor("the fence event", async () => {
      const [e] = await rig.h.db
        .select()
        .from(events)
        .where(and(eq(events.kind, "node.fenced"), eq(events.nodeId, rig.nodeIds.get("sw-a") as string)));
      return e;
    });
    expect(fenced?.message).toMatch(/degraded it at epoch/);
    // The failover left sw-a `down` in the upstream; healthy and fenced, it goes back in as a backup.
    await waitFor(
      "sw-a back in the upstream as a backup",
      async () => {
        const [n] = await rig.h.db.select().from(nodes).where(eq(nodes.name, "sw-a"));
        return n?.lbStatus === "in";
      },
      10_000,
    );
    const upstream = await readFile(rig.nginx.upstreamPath("sw"), "utf8");
    expect(upstream.split("\n").find((l) => l.includes("127.0.0.61:"))).toMatch(/\bbackup\b/);
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await primaryName()).name).toBe("sw-b");
    expect((await whoServes(rig.endpoint)).node).toBe("sw-b");
  }, 60_000);

  it("a drill switches over and back", async () => {
    await healthy("sw-a", "sw-b");
    const drillStart = performance.timeOrigin + performance.now();
    const { id } = await requestSwitchover(rig.h.db, {
      cluster: "sw",
      reason: "daily drill",
      kind: "drill",
      actor: ACTOR,
    });
    const first = await finished(id);
    expect(first.state, first.error ?? "").toBe("completed");
    const back = await waitFor(
      "the drill's way back",
      async () => {
        const rows = await rig.h.db.select().from(switchovers).where(eq(switchovers.kind, "drill"));
        const r = rows.find((x) => (x.evidence as { drillOf?: string } | null)?.drillOf === id);
        return r && TERMINAL.includes(r.state) ? r : null;
      },
      20_000,
      50,
    );
    expect(back.state, back.error ?? "").toBe("completed");
    expect((await primaryName()).name).toBe("sw-b");
    expect((await whoServes(rig.endpoint)).node).toBe("sw-b");
    const overlaps = findDoubleMasterIntervals(rig.fleet.fleet.roleLog.entries, ["sw-a", "sw-b"]);
    expect(overlaps.filter((o) => o.endMs === null || o.endMs > drillStart)).toEqual([]);
  }, 60_000);
  it("fails over a hung primary without waiting for its degrade to time out", async () => {
    await healthy("sw-a", "sw-b");
    const primary = (await primaryName()).name as string;
    const standby = primary === "sw-a" ? "sw-b" : "sw-a";
    const since = new Date();
    await rig.fleet.fleet.getNode(primary).applyFault("hang");
    try {
      const row = await waitFor(
        "an automatic switchover away from the hung primary",
        async () => {
          const [r] = await rig.h.db
            .select()
            .from(switchovers)
            .where(and(eq(switchovers.kind, "auto"), gt(switchovers.requestedAt, since)))
            .limit(1);
          return r && TERMINAL.includes(r.state) ? r : null;
        },
        20_000,
        50,
      );
      expect(row.state, row.error ?? "").toBe("completed");
      expect((await primaryName()).name).toBe(standby);
      const steps = await rig.h.db
        .select()
        .from(switchoverSteps)
        .where(eq(switchoverSteps.switchoverId, row.id));
      const degrade = steps.find((st) => st.phase === "fencing");
      const lbSwitch = steps.find((st) => st.phase === "switching_traffic");
      // The degrade of the hung node failed (it never answers), and the traffic switch did not wait
      // for it: it started before the degrade gave up.
      expect(degrade?.state).toBe("failed");
      expect(lbSwitch?.state).toBe("succeeded");
      expect(lbSwitch?.startedAt?.getTime() ?? Number.POSITIVE_INFINITY).toBeLessThan(
        degrade?.finishedAt?.getTime() ?? 0,
      );
    } finally {
      await rig.fleet.fleet.getNode(primary).applyFault("recover");
    }
  }, 60_000);

  it("a primary whose service came back as a standby is activated again at the current epoch", async () => {
    await healthy("sw-a", "sw-b");
    const { name, epoch } = await primaryName();
    const node = rig.fleet.fleet.getNode(name as string);
    expect(node.degrade(epoch as number)).toMatchObject({ ok: true });
    expect(node.role).toBe("standby");
    await waitFor(`${name} master again`, () => node.role === "master", 10_000);
    expect(node.epoch).toBe(epoch);
    const reactivated = await waitFor("the event", async () => {
      const [e] = await rig.h.db.select().from(events).where(eq(events.kind, "node.reactivated"));
      return e;
    });
    expect(reactivated.message).toMatch(/reported standby: activated it again/);
    expect((await primaryName()).name).toBe(name);
  }, 30_000);

  it("an admin aborts a stuck switchover: it stops at the next step, audited", async () => {
    await healthy("sw-a", "sw-b");
    const activate = DEFAULT_PLAYBOOKS.find((p) => p.kind === "activate");
    if (!activate) throw new Error("no activate playbook");
    await savePlaybookVersion(rig.h.db, {
      name: activate.name,
      kind: "activate",
      steps: activate.steps.map((st) => ({ ...st, command: `sleep 2; ${st.command}`, timeoutMs: 10_000 })),
    });
    try {
      const { id } = await requestSwitchover(rig.h.db, {
        cluster: "sw",
        reason: "abort test",
        kind: "manual",
        actor: ACTOR,
      });
      await waitFor("activating", async () => {
        const [r] = await rig.h.db.select().from(switchovers).where(eq(switchovers.id, id));
        return r?.state === "activating";
      });
      await expect(
        abortSwitchover(rig.h.db, { id, reason: " ", actor: { label: "admin", role: "admin" } }),
      ).rejects.toThrow(/reason is required/);
      await abortSwitchover(rig.h.db, {
        id,
        reason: "stuck in activation",
        actor: { label: "admin", role: "admin" },
      });
      await new Promise((r) => setTimeout(r, 3_000));
      const [row] = await rig.h.db.select().from(switchovers).where(eq(switchovers.id, id));
      expect(row?.state).toBe("aborted");
      expect(row?.error).toMatch(/aborted by admin: stuck in activation/);
      const steps = await rig.h.db.select().from(switchoverSteps).where(eq(switchoverSteps.switchoverId, id));
      expect(steps.some((st) => st.phase === "verifying")).toBe(false);
      const [audit] = await rig.h.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.targetId, id), eq(auditLog.action, "switchover.abort")));
      expect(audit).toMatchObject({ actorLabel: "admin", reason: "stuck in activation" });
      await expect(
        abortSwitchover(rig.h.db, { id, reason: "again", actor: { label: "admin", role: "admin" } }),
      ).rejects.toThrow(/already ended/);
    } finally {
      await savePlaybookVersion(rig.h.db, { name: activate.name, kind: "activate", steps: activate.steps });
    }
  }, 60_000);
});
