// The CLI end to end, as an operator runs it: a real process, a real file, a real database.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runMigrations } from "@/db/migrate";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { createScratchDatabase } from "@/test/db";
import { type RawFile, sampleInventory, sampleInventoryWithLoadBalancers } from "./test-fixtures";

const ROOT = path.resolve(import.meta.dirname, "../..");

type Run = { code: number; stdout: string; stderr: string };
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.SWITCHYARD_SECRET_KEY;
  return new Promise((resolve) => {
    execFile(
      "npx",
      ["tsx", "scripts/inventory.ts", ...args],
      { cwd: ROOT, env: { ...base, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("inventory CLI", () => {
  let dir: string;
  const key = generateEd25519KeyPair("cli");
  const write = async (name: string, file: RawFile) => {
    const p = path.join(dir, name);
    await writeFile(p, JSON.stringify(file, null, 2));
    return p;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "inventory-cli-"));
    await mkdir(path.join(dir, "keys"));
    await writeFile(path.join(dir, "keys/fleet.key"), key.privateKey, { mode: 0o600 });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("validate: a bad file exits 1 and names the path on stderr", async () => {
    const f = sampleInventory();
    f.clusters[0].nodes[1].host = "1.2.3.4; rm -rf /";
    f.clusters[1].nodes[0].servicePort = 70000;
    const r = await cli(["validate", await write("bad.json", f)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is invalid (2 problems)");
    expect(r.stderr).toContain("clusters[0].nodes[1].host: must be an IPv4/IPv6 address or a DNS name");
    expect(r.stderr).toContain("clusters[1].nodes[0].servicePort: must be between 1 and 65535");
    expect(r.stdout).toBe("");
  });

  it("validate: a good file whose credentials it defines needs no database, and exits 0", async () => {
    const r = await cli(["validate", await write("good.json", sampleInventory())]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/good\.json is valid: 2 clusters, 4 nodes, 1 credential defined/);
    expect(r.code).toBe(0);
  });

  it("validate: load balancers are counted, and their problems named by path", async () => {
    const good = await cli(["validate", await write("lb.json", sampleInventoryWithLoadBalancers())]);
    expect(good.stdout).toMatch(
      /lb\.json is valid: 2 clusters, 4 nodes, 2 load balancers, 1 credential defined/,
    );
    expect(good.code).toBe(0);
    const f = sampleInventoryWithLoadBalancers();
    f.clusters[1].loadBalancer.nginxBin = "nginx; reboot";
    const bad = await cli(["validate", await write("lb-bad.json", f)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("clusters[1].loadBalancer.nginxBin: must be a command name");
  });

  it("validate: a key file others can read exits 1, like ssh, without printing the key", async () => {
    await writeFile(path.join(dir, "keys/open.key"), key.privateKey);
    await chmod(path.join(dir, "keys/open.key"), 0o644);
    const f = sampleInventory();
    f.credentials[0].privateKeyFile = "keys/open.key";
    const r = await cli(["validate", await write("open.json", f)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/credentials\[0\]\.privateKeyFile: permissions 0644 .* too open/);
    expect(r.stderr + r.stdout).not.toContain("PRIVATE KEY");
  });

  it("usage errors exit 2", async () => {
    for (const args of [
      [],
      ["frobnicate"],
      ["apply"],
      ["validate", "a.json", "--prune"],
      ["export", "--bogus"],
    ]) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain("usage: npm run inventory");
    }
    expect((await cli(["--help"])).code).toBe(0);
  });

  it("invalid JSON exits 1 with a line and column", async () => {
    const p = path.join(dir, "broken.json");
    await writeFile(p, '{\n  "clusters": [\n    { "name": "x", }\n  ]\n}\n');
    const r = await cli(["validate", p]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not valid JSON: .*\(line 3, column \d+\)/);
  });

  describe("against a database", () => {
    let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
    let env: Record<string, string | undefined>;
    beforeAll(async () => {
      scratch = await createScratchDatabase(inject("databaseUrl"));
      await runMigrations(scratch.url);
      env = {
        DATABASE_URL: scratch.url,
        SWITCHYARD_DATA_DIR: path.join(dir, "data"),
        SWITCHYARD_SECRET_KEY: randomBytes(32).toString("base64"),
      };
    });
    afterAll(async () => {
      await scratch?.drop();
    });

    it("refuses to apply credentials without an encryption key, and says how to set one", async () => {
      const file = path.join(dir, "good.json");
      const r = await cli(["apply", file], { ...env, SWITCHYARD_SECRET_KEY: "" });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/SWITCHYARD_SECRET_KEY.*--create-key/s);
    });

    it("dry-run prints the plan and writes nothing; apply writes it; a second apply has no changes", async () => {
      const file = path.join(dir, "good.json");
      const dry = await cli(["apply", file, "--dry-run"], env);
      expect(dry.stderr).toBe("");
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain("+ create node gte-a (127.0.0.2:8000)");
      expect(dry.stdout).toContain("+ create cluster ollama-bridge (active_active)");
      expect(dry.stdout).toMatch(/Plan: 9 to create, 0 to update, 0 to delete, 0 unchanged\. Dry run/);

      const applied = await cli(["apply", file], env);
      expect(applied.code).toBe(0);
      expect(applied.stdout).toMatch(/Applied: 9 created/);
      expect(applied.stdout).not.toContain("PRIVATE KEY");

      const f = sampleInventory();
      f.clusters[0].nodes[1].priority = 5;
      f.clusters[0].nodes[1].weight = 2;
      const changed = await cli(["apply", await write("changed.json", f)], env);
      expect(changed.stdout).toContain("~ update node gte-b (127.0.0.3:8000): priority, weight");
      expect(changed.stdout).toContain("= 8 unchanged (1 credential, 2 clusters, 2 policies, 3 nodes)");

      const again = await cli(["apply", path.join(dir, "changed.json")], env);
      expect(again.stdout).toContain("No changes (9 unchanged).");
    });

    it("export prints the same shape without secrets, and it validates", async () => {
      const r = await cli(["export"], env);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(/PRIVATE KEY|privateKeyFile/);
      const exported = JSON.parse(r.stdout);
      expect(exported.clusters.map((c: { name: string }) => c.name)).toEqual([
        "gte-pro-search",
        "ollama-bridge",
      ]);
      const v = await cli(["validate", await write("exported.json", exported)], env);
      expect(v.stdout).toContain("exported.json is valid");
    });
  });
});
