// What an operator sees when SSH to a node is wrong: a changed host key, a key the node does not
// accept, an unreachable SSH port. Each stops the switchover at preflight, before anything changed,
// with the SSH module's own message in the step's output and in the switchover's error (the
// switchover page shows both).
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { nodes, switchoverSteps, switchovers } from "@/db/schema";
import { Controller } from "@/server/controller/controller";
import { createCredential } from "@/server/credentials/store";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { findFreePort } from "@/sim/testing";
import { waitFor } from "@/test/cluster";
import { type SwitchoverRig, startSwitchoverRig, whoServes } from "@/test/switchover-rig";
import { requestSwitchover } from "./request";

describe("SSH failures during a switchover are clear and change nothing", () => {
  let rig: SwitchoverRig;
  let controller: Controller;
  const logs: string[] = [];

  beforeAll(async () => {
    rig = await startSwitchoverRig({
      baseUrl: inject("databaseUrl"),
      clusterName: "se",
      nodes: [
        { name: "se-a", host: "127.0.0.76", role: "primary" },
        { name: "se-b", host: "127.0.0.77", role: "standby" },
      ],
      lbHost: "127.0.0.75",
      policy: { probeIntervalMs: 200, tcpTimeoutMs: 200, httpTimeoutMs: 300 },
    });
    controller = new Controller({
      databaseUrl: rig.url,
      secretKey: rig.secretKey,
      leaseTtlMs: 2_000,
      metricsPort: null,
      gpu: false,
      log: (l) => logs.push(l),
    });
    await controller.start();
    await waitFor(
      "se-b healthy",
      () => controller.nodeState(rig.nodeIds.get("se-b") as string) === "healthy",
      15_000,
    );
  }, 90_000);

  afterAll(async () => {
    await controller?.stop();
    await rig?.stop();
  });

  async function attempt(label: string) {
    const { id } = await requestSwitchover(rig.h.db, {
      cluster: "se",
      target: "se-b",
      reason: label,
      kind: "manual",
      actor: { label: "test", role: "operator" },
    });
    const row = await waitFor(
      `${label} to end`,
      async () => {
        const [r] = await rig.h.db.select().from(switchovers).where(eq(switchovers.id, id));
        return r && ["completed", "failed", "rolled_back"].includes(r.state) ? r : null;
      },
      20_000,
      50,
    );
    const steps = await rig.h.db.select().from(switchoverSteps).where(eq(switchoverSteps.switchoverId, id));
    return { row, steps };
  }

  async function expectNothingChanged() {
    expect((await whoServes(rig.endpoint)).node).toBe("se-a");
    expect(rig.fleet.fleet.getNode("se-a").role).toBe("master");
    expect(rig.fleet.fleet.getNode("se-b").role).toBe("standby");
  }

  const b = () => eq(nodes.name, "se-b");

  it("a changed host key: refused before authentication, named as such", async () => {
    const [before] = await rig.h.db.select().from(nodes).where(b());
    const other = generateEd25519KeyPair("impostor");
    const { fingerprint } = await createCredential(rig.h.db, rig.secretKey, {
      name: "impostor-host",
      privateKey: other.privateKey,
    });
    await rig.h.db.update(nodes).set({ hostKeyFingerprint: fingerprint }).where(b());
    try {
      const { row, steps } = await attempt("changed host key");
      expect(row.state).toBe("failed");
      expect(row.error).toMatch(
        /preflight: .*Host key for 127\.0\.0\.77:\d+ does not match the pinned fingerprint/,
      );
      expect(steps[0]?.stderr).toMatch(/does not match the pinned fingerprint/);
      await expectNothingChanged();
    } finally {
      await rig.h.db.update(nodes).set({ hostKeyFingerprint: before?.hostKeyFingerprint }).where(b());
    }
  });

  it("a key the node does not accept: an authentication error naming the user and host", async () => {
    const [before] = await rig.h.db.select().from(nodes).where(b());
    const wrong = await createCredential(rig.h.db, rig.secretKey, {
      name: "not-authorized",
      privateKey: generateEd25519KeyPair("nobody").privateKey,
    });
    await rig.h.db.update(nodes).set({ credentialId: wrong.id }).where(b());
    try {
      const { row } = await attempt("wrong key");
      expect(row.state).toBe("failed");
      expect(row.error).toMatch(
        /SSH authentication as switchyard@127\.0\.0\.77:\d+ failed: the server did not accept the key/,
      );
      await expectNothingChanged();
    } finally {
      await rig.h.db.update(nodes).set({ credentialId: before?.credentialId }).where(b());
    }
  });

  it("an unreachable SSH port: a connection error, not a hang", async () => {
    const [before] = await rig.h.db.select().from(nodes).where(b());
    await rig.h.db
      .update(nodes)
      .set({ sshPort: await findFreePort(["127.0.0.77"]) })
      .where(b());
    try {
      const { row } = await attempt("unreachable");
      expect(row.state).toBe("failed");
      expect(row.error).toMatch(/SSH connection to 127\.0\.0\.77:\d+ failed/);
      await expectNothingChanged();
    } finally {
      await rig.h.db.update(nodes).set({ sshPort: before?.sshPort }).where(b());
    }
  });

  it("no key material ever reaches the controller's log", () => {
    const text = logs.join("\n");
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect(text).not.toContain(rig.fleet.clientPrivateKey.split("\n")[1] ?? "@@");
  });
});
