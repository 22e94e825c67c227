import { randomBytes } from "node:crypto";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { auditLog, clusters, credentials, nodes } from "@/db/schema";
import { hashAuditRow } from "@/server/audit/append";
import { loadPrivateKey } from "@/server/credentials/store";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { createScratchDatabase } from "@/test/db";
import { DEMO_CLUSTERS } from "./inventory";
import { seedDemoInventory } from "./seed";

describe("demo inventory seeding", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let handle: ReturnType<typeof createDb>;
  const secretKey = randomBytes(32);
  const client = generateEd25519KeyPair("test");
  const hostKeys = new Map(
    DEMO_CLUSTERS.flatMap((c) => c.nodes.map((n) => [n.name, `SHA256:${n.name}`] as const)),
  );
  const input = {
    secretKey,
    clientPrivateKey: client.privateKey,
    hostKeys,
    sshPort: 2222,
    servicePort: 8000,
  };

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    handle = createDb(scratch.url, { max: 2 });
  });
  afterAll(async () => {
    await handle?.sql.end();
    await scratch?.drop();
  });

  it("creates the three clusters with their nodes, primaries and pinned host keys", async () => {
    const result = await seedDemoInventory(handle.db, input);
    expect(result.created).toEqual(["gte-pro-search", "llm-chat", "ollama-bridge"]);
    const rows = await handle.db.query.clusters.findMany({
      with: { nodes: true },
      orderBy: asc(clusters.name),
    });
    expect(rows.map((c) => [c.name, c.mode, c.nodes.length])).toEqual([
      ["gte-pro-search", "active_standby", 2],
      ["llm-chat", "active_standby", 3],
      ["ollama-bridge", "active_active", 3],
    ]);
    const gte = rows[0];
    expect(gte?.nodes.find((n) => n.id === gte.primaryNodeId)?.name).toBe("gte-a");
    expect(rows[2]?.primaryNodeId).toBeNull();
    const allNodes = await handle.db.select().from(nodes);
    expect(allNodes.every((n) => n.hostKeyFingerprint === `SHA256:${n.name}`)).toBe(true);
  });

  it("stores the SSH key sealed, and it opens only with the key", async () => {
    const [cred] = await handle.db.select().from(credentials);
    expect(cred).toBeDefined();
    if (!cred) return;
    expect(cred.ciphertext.toString("latin1")).not.toContain("PRIVATE KEY");
    expect((await loadPrivateKey(handle.db, secretKey, cred.id)).toString()).toBe(client.privateKey);
    await expect(loadPrivateKey(handle.db, randomBytes(32), cred.id)).rejects.toThrow(
      /could not be decrypted/,
    );
  });

  it("changes nothing on a second run, except re-pinning regenerated host keys, audited", async () => {
    const before = await handle.db.select().from(auditLog);
    expect(await seedDemoInventory(handle.db, input)).toEqual({ created: [], repinned: [] });
    expect(await handle.db.select().from(auditLog)).toHaveLength(before.length);

    const changed = new Map(hostKeys).set("gte-b", "SHA256:regenerated");
    expect(await seedDemoInventory(handle.db, { ...input, hostKeys: changed })).toEqual({
      created: [],
      repinned: ["gte-b"],
    });
    const [gteB] = await handle.db.select().from(nodes).where(eq(nodes.name, "gte-b"));
    expect(gteB?.hostKeyFingerprint).toBe("SHA256:regenerated");
  });

  it("writes an audit trail whose hash chain verifies", async () => {
    const rows = await handle.db.select().from(auditLog).orderBy(asc(auditLog.id));
    expect(rows.map((r) => r.action)).toEqual([
      "credential.create",
      "cluster.create",
      "cluster.create",
      "cluster.create",
      "node.host_key.pin",
    ]);
    let prev = "0".repeat(64);
    for (const r of rows) {
      expect(r.prevHash).toBe(prev);
      expect(hashAuditRow(prev, { ...r, at: r.at })).toBe(r.hash);
      prev = r.hash;
    }
  });
});
