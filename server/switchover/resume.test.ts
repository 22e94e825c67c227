// A controller SIGKILLed in the middle of a switchover: the next leader re-claims the row and
// finishes it from the journal, and at no instant were two nodes master.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { switchoverSteps, switchovers } from "@/db/schema";
import { findDoubleMasterIntervals } from "@/sim/role-log";
import { waitFor } from "@/test/cluster";
import { type SwitchoverRig, startSwitchoverRig, whoServes } from "@/test/switchover-rig";
import { DEFAULT_PLAYBOOKS } from "./default-playbooks";
import { savePlaybookVersion } from "./playbook";
import { requestSwitchover } from "./request";

const ROOT = path.resolve(import.meta.dirname, "..", "..");

describe("a controller killed mid-switchover", () => {
  let rig: SwitchoverRig;
  const children: ChildProcess[] = [];

  const startController = (name: string) => {
    const child = spawn(process.execPath, ["--import", "tsx", "server/controller/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: rig.url,
        SWITCHYARD_SECRET_KEY: rig.secretKey.toString("base64"),
        SWITCHYARD_LEASE_TTL_MS: "1500",
        SWITCHYARD_CONTROLLER_METRICS_PORT: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d) => {
      out += d;
      if (process.env.DEBUG_CONTROLLER) process.stdout.write(`[${name}] ${d}`);
    });
    child.stderr?.on("data", (d) => {
      out += d;
    });
    children.push(child);
    return { child, output: () => out };
  };

  beforeAll(async () => {
    rig = await startSwitchoverRig({
      baseUrl: inject("databaseUrl"),
      clusterName: "rs",
      nodes: [
        { name: "rs-a", host: "127.0.0.66", role: "primary" },
        { name: "rs-b", host: "127.0.0.67", role: "standby" },
      ],
      lbHost: "127.0.0.65",
      policy: { probeIntervalMs: 200, tcpTimeoutMs: 200, httpTimeoutMs: 300, failuresToFail: 3 },
    });
  }, 90_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await rig?.stop();
  });

  it("is finished by the next leader from the journal, never with two masters", async () => {
    // A slow activation (2 s before the real one), so there is time to kill the leader inside it.
    const activate = DEFAULT_PLAYBOOKS.find((p) => p.kind === "activate");
    if (!activate) throw new Error("no activate playbook");
    await savePlaybookVersion(rig.h.db, {
      name: activate.name,
      kind: "activate",
      steps: activate.steps.map((s) => ({ ...s, command: `sleep 2; ${s.command}`, timeoutMs: 10_000 })),
    });
    const first = startController("A");
    await waitFor("controller A to lead", () => first.output().includes("leading with epoch"), 30_000, 50);
    const { id } = await requestSwitchover(rig.h.db, {
      cluster: "rs",
      target: "rs-b",
      reason: "resume test",
      kind: "manual",
      actor: { label: "test", role: "operator" },
    });
    await waitFor(
      "the activation step to be running",
      async () => {
        const steps = await rig.h.db
          .select()
          .from(switchoverSteps)
          .where(eq(switchoverSteps.switchoverId, id));
        return steps.some((s) => s.phase === "activating" && s.state === "running");
      },
      20_000,
      20,
    );
    first.child.kill("SIGKILL");
    await new Promise<void>((r) => first.child.once("exit", () => r()));
    const [mid] = await rig.h.db.select().from(switchovers).where(eq(switchovers.id, id));
    expect(mid?.state).toBe("activating");

    const second = startController("B");
    const done = await waitFor(
      "the next leader to finish the switchover",
      async () => {
        const [row] = await rig.h.db.select().from(switchovers).where(eq(switchovers.id, id));
        return row && ["completed", "rolled_back", "failed", "aborted"].includes(row.state) ? row : null;
      },
      40_000,
      100,
    );
    expect(done.state, `${done.error}\n${second.output()}`).toBe("completed");
    expect(done.controllerEpoch).toBeGreaterThan(mid?.controllerEpoch ?? 0);
    expect(rig.fleet.fleet.getNode("rs-b").role).toBe("master");
    expect(rig.fleet.fleet.getNode("rs-a").role).toBe("standby");
    expect((await whoServes(rig.endpoint)).node).toBe("rs-b");
    const steps = await rig.h.db
      .select()
      .from(switchoverSteps)
      .where(eq(switchoverSteps.switchoverId, id))
      .orderBy(switchoverSteps.seq);
    const interrupted = steps.find((s) => s.phase === "activating" && s.stderr.includes("interrupted"));
    expect(interrupted?.state).toBe("failed");
    expect(steps.filter((s) => s.phase === "activating" && s.state === "succeeded")).toHaveLength(1);
    expect(findDoubleMasterIntervals(rig.fleet.fleet.roleLog.entries, ["rs-a", "rs-b"])).toEqual([]);
    second.child.kill("SIGTERM");
    await new Promise<void>((r) => second.child.once("exit", () => r()));
  }, 120_000);
});
