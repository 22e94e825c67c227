import { randomBytes } from "node:crypto";
import { asc, count, desc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { auditLog, clusters, credentials, loadBalancers, nodes, policies, switchovers } from "@/db/schema";
import { hashAuditRow } from "@/server/audit/append";
import { DecryptionError } from "@/server/credentials/crypto";
import { loadPrivateKey } from "@/server/credentials/store";
import { INVENTORY_CHANNEL } from "@/server/notify/events";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { createScratchDatabase } from "@/test/db";
import { applyInventory, InventoryConflictError, type InventoryPlan, planInventory } from "./apply";
import { exportInventory } from "./export";
import { checkInventoryFile, InventoryValidationError } from "./schema";
import {
  fp,
  type RawFile,
  sampleInventory,
  sampleInventoryWithLoadBalancers,
  sampleLoadBalancer,
} from "./test-fixtures";

const ACTOR = "inventory-cli:tester";

describe("inventory apply (real Postgres)", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let handle: ReturnType<typeof createDb>;
  const secretKey = randomBytes(32);
  const fleetKey = generateEd25519KeyPair("fleet");
  const keys = () => new Map([["fleet-key", fleetKey.privateKey]]);
  const apply = (file: RawFile, opts: { prune?: boolean; privateKeys?: Map<string, string> } = {}) =>
    applyInventory(handle.db, secretKey, file, { actor: ACTOR, privateKeys: keys(), ...opts });

  async function rowCounts() {
    const n = async (
      t: typeof clusters | typeof nodes | typeof policies | typeof credentials | typeof auditLog,
    ) => (await handle.db.select({ n: count() }).from(t))[0]?.n;
    return {
      clusters: await n(clusters),
      nodes: await n(nodes),
      policies: await n(policies),
      credentials: await n(credentials),
      audit: await n(auditLog),
    };
  }
  const nodeRow = async (name: string) => {
    const [row] = await handle.db.select().from(nodes).where(eq(nodes.name, name));
    if (!row) throw new Error(`no node ${name}`);
    return row;
  };
  const clusterRow = async (name: string) => {
    const [row] = await handle.db.select().from(clusters).where(eq(clusters.name, name));
    if (!row) throw new Error(`no cluster ${name}`);
    return row;
  };
  const actions = (plan: InventoryPlan) =>
    plan.changes.filter((c) => c.action !== "unchanged").map((c) => `${c.action} ${c.kind} ${c.name}`);
  const allUnchanged = (plan: InventoryPlan) => plan.changes.every((c) => c.action === "unchanged");

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    handle = createDb(scratch.url, { max: 3 });
  });
  afterAll(async () => {
    await handle?.sql.end();
    await scratch?.drop();
  });

  it("plans a valid file against an empty database without writing", async () => {
    const plan = await planInventory(handle.db, sampleInventory(), { privateKeys: keys() });
    expect(actions(plan)).toEqual([
      "create credential fleet-key",
      "create cluster gte-pro-search",
      "create policy gte-pro-search",
      "create node gte-a",
      "create node gte-b",
      "create cluster ollama-bridge",
      "create policy ollama-bridge",
      "create node ollama-1",
      "create node ollama-2",
    ]);
    expect(plan.changes.find((c) => c.name === "ollama-2")?.detail).toBe("[fd00::8]:11434");
    expect(await rowCounts()).toEqual({ clusters: 0, nodes: 0, policies: 0, credentials: 0, audit: 0 });
  });

  it("creates everything in one go: sealed key, primary at epoch 1, audit rows, NOTIFY", async () => {
    const heard: string[] = [];
    const sub = await handle.sql.listen(INVENTORY_CHANNEL, (p) => heard.push(p));
    const plan = await apply(sampleInventory());
    expect(actions(plan)).toHaveLength(9);

    const gte = await clusterRow("gte-pro-search");
    expect(gte).toMatchObject({ mode: "active_standby", slaTargetPct: 99.99, epoch: 1 });
    expect(gte.primaryNodeId).toBe((await nodeRow("gte-a")).id);
    const bridge = await clusterRow("ollama-bridge");
    expect(bridge).toMatchObject({ primaryNodeId: null, epoch: 0, description: "" });

    expect(await nodeRow("ollama-1")).toMatchObject({
      host: "gpu-7.example.internal",
      servicePort: 11434,
      healthPath: "/api/health",
      sshPort: 2222,
      sshUser: "ops",
      role: "member",
      weight: 5,
      priority: 100,
      maintenance: false,
      hostKeyFingerprint: fp("ollama-1"),
    });
    expect(await nodeRow("gte-b")).toMatchObject({ sshPort: 22, sshUser: "switchyard", role: "standby" });
    const [pol] = await handle.db.select().from(policies).where(eq(policies.clusterId, gte.id));
    expect(pol).toMatchObject({ preset: "default", failuresToFail: 4, probeIntervalMs: 1000 });

    const [cred] = await handle.db.select().from(credentials);
    if (!cred) throw new Error("no credential");
    expect(cred.ciphertext.toString("latin1")).not.toContain("PRIVATE KEY");
    expect((await loadPrivateKey(handle.db, secretKey, cred.id)).toString()).toBe(fleetKey.privateKey);
    expect((await nodeRow("gte-a")).credentialId).toBe(cred.id);

    const audit = await handle.db.select().from(auditLog).orderBy(asc(auditLog.id));
    expect(audit.map((r) => r.action)).toEqual([
      "credential.create",
      "cluster.create",
      "cluster.create",
      "policy.create",
      "policy.create",
      "node.create",
      "node.create",
      "node.create",
      "node.create",
    ]);
    expect(audit.every((r) => r.actorLabel === ACTOR && r.actorRole === "admin")).toBe(true);
    expect(JSON.stringify(audit)).not.toContain("PRIVATE KEY");
    let prev = "0".repeat(64);
    for (const r of audit) {
      expect(hashAuditRow(prev, { ...r, at: r.at })).toBe(r.hash);
      prev = r.hash;
    }

    await expect.poll(() => heard.length).toBeGreaterThan(0);
    expect(heard.map((p) => JSON.parse(p).clusterId)).toEqual(
      expect.arrayContaining([gte.id, bridge.id, null]),
    );
    await sub.unlisten();
  });

  it("changes nothing, and audits nothing, when the same file is applied again", async () => {
    const before = await rowCounts();
    const heard: string[] = [];
    const sub = await handle.sql.listen(INVENTORY_CHANNEL, (p) => heard.push(p));
    const plan = await apply(sampleInventory());
    expect(allUnchanged(plan)).toBe(true);
    expect(plan.changes).toHaveLength(9);
    expect(plan.warnings).toEqual([]);
    expect(await rowCounts()).toEqual(before);
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toEqual([]);
    await sub.unlisten();
  });

  it("updates only the fields that changed, audits before/after of just those", async () => {
    const gteB = await nodeRow("gte-b");
    const ollama1 = await nodeRow("ollama-1");
    const f = sampleInventory();
    f.clusters[0].nodes[1].priority = 5;
    f.clusters[0].nodes[1].weight = 2;
    f.clusters[0].policy.latencyThresholdMs = 250;
    f.clusters[1].description = "weighted pool";
    const plan = await apply(f);
    expect(plan.changes.filter((c) => c.action === "update")).toEqual([
      {
        action: "update",
        kind: "policy",
        name: "gte-pro-search",
        cluster: "gte-pro-search",
        fields: ["latencyThresholdMs"],
        detail: "preset default",
      },
      {
        action: "update",
        kind: "node",
        name: "gte-b",
        cluster: "gte-pro-search",
        fields: ["priority", "weight"],
        detail: "127.0.0.3:8000",
      },
      {
        action: "update",
        kind: "cluster",
        name: "ollama-bridge",
        fields: ["description"],
        detail: "active_active",
      },
    ]);

    const after = await nodeRow("gte-b");
    const { updatedAt: _a, priority: _p, weight: _w, ...restAfter } = after;
    const { updatedAt: _b, priority: _p2, weight: _w2, ...restBefore } = gteB;
    expect(restAfter).toEqual(restBefore);
    expect([after.priority, after.weight]).toEqual([5, 2]);
    expect(await nodeRow("ollama-1")).toEqual(ollama1);
    const [pol] = await handle.db
      .select()
      .from(policies)
      .where(eq(policies.clusterId, (await clusterRow("gte-pro-search")).id));
    expect(pol).toMatchObject({ latencyThresholdMs: 250, failuresToFail: 4, version: 2 });

    const audit = await handle.db.select().from(auditLog).orderBy(asc(auditLog.id));
    const nodeUpdate = audit.find((r) => r.action === "node.update");
    expect(nodeUpdate).toMatchObject({
      targetId: gteB.id,
      before: { priority: 10, weight: 1 },
      after: { priority: 5, weight: 2 },
    });
    expect(audit.slice(-3).map((r) => r.action)).toEqual(["cluster.update", "policy.update", "node.update"]);
    // Omitted fields mean their defaults: dropping `priority` resets it, as the file says.
    delete f.clusters[0].nodes[1].priority;
    const reset = await apply(f);
    expect(reset.changes.find((c) => c.name === "gte-b")?.fields).toEqual(["priority"]);
    expect((await nodeRow("gte-b")).priority).toBe(100);
    await apply(sampleInventory());
  });

  it("never moves the primary: a different primary in the file is a warning, roles stay", async () => {
    const gte = await clusterRow("gte-pro-search");
    const f = sampleInventory();
    f.clusters[0].nodes[0].role = "standby";
    f.clusters[0].nodes[1].role = "primary";
    const before = await rowCounts();
    const plan = await apply(f);
    expect(allUnchanged(plan)).toBe(true);
    expect(plan.warnings).toEqual([
      expect.stringMatching(/names "gte-b" as primary, but the current primary is "gte-a".*switchover/),
    ]);
    expect(await clusterRow("gte-pro-search")).toEqual(gte);
    expect((await nodeRow("gte-a")).role).toBe("primary");
    expect((await nodeRow("gte-b")).role).toBe("standby");
    expect(await rowCounts()).toEqual(before);
  });

  it("rotates a credential only when the key differs", async () => {
    const [old] = await handle.db.select().from(credentials);
    if (!old) throw new Error("no credential");
    const same = await apply(sampleInventory());
    expect(same.changes.find((c) => c.kind === "credential")?.action).toBe("unchanged");

    const next = generateEd25519KeyPair("fleet-2");
    const plan = await apply(sampleInventory(), { privateKeys: new Map([["fleet-key", next.privateKey]]) });
    expect(actions(plan)).toEqual(["update credential fleet-key"]);
    const [rotated] = await handle.db.select().from(credentials);
    expect(rotated?.id).toBe(old.id);
    expect(rotated?.rotatedAt).toBeInstanceOf(Date);
    expect(rotated?.fingerprint).not.toBe(old.fingerprint);
    expect((await loadPrivateKey(handle.db, secretKey, old.id)).toString()).toBe(next.privateKey);
    const [entry] = await handle.db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(1);
    expect(entry).toMatchObject({ action: "credential.rotate", before: { fingerprint: old.fingerprint } });

    // Back to the first key, so the rest of the file's state is as the sample says.
    await apply(sampleInventory());
  });

  it("refuses to seal with a key other than the one that sealed the existing credentials", async () => {
    const before = await rowCounts();
    const other = generateEd25519KeyPair("fleet-3");
    await expect(
      applyInventory(handle.db, randomBytes(32), sampleInventory(), {
        actor: ACTOR,
        privateKeys: new Map([["fleet-key", other.privateKey]]),
      }),
    ).rejects.toBeInstanceOf(DecryptionError);
    await expect(
      applyInventory(handle.db, null, sampleInventory(), {
        actor: ACTOR,
        privateKeys: new Map([["fleet-key", other.privateKey]]),
      }),
    ).rejects.toThrow(/SWITCHYARD_SECRET_KEY/);
    expect(await rowCounts()).toEqual(before);
    // Nothing to seal: no key needed.
    expect(
      allUnchanged(
        await applyInventory(handle.db, null, sampleInventory(), { actor: ACTOR, privateKeys: keys() }),
      ),
    ).toBe(true);
  });

  it("deletes what the file no longer lists only with prune", async () => {
    const f = sampleInventory();
    f.clusters[0].nodes.push({
      name: "gte-c",
      host: "127.0.0.4",
      credential: "fleet-key",
      hostKeyFingerprint: fp("gte-c"),
      role: "standby",
      priority: 20,
    });
    f.clusters.push({
      name: "scratch-pool",
      mode: "active_active",
      slaTargetPct: 99,
      nodes: [
        {
          name: "scratch-1",
          host: "10.9.0.1",
          credential: "fleet-key",
          hostKeyFingerprint: fp("s1"),
          role: "member",
        },
      ],
    });
    expect(actions(await apply(f))).toEqual([
      "create node gte-c",
      "create cluster scratch-pool",
      "create policy scratch-pool",
      "create node scratch-1",
    ]);

    const before = await rowCounts();
    const kept = await apply(sampleInventory());
    expect(allUnchanged(kept)).toBe(true);
    expect(kept.notInFile).toEqual([
      { kind: "node", name: "gte-c", cluster: "gte-pro-search" },
      { kind: "cluster", name: "scratch-pool" },
    ]);
    expect(await rowCounts()).toEqual(before);

    const pruned = await apply(sampleInventory(), { prune: true });
    expect(actions(pruned)).toEqual([
      "delete node gte-c",
      "delete node scratch-1",
      "delete cluster scratch-pool",
    ]);
    const after = await rowCounts();
    expect(after).toMatchObject({ clusters: 2, nodes: 4, policies: 2, credentials: 1 });
    const audit = await handle.db.select().from(auditLog).orderBy(asc(auditLog.id));
    expect(audit.slice(-3).map((r) => r.action)).toEqual(["node.delete", "node.delete", "cluster.delete"]);
    expect(audit.at(-1)?.before).toMatchObject({ name: "scratch-pool", nodes: ["scratch-1"] });
  });

  it("refuses to prune the current primary, or anything in a cluster with a switchover in flight", async () => {
    const f = sampleInventory();
    f.clusters[0].nodes = [{ ...f.clusters[0].nodes[1], role: "primary" }];
    const before = await rowCounts();
    const err = await apply(f, { prune: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryValidationError);
    expect((err as InventoryValidationError).issues).toContainEqual({
      path: "clusters[0].nodes",
      message: expect.stringMatching(/"gte-a" is not in the file, but it is the current primary/),
    });

    const bridge = await clusterRow("ollama-bridge");
    await handle.db.insert(switchovers).values({
      clusterId: bridge.id,
      kind: "manual",
      state: "verifying",
      requestedByLabel: "t",
      reason: "t",
    });
    const g = sampleInventory();
    g.clusters[1].nodes.pop();
    g.clusters[1].nodes[0].weight = 9;
    const err2 = await apply(g, { prune: true }).catch((e: unknown) => e);
    expect((err2 as InventoryValidationError).issues.map((i) => i.path)).toEqual([
      "clusters[1].nodes",
      "clusters[1].nodes[0]",
    ]);
    await handle.db.delete(switchovers);
    expect(await rowCounts()).toEqual(before);
  });

  const invalid: Array<[string, (f: RawFile) => void, string, RegExp]> = [
    [
      "bad host",
      (f) => {
        f.clusters[0].nodes[1].host = "1.2.3.4; rm -rf /";
      },
      "clusters[0].nodes[1].host",
      /IPv4\/IPv6 address or a DNS name/,
    ],
    [
      "bad name",
      (f) => {
        f.clusters[1].nodes[0].name = "Ollama 1";
      },
      "clusters[1].nodes[0].name",
      /lowercase/,
    ],
    [
      "two primaries",
      (f) => {
        f.clusters[0].nodes[1].role = "primary";
      },
      "clusters[0].nodes",
      /found 2/,
    ],
    [
      "member in active_standby",
      (f) => {
        f.clusters[0].nodes[1].role = "member";
      },
      "clusters[0].nodes[1].role",
      /not "member"/,
    ],
    [
      "duplicate endpoint",
      (f) => {
        f.clusters[1].nodes[1].host = "gpu-7.example.internal";
      },
      "clusters[1].nodes[1].host",
      /duplicate endpoint gpu-7\.example\.internal:11434/,
    ],
    [
      "unknown credential",
      (f) => {
        f.clusters[1].nodes[1].credential = "nobody-key";
      },
      "clusters[1].nodes[1].credential",
      /unknown credential "nobody-key"/,
    ],
    [
      "bad fingerprint",
      (f) => {
        f.clusters[0].nodes[0].hostKeyFingerprint = "SHA256:short";
      },
      "clusters[0].nodes[0].hostKeyFingerprint",
      /SHA256:<43 base64/,
    ],
    [
      "unknown key",
      (f) => {
        f.clusters[0].primary = "gte-a";
      },
      "clusters[0].primary",
      /unknown key/,
    ],
    [
      "port 70000",
      (f) => {
        f.clusters[0].nodes[0].sshPort = 70000;
      },
      "clusters[0].nodes[0].sshPort",
      /between 1 and 65535/,
    ],
    [
      "bad healthPath",
      (f) => {
        f.clusters[1].nodes[0].healthPath = "api/health";
      },
      "clusters[1].nodes[0].healthPath",
      /starting with '\/'/,
    ],
    [
      "policy out of range",
      (f) => {
        f.clusters[1].policy.gpuTempAlertC = 200;
      },
      "clusters[1].policy.gpuTempAlertC",
      /at most 120/,
    ],
    [
      "mode change",
      (f) => {
        f.clusters[1].mode = "active_standby";
        f.clusters[1].nodes[0].role = "primary";
        f.clusters[1].nodes[1].role = "standby";
      },
      "clusters[1].mode",
      /does not change a cluster's mode/,
    ],
    [
      "node moved between clusters",
      (f) => {
        f.clusters[1].nodes.push({ ...f.clusters[0].nodes.pop(), role: "member" });
      },
      "clusters[1].nodes[2].name",
      /belongs to cluster "gte-pro-search"/,
    ],
    [
      "endpoint held by a node outside the file",
      (f) => {
        f.clusters[0].nodes.pop();
        f.clusters[1].nodes[1].host = "127.0.0.3";
        f.clusters[1].nodes[1].servicePort = 8000;
      },
      "clusters[1].nodes[1].host",
      /already used by node "gte-b".*--prune/,
    ],
    [
      "key file not read",
      (f) => {
        f.credentials.push({ name: "spare-key", privateKeyFile: "spare.key" });
      },
      "credentials[1].privateKeyFile",
      /not read/,
    ],
  ];

  it.each(invalid)(
    "rejects %s with the path, and writes nothing",
    async (_name, mutate, pathText, message) => {
      const before = await rowCounts();
      const f = sampleInventory();
      mutate(f);
      const err = await apply(f).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InventoryValidationError);
      expect((err as InventoryValidationError).issues).toContainEqual({
        path: pathText,
        message: expect.stringMatching(message),
      });
      expect((err as Error).message).toContain(pathText);
      expect(await rowCounts()).toEqual(before);
      await expect(planInventory(handle.db, f, { privateKeys: keys() })).rejects.toBeInstanceOf(
        InventoryValidationError,
      );
    },
  );

  it("orders endpoint moves between existing nodes, and refuses a swap", async () => {
    const shift = sampleInventory();
    shift.clusters[0].nodes[0].host = "127.0.0.3"; // gte-a takes gte-b's endpoint…
    shift.clusters[0].nodes[1].host = "127.0.0.13"; // …which gte-b gives up.
    expect(actions(await apply(shift))).toEqual(["update node gte-a", "update node gte-b"]);
    expect((await nodeRow("gte-a")).host).toBe("127.0.0.3");

    const before = await rowCounts();
    const swap = sampleInventory();
    swap.clusters[0].nodes[0].host = "127.0.0.13";
    swap.clusters[0].nodes[1].host = "127.0.0.3";
    const err = await apply(swap).catch((e: unknown) => e);
    expect((err as InventoryValidationError).issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/\(a swap\)/),
      expect.stringMatching(/\(a swap\)/),
    ]);
    expect(await rowCounts()).toEqual(before);

    // Back, in the other order (gte-b moves first).
    expect(actions(await apply(sampleInventory()))).toEqual(["update node gte-a", "update node gte-b"]);
    expect((await nodeRow("gte-b")).host).toBe("127.0.0.3");
  });

  it("rolls back everything when a concurrent edit takes an endpoint mid-apply", async () => {
    const gte = await clusterRow("gte-pro-search");
    const f = sampleInventory();
    f.clusters[1].description = "changed in the same apply";
    f.clusters[1].nodes.push({
      name: "ollama-3",
      host: "10.9.9.9",
      credential: "fleet-key",
      hostKeyFingerprint: fp("ollama-3"),
      role: "member",
    });
    const before = await rowCounts();
    let commit = () => {};
    const gate = new Promise<void>((r) => {
      commit = r;
    });
    // Someone else inserts the same endpoint and has not committed yet when apply plans.
    const other = handle.sql.begin(async (sql) => {
      await sql`insert into nodes (cluster_id, name, host, role) values (${gte.id}, 'intruder', '10.9.9.9', 'standby')`;
      await gate;
    });
    await new Promise((r) => setTimeout(r, 100));
    const applying = apply(f).catch((e: unknown) => e);
    // Commit only once apply is waiting on the other transaction's uncommitted row.
    await expect
      .poll(
        async () =>
          (
            await handle.sql`select count(*)::int as n from pg_stat_activity
              where datname = current_database() and wait_event_type = 'Lock'`
          )[0]?.n,
        { timeout: 5000 },
      )
      .toBe(1);
    commit();
    await other;
    const err = await applying;
    expect(err).toBeInstanceOf(InventoryConflictError);
    expect((err as Error).message).toMatch(/nodes_endpoint_uq.*nothing was written/);
    expect(await rowCounts()).toEqual({ ...before, nodes: (before.nodes as number) + 1 });
    expect((await clusterRow("ollama-bridge")).description).toBe("");
    await handle.db.delete(nodes).where(eq(nodes.name, "intruder"));
  });

  it("exports the inventory without secrets, and the export applies as unchanged", async () => {
    const { file, warnings } = await exportInventory(handle.db);
    expect(warnings).toEqual([]);
    const text = JSON.stringify(file);
    expect(text).not.toMatch(/PRIVATE KEY|privateKey|ciphertext/);
    expect(file.credentials).toBeUndefined();
    expect(file.clusters.map((c) => c.name)).toEqual(["gte-pro-search", "ollama-bridge"]);
    expect(file.clusters[0]?.policy).toEqual({ preset: "default", failuresToFail: 4 });
    expect(file.clusters[1]?.policy).toEqual({ preset: "conservative" });

    const before = await rowCounts();
    const plan = await apply(JSON.parse(text), { privateKeys: new Map() });
    expect(allUnchanged(plan)).toBe(true);
    expect(plan.warnings).toEqual([]);
    expect(await rowCounts()).toEqual(before);
  });
});

describe("inventory apply: load balancers (real Postgres)", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let handle: ReturnType<typeof createDb>;
  const secretKey = randomBytes(32);
  const fleetKey = generateEd25519KeyPair("fleet");
  const keys = () => new Map([["fleet-key", fleetKey.privateKey]]);
  const apply = (file: RawFile, opts: { prune?: boolean } = {}) =>
    applyInventory(handle.db, secretKey, file, { actor: ACTOR, privateKeys: keys(), ...opts });
  const actions = (plan: InventoryPlan) =>
    plan.changes.filter((c) => c.action !== "unchanged").map((c) => `${c.action} ${c.kind} ${c.name}`);
  const allUnchanged = (plan: InventoryPlan) => plan.changes.every((c) => c.action === "unchanged");
  const lbRow = async (name: string) => {
    const [row] = await handle.db.select().from(loadBalancers).where(eq(loadBalancers.name, name));
    return row ?? null;
  };
  const linkOf = async (cluster: string) => {
    const [row] = await handle.db.select().from(clusters).where(eq(clusters.name, cluster));
    if (!row) throw new Error(`no cluster ${cluster}`);
    return row.loadBalancerId;
  };
  const lastAudit = async (n: number) =>
    (await handle.db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(n)).reverse();
  async function rowCounts() {
    const n = async (t: typeof clusters | typeof loadBalancers | typeof auditLog) =>
      (await handle.db.select({ n: count() }).from(t))[0]?.n;
    return { clusters: await n(clusters), loadBalancers: await n(loadBalancers), audit: await n(auditLog) };
  }
  async function rejects(file: RawFile, opts: { prune?: boolean } = {}) {
    const before = await rowCounts();
    const err = await apply(file, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryValidationError);
    expect(await rowCounts()).toEqual(before);
    return (err as InventoryValidationError).issues;
  }

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    handle = createDb(scratch.url, { max: 3 });
  });
  afterAll(async () => {
    await handle?.sql.end();
    await scratch?.drop();
  });

  it("creates each cluster's load balancer with its defaults, links it, and audits it", async () => {
    const plan = await apply(sampleInventoryWithLoadBalancers());
    expect(actions(plan)).toEqual([
      "create credential fleet-key",
      "create cluster gte-pro-search",
      "create policy gte-pro-search",
      "create load_balancer lb-gte-pro-search",
      "create node gte-a",
      "create node gte-b",
      "create cluster ollama-bridge",
      "create policy ollama-bridge",
      "create load_balancer bridge-lb",
      "create node ollama-1",
      "create node ollama-2",
    ]);
    expect(plan.changes.find((c) => c.kind === "load_balancer")).toEqual({
      action: "create",
      kind: "load_balancer",
      name: "lb-gte-pro-search",
      cluster: "gte-pro-search",
      detail: "http://10.0.0.5/",
    });

    const [cred] = await handle.db.select().from(credentials);
    const gteLb = await lbRow("lb-gte-pro-search");
    expect(gteLb).toMatchObject({
      host: "10.0.0.5",
      sshPort: 22,
      sshUser: "switchyard",
      credentialId: cred?.id,
      hostKeyFingerprint: fp("lb of gte-pro-search"),
      upstreamConfigPath: "/etc/nginx/switchyard/gte-pro-search.conf",
      endpointUrl: "http://10.0.0.5/",
      nginxBin: "nginx",
      nginxConfPath: null,
    });
    const bridgeLb = await lbRow("bridge-lb");
    expect(bridgeLb).toMatchObject({
      host: "lb.example.internal",
      sshPort: 2222,
      sshUser: "ops",
      endpointUrl: "https://lb.example.internal:8443/v1/",
      nginxBin: "/usr/sbin/nginx",
      nginxConfPath: "/etc/nginx/nginx.conf",
    });
    expect(await linkOf("gte-pro-search")).toBe(gteLb?.id);
    expect(await linkOf("ollama-bridge")).toBe(bridgeLb?.id);

    const audit = await handle.db.select().from(auditLog).orderBy(asc(auditLog.id));
    expect(audit.map((r) => r.action)).toEqual([
      "credential.create",
      "cluster.create",
      "cluster.create",
      "load_balancer.create",
      "load_balancer.create",
      "policy.create",
      "policy.create",
      "node.create",
      "node.create",
      "node.create",
      "node.create",
    ]);
    const gteId = (await handle.db.select().from(clusters).where(eq(clusters.name, "gte-pro-search")))[0]?.id;
    expect(audit[1]).toMatchObject({
      action: "cluster.create",
      after: { loadBalancer: "lb-gte-pro-search" },
    });
    expect(audit[3]).toMatchObject({
      targetType: "load_balancer",
      targetId: gteLb?.id,
      clusterId: gteId,
      after: { name: "lb-gte-pro-search", cluster: "gte-pro-search", nginxConfPath: null, sshPort: 22 },
    });
  });

  it("changes nothing when the same file is applied again", async () => {
    const before = await rowCounts();
    const plan = await apply(sampleInventoryWithLoadBalancers());
    expect(allUnchanged(plan)).toBe(true);
    expect(plan.changes.filter((c) => c.kind === "load_balancer")).toHaveLength(2);
    expect(plan.notInFile).toEqual([]);
    expect(await rowCounts()).toEqual(before);
  });

  it("updates only the fields that changed; omitted fields go back to their defaults", async () => {
    const gteLb = await lbRow("lb-gte-pro-search");
    const f = sampleInventoryWithLoadBalancers();
    f.clusters[0].loadBalancer.endpointUrl = "http://10.0.0.5:8080/";
    delete f.clusters[1].loadBalancer.nginxBin;
    delete f.clusters[1].loadBalancer.nginxConfPath;
    const plan = await apply(f);
    expect(plan.changes.filter((c) => c.action !== "unchanged")).toEqual([
      {
        action: "update",
        kind: "load_balancer",
        name: "lb-gte-pro-search",
        cluster: "gte-pro-search",
        fields: ["endpointUrl"],
        detail: "http://10.0.0.5:8080/",
      },
      {
        action: "update",
        kind: "load_balancer",
        name: "bridge-lb",
        cluster: "ollama-bridge",
        fields: ["nginxBin", "nginxConfPath"],
        detail: "https://lb.example.internal:8443/v1/",
      },
    ]);
    const after = await lbRow("lb-gte-pro-search");
    expect(after?.id).toBe(gteLb?.id);
    expect(after?.endpointUrl).toBe("http://10.0.0.5:8080/");
    expect(await lbRow("bridge-lb")).toMatchObject({ nginxBin: "nginx", nginxConfPath: null });
    expect(await lastAudit(2)).toMatchObject([
      {
        action: "load_balancer.update",
        targetId: gteLb?.id,
        before: { endpointUrl: "http://10.0.0.5/" },
        after: { endpointUrl: "http://10.0.0.5:8080/" },
      },
      {
        action: "load_balancer.update",
        before: { nginxBin: "/usr/sbin/nginx", nginxConfPath: "/etc/nginx/nginx.conf" },
        after: { nginxBin: "nginx", nginxConfPath: null },
      },
    ]);
    expect(allUnchanged(await apply(f))).toBe(true);
    expect(actions(await apply(sampleInventoryWithLoadBalancers()))).toEqual([
      "update load_balancer lb-gte-pro-search",
      "update load_balancer bridge-lb",
    ]);
  });

  it("unlinks a load balancer the file drops, keeps it until --prune, and links it again", async () => {
    const bridgeLb = await lbRow("bridge-lb");
    const f = sampleInventoryWithLoadBalancers();
    delete f.clusters[1].loadBalancer;
    const unlinked = await apply(f);
    expect(unlinked.changes.filter((c) => c.action !== "unchanged")).toEqual([
      {
        action: "update",
        kind: "cluster",
        name: "ollama-bridge",
        fields: ["loadBalancer"],
        detail: "active_active",
      },
    ]);
    expect(unlinked.notInFile).toEqual([{ kind: "load_balancer", name: "bridge-lb" }]);
    expect(await linkOf("ollama-bridge")).toBeNull();
    expect(await lbRow("bridge-lb")).toEqual(bridgeLb);
    expect(await lastAudit(1)).toMatchObject([
      { action: "cluster.update", before: { loadBalancer: "bridge-lb" }, after: { loadBalancer: null } },
    ]);

    const again = await apply(f);
    expect(allUnchanged(again)).toBe(true);
    expect(again.notInFile).toEqual([{ kind: "load_balancer", name: "bridge-lb" }]);

    // Named again: the kept row is linked again, as it was.
    expect(actions(await apply(sampleInventoryWithLoadBalancers()))).toEqual([
      "update cluster ollama-bridge",
    ]);
    expect(await linkOf("ollama-bridge")).toBe(bridgeLb?.id);

    // Dropped with --prune: unlinked and deleted in one apply.
    const pruned = await apply(f, { prune: true });
    expect(actions(pruned)).toEqual(["update cluster ollama-bridge", "delete load_balancer bridge-lb"]);
    expect(await lbRow("bridge-lb")).toBeNull();
    expect(await lastAudit(1)).toMatchObject([
      {
        action: "load_balancer.delete",
        targetId: bridgeLb?.id,
        before: { name: "bridge-lb", upstreamConfigPath: "/etc/nginx/switchyard/ollama-bridge.conf" },
      },
    ]);
    expect(allUnchanged(await apply(f, { prune: true }))).toBe(true);

    // Added to a cluster that exists: created, then linked.
    const added = await apply(sampleInventoryWithLoadBalancers());
    expect(actions(added)).toEqual(["update cluster ollama-bridge", "create load_balancer bridge-lb"]);
    expect((await lastAudit(2)).map((r) => r.action)).toEqual(["load_balancer.create", "cluster.update"]);
    expect(await linkOf("ollama-bridge")).toBe((await lbRow("bridge-lb"))?.id);
  });

  it("renames by creating the new load balancer; the old one waits for --prune", async () => {
    const f = sampleInventoryWithLoadBalancers();
    f.clusters[0].loadBalancer.name = "gte-lb";
    const renamed = await apply(f);
    expect(actions(renamed)).toEqual(["update cluster gte-pro-search", "create load_balancer gte-lb"]);
    expect(renamed.notInFile).toEqual([{ kind: "load_balancer", name: "lb-gte-pro-search" }]);
    expect(await linkOf("gte-pro-search")).toBe((await lbRow("gte-lb"))?.id);

    const back = await apply(sampleInventoryWithLoadBalancers(), { prune: true });
    expect(actions(back)).toEqual(["update cluster gte-pro-search", "delete load_balancer gte-lb"]);
    expect(await linkOf("gte-pro-search")).toBe((await lbRow("lb-gte-pro-search"))?.id);
  });

  it("prunes a cluster's load balancer with the cluster", async () => {
    const f = sampleInventoryWithLoadBalancers();
    f.clusters.push({
      name: "scratch-pool",
      mode: "active_active",
      slaTargetPct: 99,
      loadBalancer: sampleLoadBalancer("scratch-pool", "10.0.0.9"),
      nodes: [
        {
          name: "scratch-1",
          host: "10.9.0.1",
          credential: "fleet-key",
          hostKeyFingerprint: fp("s1"),
          role: "member",
        },
      ],
    });
    expect(actions(await apply(f))).toEqual([
      "create cluster scratch-pool",
      "create policy scratch-pool",
      "create load_balancer lb-scratch-pool",
      "create node scratch-1",
    ]);
    const kept = await apply(sampleInventoryWithLoadBalancers());
    expect(kept.notInFile).toEqual([{ kind: "cluster", name: "scratch-pool" }]);

    // Its upstream file stays taken while the cluster stays.
    const g = sampleInventoryWithLoadBalancers();
    g.clusters[1].loadBalancer.upstreamConfigPath = "/etc/nginx/switchyard/scratch-pool.conf";
    expect(await rejects(g)).toContainEqual({
      path: "clusters[1].loadBalancer.upstreamConfigPath",
      message: expect.stringMatching(
        /already used by load balancer "lb-scratch-pool" \(cluster "scratch-pool"\), which is not in this file.*--prune/,
      ),
    });

    const pruned = await apply(g, { prune: true });
    expect(actions(pruned)).toEqual([
      "update load_balancer bridge-lb",
      "delete node scratch-1",
      "delete cluster scratch-pool",
      "delete load_balancer lb-scratch-pool",
    ]);
    expect(await lbRow("lb-scratch-pool")).toBeNull();
    expect((await lastAudit(1))[0]).toMatchObject({ action: "load_balancer.delete" });
    await apply(sampleInventoryWithLoadBalancers());
  });

  it("refuses, naming the path and writing nothing: unknown credential, a move, a switchover in flight", async () => {
    const unknownCred = sampleInventoryWithLoadBalancers();
    unknownCred.clusters[1].loadBalancer.credential = "nobody-key";
    expect(await rejects(unknownCred)).toContainEqual({
      path: "clusters[1].loadBalancer.credential",
      message: expect.stringMatching(/unknown credential "nobody-key"/),
    });

    const move = sampleInventoryWithLoadBalancers();
    delete move.clusters[0].loadBalancer;
    move.clusters[1].loadBalancer.name = "lb-gte-pro-search";
    expect(await rejects(move)).toContainEqual({
      path: "clusters[1].loadBalancer.name",
      message: expect.stringMatching(
        /"lb-gte-pro-search" belongs to cluster "gte-pro-search"; apply does not move load balancers/,
      ),
    });

    const gteId = (await handle.db.select().from(clusters).where(eq(clusters.name, "gte-pro-search")))[0]?.id;
    if (!gteId) throw new Error("no cluster");
    await handle.db.insert(switchovers).values({
      clusterId: gteId,
      kind: "manual",
      state: "verifying",
      requestedByLabel: "t",
      reason: "t",
    });
    const changed = sampleInventoryWithLoadBalancers();
    changed.clusters[0].loadBalancer.upstreamConfigPath = "/etc/nginx/switchyard/other.conf";
    expect(await rejects(changed)).toEqual([
      { path: "clusters[0].loadBalancer", message: expect.stringMatching(/switchover in flight/) },
    ]);
    const dropped = sampleInventoryWithLoadBalancers();
    delete dropped.clusters[0].loadBalancer;
    expect(await rejects(dropped)).toEqual([
      { path: "clusters[0].loadBalancer", message: expect.stringMatching(/in flight; linking or unlinking/) },
    ]);
    // Other clusters' load balancers are not held up.
    const other = sampleInventoryWithLoadBalancers();
    other.clusters[1].loadBalancer.sshPort = 2200;
    expect(actions(await apply(other))).toEqual(["update load_balancer bridge-lb"]);
    await handle.db.delete(switchovers);
    await apply(sampleInventoryWithLoadBalancers());
  });

  it("exports every load balancer field explicitly, and the export applies as unchanged", async () => {
    const { file, warnings } = await exportInventory(handle.db);
    expect(warnings).toEqual([]);
    expect(file.clusters[0]?.loadBalancer).toEqual({
      name: "lb-gte-pro-search",
      host: "10.0.0.5",
      sshPort: 22,
      sshUser: "switchyard",
      credential: "fleet-key",
      hostKeyFingerprint: fp("lb of gte-pro-search"),
      upstreamConfigPath: "/etc/nginx/switchyard/gte-pro-search.conf",
      endpointUrl: "http://10.0.0.5/",
      nginxBin: "nginx",
      nginxConfPath: null,
    });
    expect(Object.keys(file.clusters[1] ?? {})).toEqual([
      "name",
      "description",
      "mode",
      "slaTargetPct",
      "policy",
      "loadBalancer",
      "nodes",
    ]);
    expect(file.clusters[1]?.loadBalancer).toMatchObject({
      name: "bridge-lb",
      nginxConfPath: "/etc/nginx/nginx.conf",
    });

    const text = JSON.stringify(file);
    expect(checkInventoryFile(JSON.parse(text)).ok).toBe(true);
    const before = await rowCounts();
    const plan = await applyInventory(handle.db, secretKey, JSON.parse(text), { actor: ACTOR });
    expect(allUnchanged(plan)).toBe(true);
    expect(plan.changes.filter((c) => c.kind === "load_balancer")).toHaveLength(2);
    expect(await rowCounts()).toEqual(before);

    // A row enrolled without a pinned host key (say, by hand) is exported with a warning, not
    // as a file that would pin nothing.
    await handle.db
      .update(loadBalancers)
      .set({ hostKeyFingerprint: null })
      .where(eq(loadBalancers.name, "bridge-lb"));
    const loose = await exportInventory(handle.db);
    expect(loose.warnings).toEqual([expect.stringMatching(/load balancer "bridge-lb".*no pinned host key/)]);
    expect(loose.file.clusters[1]?.loadBalancer).not.toHaveProperty("hostKeyFingerprint");
    expect(checkInventoryFile(JSON.parse(JSON.stringify(loose.file))).ok).toBe(false);
    expect(actions(await apply(sampleInventoryWithLoadBalancers()))).toEqual([
      "update load_balancer bridge-lb",
    ]);
  });
});
