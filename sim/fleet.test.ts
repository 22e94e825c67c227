import { spawn } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, stream } from "@/server/ssh";
import { genericFleetSpecs, simNodeAddress } from "./fleet";
import { findFreePort, httpRequest, startTestFleet, tcpConnect } from "./testing";

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-fleet-"));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const spec = [{ name: "keep-1", host: "127.0.0.4", cluster: "k", role: "master" as const }];

function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("fleet lifecycle", () => {
  it("keeps each node's host key across restarts, stored 0600", async () => {
    const first = await startTestFleet(spec, { dataDir });
    const fingerprint = first.fleet.getNode("keep-1").hostKeyFingerprint;
    await first.stop();
    const second = await startTestFleet(spec, { dataDir });
    try {
      expect(second.fleet.getNode("keep-1").hostKeyFingerprint).toBe(fingerprint);
      const mode = (await stat(path.join(dataDir, "hostkeys", "keep-1"))).mode & 0o777;
      expect(mode).toBe(0o600);
    } finally {
      await second.stop();
    }
  });

  it("leaves no command, blackhole listener or port behind on stop", async () => {
    const t = await startTestFleet(spec, { dataDir });
    const node = t.fleet.getNode("keep-1");
    const conn = await t.connect(node);
    let pid = 0;
    const running = stream(conn, "echo $$; exec sleep 60", {
      onLine: (line) => {
        pid = Number(line);
      },
    }).catch((err: unknown) => err);
    await exec(conn, "true");
    await expect.poll(() => pid, { timeout: 3_000 }).toBeGreaterThan(0);
    expect(processGroupAlive(pid)).toBe(true);
    await node.applyFault("blackhole");
    const { httpPort, sshPort } = node;

    await t.stop();
    await running;
    expect(processGroupAlive(pid)).toBe(false);
    expect(await tcpConnect(node.host, httpPort, 1_000)).toBe("refused");
    expect(await tcpConnect(node.host, sshPort, 1_000)).toBe("refused");
  });
});

describe("role-log endpoint", () => {
  it("does not report active-active pool members as double masters", async () => {
    const t = await startTestFleet(
      [
        { name: "pool-1", host: "127.0.0.4", cluster: "pool", role: "master", clusterMode: "pool" },
        { name: "pool-2", host: "127.0.0.5", cluster: "pool", role: "master", clusterMode: "pool" },
      ],
      { dataDir },
    );
    try {
      const res = await httpRequest(`${t.fleet.controlUrl}/role-log`);
      expect(res.body).toMatchObject({ doubleMaster: [] });
      expect((res.body as { entries: unknown[] }).entries).toHaveLength(2);
    } finally {
      await t.stop();
    }
  });
});

describe("GPU noise", () => {
  it("moves power and temperature a little while someone watches the node", async () => {
    const t = await startTestFleet(spec, { dataDir, noiseIntervalMs: 150 });
    try {
      const conn = await t.connect(t.fleet.getNode("keep-1"));
      const seen = new Set<string>();
      const controller = new AbortController();
      const done = stream(
        conn,
        "nvidia-smi --query-gpu=utilization.gpu,temperature.gpu,power.draw --format=csv,noheader,nounits -lms 100",
        {
          signal: controller.signal,
          onLine: (line) => {
            seen.add(line);
            if (seen.size >= 3) controller.abort();
          },
        },
      ).catch((err: unknown) => err);
      const timer = setTimeout(() => controller.abort(), 5_000);
      await done;
      clearTimeout(timer);
      expect(seen.size).toBeGreaterThanOrEqual(3);
      for (const line of seen) {
        const [util, temp, power] = line.split(", ").map(Number);
        // A serving master: moderate load, plausible temperature and power.
        expect(util).toBeGreaterThanOrEqual(20);
        expect(util).toBeLessThanOrEqual(40);
        expect(temp).toBeLessThan(85);
        expect(power).toBeLessThan(700);
      }
    } finally {
      await t.stop();
    }
  });
});

describe("generated fleets", () => {
  it("numbers addresses from 127.0.0.2 and continues in 127.0.1.x", () => {
    expect(simNodeAddress(0)).toBe("127.0.0.2");
    expect(simNodeAddress(253)).toBe("127.0.0.255");
    expect(simNodeAddress(254)).toBe("127.0.1.1");
    expect(simNodeAddress(999)).toBe("127.0.3.236");
    expect(new Set(Array.from({ length: 1000 }, (_, i) => simNodeAddress(i))).size).toBe(1000);
  });

  it("pairs nodes into clusters with the first of each pair master", () => {
    const specs = genericFleetSpecs(3);
    expect(specs.map((s) => [s.name, s.cluster, s.role])).toEqual([
      ["sim-001", "sim-c001", "master"],
      ["sim-002", "sim-c001", "standby"],
      ["sim-003", "sim-c002", "master"],
    ]);
    expect(genericFleetSpecs(1000).at(-1)).toMatchObject({
      name: "sim-1000",
      cluster: "sim-c500",
      host: "127.0.3.236",
    });
  });
});

describe("cli", () => {
  const tsx = path.resolve("node_modules/.bin/tsx");

  function run(args: string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const child = spawn(tsx, ["sim/cli.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on("data", (c: Buffer) => {
        out += c.toString();
      });
      child.on("close", (code) => resolve({ code, out }));
    });
  }

  it("runs a fleet, injects a fault through the control endpoint and stops on SIGINT", async () => {
    const hosts = ["127.0.0.2", "127.0.0.3"];
    const [httpPort, sshPort, controlPort] = [
      await findFreePort(hosts),
      await findFreePort(hosts),
      await findFreePort(["127.0.0.1"]),
    ];
    const cliDir = path.join(dataDir, "cli");
    const fleet = spawn(
      tsx,
      [
        "sim/cli.ts",
        "fleet",
        "--nodes",
        "2",
        "--data-dir",
        cliDir,
        "--http-port",
        String(httpPort),
        "--ssh-port",
        String(sshPort),
        "--control-port",
        String(controlPort),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    fleet.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    fleet.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => fleet.on("close", resolve));
    try {
      await expect.poll(() => out, { timeout: 15_000 }).toContain("Ctrl-C to stop.");
      expect(out).toMatch(
        /sim-001\s+sim-c001\s+master\s+http:\/\/127\.0\.0\.2:\d+\s+127\.0\.0\.2:\d+\s+SHA256:/,
      );
      expect(out).toContain(path.join(cliDir, "client_ed25519"));
      expect((await stat(path.join(cliDir, "client_ed25519"))).mode & 0o777).toBe(0o600);

      const control = `http://127.0.0.1:${controlPort}`;
      const crash = await run(["fault", "sim-001", "crash", "--control", control]);
      expect(crash).toMatchObject({ code: 0, out: expect.stringContaining("faults=[crash]") });
      expect(await tcpConnect("127.0.0.2", httpPort, 1_000)).toBe("refused");
      const unknown = await run(["fault", "sim-009", "crash", "--control", control]);
      expect(unknown.code).toBe(1);
      expect(unknown.out).toContain('no simulated node named "sim-009"');
    } finally {
      fleet.kill("SIGINT");
    }
    expect(await exited).toBe(0);
    expect(out).toContain("stopped.");
  });

  it("says clearly when no fleet is running", async () => {
    const port = await findFreePort(["127.0.0.1"]);
    const result = await run(["fault", "sim-001", "crash", "--control", `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.out).toContain("cannot reach the fleet control endpoint");
    expect(result.out).toContain("ECONNREFUSED");
  });
});
