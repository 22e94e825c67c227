// Settings actions against a real Postgres and a real simulated fleet (SSH included): clusters,
// nodes and load balancers created, edited and removed with their audit rows; bad input refused
// field by field with nothing written; removals refused while a switchover is in flight or for a
// primary; credentials sealed and never echoed; test connection showing the host's fingerprint,
// trusting it, and naming a wrong key, a closed port and a changed host key.
import { randomBytes } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { auditLog, clusters, credentials, loadBalancers, nodes, policies, switchovers } from "@/db/schema";
import { type Actor, runAsActor } from "@/server/auth/guard";
import { ROLES, type Role } from "@/server/auth/roles";
import { createUser } from "@/server/auth/users";
import { INVENTORY_CHANNEL, listen } from "@/server/notify/events";
import { TRIPLE_CHECK_WARNING } from "@/server/policy/presets";
import type { SettingsFailure } from "@/server/settings/errors";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { findFreePort, startTestFleet, type TestFleet } from "@/sim/testing";
import { createScratchDatabase } from "@/test/db";
import {
  createClusterAction,
  createCredentialAction,
  createNodeAction,
  deleteClusterAction,
  deleteLoadBalancerAction,
  deleteNodeAction,
  loadCredentialsAction,
  loadInventorySettingsAction,
  loadPolicySettingsAction,
  rotateCredentialAction,
  saveLoadBalancerAction,
  savePolicyAction,
  setClusterMaintenanceAction,
  setNodeMaintenanceAction,
  testConnectionAction,
  trustHostKeyAction,
  updateClusterAction,
  updateNodeAction,
} from "./settings";

const SYSTEM = { actorUserId: null, actorLabel: "test", actorRole: "system" } as const;
const HOST_A = "127.0.0.171";
const HOST_B = "127.0.0.172";

type Result<T> = { ok: true; data: T } | SettingsFailure;

function expectOk<T>(res: Result<T>): T {
  if (!res.ok) throw new Error(`expected ok, got ${res.error} ${JSON.stringify(res.issues ?? [])}`);
  return res.data;
}
function expectFailure<T>(res: Result<T>): SettingsFailure {
  if (res.ok) throw new Error(`expected a failure, got ${JSON.stringify(res.data)}`);
  return res;
}
const fieldsOf = (f: SettingsFailure) =>
  Object.fromEntries((f.issues ?? []).map((i) => [i.field, i.message]));

describe("settings actions", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  let fleet: TestFleet;
  const previousDb = (globalThis as { switchyardDb?: unknown }).switchyardDb;
  const previousKey = process.env.SWITCHYARD_SECRET_KEY;
  const actors = {} as Record<Role, Actor>;
  const admin = <T>(fn: () => Promise<T>) => runAsActor(actors.admin, fn);

  const count = async (table: typeof clusters | typeof nodes | typeof auditLog | typeof loadBalancers) =>
    (await h.db.select({ n: sql<number>`count(*)::int` }).from(table))[0]?.n ?? 0;
  const snapshot = async () => ({
    clusters: await count(clusters),
    nodes: await count(nodes),
    lbs: await count(loadBalancers),
    audit: await count(auditLog),
  });
  const auditFor = (targetId: string) =>
    h.db.select().from(auditLog).where(eq(auditLog.targetId, targetId)).orderBy(auditLog.id);

  let clusterId: string;
  let nodeA: string;
  let nodeB: string;

  beforeAll(async () => {
    process.env.SWITCHYARD_SECRET_KEY = randomBytes(32).toString("base64");
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4 });
    (globalThis as { switchyardDb?: unknown }).switchyardDb = h;
    for (const role of ROLES) {
      const { id } = await createUser(
        h.db,
        { username: `set-${role}`, password: `pw-${role}-Long-Enough-1`, role },
        SYSTEM,
      );
      actors[role] = { kind: "session", userId: id, label: `set-${role}`, role, address: "192.0.2.9" };
    }
    fleet = await startTestFleet([
      { name: "set-a", host: HOST_A, cluster: "set", role: "master" },
      { name: "set-b", host: HOST_B, cluster: "set", role: "standby" },
    ]);
  }, 90_000);

  afterAll(async () => {
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previousDb;
    if (previousKey === undefined) delete process.env.SWITCHYARD_SECRET_KEY;
    else process.env.SWITCHYARD_SECRET_KEY = previousKey;
    await fleet?.stop();
    await h?.sql.end();
    await scratch?.drop();
  });

  // -- credentials ------------------------------------------------------------------------------

  it("creates a credential from a pasted key: sealed, listed by its public half, never echoed", async () => {
    const key = fleet.clientPrivateKey;
    const body = key.split("\n")[1] ?? "";
    const res = await admin(() => createCredentialAction({ name: "fleet-key", privateKey: key }));
    const data = expectOk(res);
    expect(data.fingerprint).toMatch(/^SHA256:/);
    expect(data.publicKey).toMatch(/^ssh-ed25519 /);
    const listed = expectOk(await admin(() => loadCredentialsAction({})));
    expect(listed).toEqual([
      expect.objectContaining({ name: "fleet-key", fingerprint: data.fingerprint, rotatedAt: null }),
    ]);
    const [row] = await h.db.select().from(credentials).where(eq(credentials.id, data.id));
    expect(row?.ciphertext.toString("utf8")).not.toContain("PRIVATE KEY");
    const audit = await auditFor(data.id);
    expect(audit).toMatchObject([
      { action: "credential.create", actorLabel: "set-admin", after: { name: "fleet-key" } },
    ]);
    for (const text of [JSON.stringify(res), JSON.stringify(listed), JSON.stringify(audit)]) {
      expect(text).not.toContain("PRIVATE KEY");
      expect(text).not.toContain(body);
    }
  });

  it("refuses a bad key and a taken name without storing anything or quoting the key", async () => {
    const before = await snapshot();
    const garbage =
      "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90LWEta2V5LXNlY3JldC1zZWNyZXQ=\n-----END OPENSSH PRIVATE KEY-----";
    const bad = expectFailure(
      await admin(() => createCredentialAction({ name: "broken", privateKey: garbage })),
    );
    expect(bad.field).toBe("privateKey");
    expect(fieldsOf(bad).privateKey).toMatch(/not an unencrypted OpenSSH or PEM private key/);
    expect(JSON.stringify(bad)).not.toContain("bm90LWEta2V5");
    const taken = expectFailure(
      await admin(() => createCredentialAction({ name: "fleet-key", privateKey: fleet.clientPrivateKey })),
    );
    expect(fieldsOf(taken).name).toMatch(/already exists/);
    expect(JSON.stringify(taken)).not.toContain("PRIVATE KEY");
    const badName = expectFailure(
      await admin(() => createCredentialAction({ name: "Fleet Key!", privateKey: fleet.clientPrivateKey })),
    );
    expect(fieldsOf(badName).name).toMatch(/^Name must be 1-63 lowercase letters/);
    expect(await count(auditLog)).toBe(before.audit);
    expect(await h.db.select({ id: credentials.id }).from(credentials)).toHaveLength(1);
  });

  it("rotates a credential in place (same id), audited with both fingerprints", async () => {
    const other = generateEd25519KeyPair("rotated");
    const spare = expectOk(
      await admin(() => createCredentialAction({ name: "spare-key", privateKey: other.privateKey })),
    );
    const next = generateEd25519KeyPair("rotated-again");
    const rotated = expectOk(
      await admin(() => rotateCredentialAction({ id: spare.id, privateKey: next.privateKey })),
    );
    expect(rotated.id).toBe(spare.id);
    expect(rotated.fingerprint).not.toBe(spare.fingerprint);
    const audit = await auditFor(spare.id);
    expect(audit.map((a) => a.action)).toEqual(["credential.create", "credential.rotate"]);
    expect(audit[1]).toMatchObject({
      before: { fingerprint: spare.fingerprint },
      after: { fingerprint: rotated.fingerprint },
    });
    const same = expectFailure(
      await admin(() => rotateCredentialAction({ id: spare.id, privateKey: next.privateKey })),
    );
    expect(fieldsOf(same).privateKey).toMatch(/already holds/);
    expect(JSON.stringify([rotated, same, audit])).not.toContain("PRIVATE KEY");
  });

  // -- clusters ---------------------------------------------------------------------------------

  it("creates a cluster with its policy from a preset, audited and NOTIFYed", async () => {
    const heard: string[] = [];
    const sub = await listen(h.sql, INVENTORY_CHANNEL, (p) => heard.push(p));
    try {
      const res = await admin(() =>
        createClusterAction({
          name: "set",
          description: "settings test",
          mode: "active_standby",
          slaTargetPct: "99.95",
          preset: "conservative",
        }),
      );
      clusterId = expectOk(res).id;
      const [policy] = await h.db.select().from(policies).where(eq(policies.clusterId, clusterId));
      expect(policy).toMatchObject({ preset: "conservative", signalsRequired: "tcp_and_http", version: 1 });
      const audit = await h.db.select().from(auditLog).where(eq(auditLog.clusterId, clusterId));
      expect(audit.map((a) => a.action)).toEqual(["cluster.create", "policy.create"]);
      expect(audit[0]).toMatchObject({
        actorRole: "admin",
        address: "192.0.2.9",
        after: { name: "set", mode: "active_standby", slaTargetPct: 99.95, preset: "conservative" },
      });
      await expect.poll(() => heard.map((p) => JSON.parse(p).clusterId)).toContain(clusterId);
    } finally {
      await sub.unlisten();
    }
  });

  it("rejects bad cluster input field by field and writes nothing", async () => {
    const before = await snapshot();
    const bad = expectFailure(
      await admin(() => createClusterAction({ name: "Bad Name", mode: "both", slaTargetPct: "100" })),
    );
    expect(bad.status).toBe(422);
    expect(fieldsOf(bad)).toEqual({
      name: expect.stringMatching(/^Name must be 1-63 lowercase letters/),
      mode: "Mode must be one of: active_standby, active_active",
      slaTargetPct: expect.stringMatching(/^SLA target must be a percentage above 0 and below 100/),
    });
    const dup = expectFailure(
      await admin(() => createClusterAction({ name: "set", mode: "active_active", slaTargetPct: 99 })),
    );
    expect(dup.field).toBe("name");
    expect(await snapshot()).toEqual(before);
  });

  it("edits a cluster's description and SLA, auditing only what changed", async () => {
    const res = expectOk(
      await admin(() =>
        updateClusterAction({ id: clusterId, description: "settings test", slaTargetPct: "99.9" }),
      ),
    );
    expect(res.changed).toEqual(["slaTargetPct"]);
    const [audit] = (await auditFor(clusterId)).filter((a) => a.action === "cluster.update");
    expect(audit).toMatchObject({ before: { slaTargetPct: 99.95 }, after: { slaTargetPct: 99.9 } });
  });

  // -- nodes ------------------------------------------------------------------------------------

  it("rejects bad node input with a message per field and saves nothing", async () => {
    const before = await snapshot();
    const bad = expectFailure(
      await admin(() =>
        createNodeAction({
          clusterId,
          name: "Bad_Name",
          host: "not a host!",
          sshPort: "99999",
          sshUser: "-oProxyCommand",
          credential: "fleet-key",
          hostKeyFingerprint: "MD5:aa:bb",
          servicePort: "eighty",
          healthPath: "health",
          role: "primary",
        }),
      ),
    );
    expect(fieldsOf(bad)).toEqual({
      name: expect.stringMatching(/^Name must be 1-63 lowercase letters/),
      host: "Host must be an IPv4/IPv6 address or a DNS name",
      sshPort: "SSH port must be between 1 and 65535",
      sshUser: expect.stringMatching(/^SSH user must be a login name/),
      hostKeyFingerprint: expect.stringMatching(
        /^Host key fingerprint must be a SHA256 host key fingerprint/,
      ),
      servicePort: "Service port must be a number",
      healthPath: expect.stringMatching(/^Health path must be a URL path starting with '\/'/),
    });
    expect(bad.error).toBe("7 fields need fixing; nothing was saved.");
    const unknown = expectFailure(
      await admin(() =>
        createNodeAction({ clusterId, name: "set-x", host: HOST_A, credential: "nope", role: "member" }),
      ),
    );
    expect(fieldsOf(unknown)).toEqual({
      credential: 'There is no credential named "nope": add it under Credentials first.',
      role: "set is active-standby: add a standby (or its first primary), not a member.",
    });
    expect(await snapshot()).toEqual(before);
  });

  it("adds the first primary (epoch 1) and a standby; a second primary or a taken endpoint is refused", async () => {
    const a = fleet.fleet.getNode("set-a");
    const b = fleet.fleet.getNode("set-b");
    const first = expectOk(
      await admin(() =>
        createNodeAction({
          clusterId,
          name: "set-a",
          host: ` ${a.host} `,
          sshPort: String(a.sshPort),
          credential: "fleet-key",
          hostKeyFingerprint: a.hostKeyFingerprint,
          servicePort: String(a.httpPort),
          role: "primary",
          priority: "0",
        }),
      ),
    );
    nodeA = first.id;
    expect(first.primary).toBe(true);
    const [c] = await h.db.select().from(clusters).where(eq(clusters.id, clusterId));
    expect(c).toMatchObject({ primaryNodeId: nodeA, epoch: 1 });
    const [audit] = await auditFor(nodeA);
    expect(audit).toMatchObject({
      action: "node.create",
      clusterId,
      after: { name: "set-a", role: "primary", host: a.host, credential: "fleet-key", primary: true },
    });

    const before = await snapshot();
    const second = expectFailure(
      await admin(() =>
        createNodeAction({
          clusterId,
          name: "set-b",
          host: a.host,
          servicePort: a.httpPort,
          credential: "fleet-key",
          role: "primary",
        }),
      ),
    );
    expect(fieldsOf(second)).toEqual({
      host: expect.stringContaining(`is already node set-a (cluster set)`),
      role: expect.stringContaining("set already has a primary (set-a)"),
    });
    expect(await snapshot()).toEqual(before);

    // No fingerprint yet: it is pinned later through a test connection.
    nodeB = expectOk(
      await admin(() =>
        createNodeAction({
          clusterId,
          name: "set-b",
          host: b.host,
          sshPort: b.sshPort,
          credential: "fleet-key",
          hostKeyFingerprint: "",
          servicePort: b.httpPort,
          role: "standby",
          priority: 10,
        }),
      ),
    ).id;
    const [row] = await h.db.select().from(nodes).where(eq(nodes.id, nodeB));
    expect(row).toMatchObject({ role: "standby", hostKeyFingerprint: null, sshUser: "switchyard" });
  });

  it("edits a node: only the changed fields are audited; bad input changes nothing", async () => {
    const b = fleet.fleet.getNode("set-b");
    const form = {
      id: nodeB,
      host: b.host,
      sshPort: String(b.sshPort),
      sshUser: "switchyard",
      credential: "fleet-key",
      hostKeyFingerprint: "",
      servicePort: String(b.httpPort),
      healthPath: "/health",
      priority: "5",
      weight: "1",
    };
    const res = expectOk(await admin(() => updateNodeAction(form)));
    expect(res.changed).toEqual(["priority"]);
    const audit = (await auditFor(nodeB)).at(-1);
    expect(audit).toMatchObject({ action: "node.update", before: { priority: 10 }, after: { priority: 5 } });

    const before = await snapshot();
    const bad = expectFailure(await admin(() => updateNodeAction({ ...form, host: "a b", priority: "-1" })));
    expect(Object.keys(fieldsOf(bad)).sort()).toEqual(["host", "priority"]);
    expect(await snapshot()).toEqual(before);
    const [row] = await h.db.select().from(nodes).where(eq(nodes.id, nodeB));
    expect(row?.priority).toBe(5);
  });

  it("maintenance toggles are an operator's, audited with the reason; inventory edits are not", async () => {
    const op = (fn: () => Promise<unknown>) => runAsActor(actors.operator, fn);
    expectOk(
      (await op(() =>
        setNodeMaintenanceAction({ id: nodeB, maintenance: true, reason: "GPU swap" }),
      )) as Result<unknown>,
    );
    expectOk(
      (await op(() => setClusterMaintenanceAction({ id: clusterId, maintenance: true }))) as Result<unknown>,
    );
    const [n] = await h.db.select().from(nodes).where(eq(nodes.id, nodeB));
    expect(n?.maintenance).toBe(true);
    const audit = (await auditFor(nodeB)).at(-1);
    expect(audit).toMatchObject({
      action: "node.maintenance",
      actorRole: "operator",
      reason: "GPU swap",
      after: { maintenance: true },
    });
    expectOk(
      (await op(() => setClusterMaintenanceAction({ id: clusterId, maintenance: false }))) as Result<unknown>,
    );
    expectOk(
      (await op(() => setNodeMaintenanceAction({ id: nodeB, maintenance: false }))) as Result<unknown>,
    );

    const before = await snapshot();
    const refused = await op(() => deleteNodeAction({ id: nodeB }));
    expect(refused).toMatchObject({ ok: false, status: 403 });
    const viewer = await runAsActor(actors.viewer, () =>
      setNodeMaintenanceAction({ id: nodeB, maintenance: true }),
    );
    expect(viewer).toMatchObject({ ok: false, status: 403 });
    expect(await snapshot()).toEqual(before);
    // Operators read the inventory (for the toggles); viewers do not reach the settings.
    expect((await op(() => loadInventorySettingsAction({}))) as Result<unknown>).toMatchObject({ ok: true });
  });

  // -- test connection and host keys -----------------------------------------------------------------

  it("tests a node with no pinned key: shows the presented fingerprint; 'Trust this key' pins it (audited)", async () => {
    const b = fleet.fleet.getNode("set-b");
    const res = expectOk(await admin(() => testConnectionAction({ kind: "node", id: nodeB })));
    expect(res).toMatchObject({
      name: "set-b",
      host: HOST_B,
      port: b.sshPort,
      user: "switchyard",
      credential: "fleet-key",
      presentedFingerprint: b.hostKeyFingerprint,
      pinnedFingerprint: null,
      hostKey: "not_pinned",
      authenticated: true,
      ok: false,
      error: null,
    });
    expect(res.durationMs).toBeLessThan(8_000);
    // Testing wrote nothing.
    const [still] = await h.db.select().from(nodes).where(eq(nodes.id, nodeB));
    expect(still?.hostKeyFingerprint).toBeNull();

    const pinned = expectOk(
      await admin(() =>
        trustHostKeyAction({
          kind: "node",
          id: nodeB,
          fingerprint: res.presentedFingerprint,
          previous: null,
        }),
      ),
    );
    expect(pinned.fingerprint).toBe(b.hostKeyFingerprint);
    const audit = (await auditFor(nodeB)).at(-1);
    expect(audit).toMatchObject({
      action: "node.pin_host_key",
      before: { hostKeyFingerprint: null },
      after: { hostKeyFingerprint: b.hostKeyFingerprint },
    });
    // A second click based on the old test is refused: the key is pinned now.
    const stale = expectFailure(
      await admin(() =>
        trustHostKeyAction({
          kind: "node",
          id: nodeB,
          fingerprint: b.hostKeyFingerprint,
          previous: "SHA256:x",
        }),
      ),
    );
    expect(stale.status).toBe(409);

    const again = expectOk(await admin(() => testConnectionAction({ kind: "node", id: nodeB })));
    expect(again).toMatchObject({ hostKey: "matches", authenticated: true, ok: true, error: null });
  });

  it("a wrong key: an authentication error naming user and host, with the host's fingerprint still shown", async () => {
    const wrong = expectOk(
      await admin(() =>
        createCredentialAction({
          name: "wrong-key",
          privateKey: generateEd25519KeyPair("nobody").privateKey,
        }),
      ),
    );
    const res = expectOk(
      await admin(() => testConnectionAction({ kind: "node", id: nodeA, credentialId: wrong.id })),
    );
    expect(res).toMatchObject({
      credential: "wrong-key",
      presentedFingerprint: fleet.fleet.getNode("set-a").hostKeyFingerprint,
      hostKey: "matches",
      authenticated: false,
      ok: false,
      error: { code: "SSH_AUTH_FAILED" },
    });
    expect(res.error?.message).toMatch(
      /^SSH authentication as switchyard@127\.0\.0\.171:\d+ failed: the server did not accept the key\.$/,
    );
    expect(JSON.stringify(res)).not.toContain("PRIVATE KEY");
  });

  it("a closed SSH port: a connection error at once, no fingerprint", async () => {
    const port = await findFreePort([HOST_A]);
    await h.db.update(nodes).set({ sshPort: port }).where(eq(nodes.id, nodeA));
    try {
      const res = expectOk(await admin(() => testConnectionAction({ kind: "node", id: nodeA })));
      expect(res).toMatchObject({
        presentedFingerprint: null,
        hostKey: "unknown",
        authenticated: false,
        ok: false,
        error: {
          code: "SSH_CONNECT_FAILED",
          message: `SSH connection to ${HOST_A}:${port} failed: ECONNREFUSED`,
        },
      });
    } finally {
      await h.db
        .update(nodes)
        .set({ sshPort: fleet.fleet.getNode("set-a").sshPort })
        .where(eq(nodes.id, nodeA));
    }
  });

  it("a changed host key: refused before authentication, both fingerprints shown, re-pinning offered", async () => {
    const a = fleet.fleet.getNode("set-a");
    const impostor = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    await h.db.update(nodes).set({ hostKeyFingerprint: impostor }).where(eq(nodes.id, nodeA));
    try {
      const res = expectOk(await admin(() => testConnectionAction({ kind: "node", id: nodeA })));
      expect(res).toMatchObject({
        presentedFingerprint: a.hostKeyFingerprint,
        pinnedFingerprint: impostor,
        hostKey: "mismatch",
        authenticated: false,
        ok: false,
        error: { code: "SSH_HOST_KEY_MISMATCH" },
      });
      expect(res.error?.message).toContain("does not match the pinned fingerprint");
    } finally {
      await h.db.update(nodes).set({ hostKeyFingerprint: a.hostKeyFingerprint }).where(eq(nodes.id, nodeA));
    }
  });

  // -- load balancers ---------------------------------------------------------------------------

  it("adds, edits and removes the cluster's load balancer with the template's own checks", async () => {
    const before = await snapshot();
    const bad = expectFailure(
      await admin(() =>
        saveLoadBalancerAction({
          clusterId,
          host: HOST_A,
          credential: "fleet-key",
          upstreamConfigPath: "etc/nginx/../x.conf",
          endpointUrl: "ftp://lb",
          nginxBin: "-v",
        }),
      ),
    );
    expect(Object.keys(fieldsOf(bad)).sort()).toEqual(["endpointUrl", "nginxBin", "upstreamConfigPath"]);
    expect(fieldsOf(bad).upstreamConfigPath).toMatch(/^Upstream file must be an absolute path/);
    expect(await snapshot()).toEqual(before);

    const created = expectOk(
      await admin(() =>
        saveLoadBalancerAction({
          clusterId,
          name: "",
          host: "lb.example.internal",
          credential: "fleet-key",
          upstreamConfigPath: "/etc/nginx/switchyard/set.conf",
          endpointUrl: "http://lb.example.internal/",
          nginxConfPath: "",
        }),
      ),
    );
    expect(created).toMatchObject({ name: "lb-set", created: true });
    const [c] = await h.db.select().from(clusters).where(eq(clusters.id, clusterId));
    expect(c?.loadBalancerId).toBe(created.id);
    const [lb] = await h.db.select().from(loadBalancers).where(eq(loadBalancers.id, created.id));
    expect(lb).toMatchObject({
      nginxBin: "nginx",
      nginxConfPath: null,
      hostKeyFingerprint: null,
      sshPort: 22,
    });

    const edited = expectOk(
      await admin(() =>
        saveLoadBalancerAction({
          clusterId,
          name: "lb-set",
          host: "lb.example.internal",
          credential: "fleet-key",
          upstreamConfigPath: "/etc/nginx/switchyard/set.conf",
          endpointUrl: "http://lb.example.internal/",
          nginxBin: "/usr/sbin/nginx",
        }),
      ),
    );
    expect(edited).toMatchObject({ created: false, changed: ["nginxBin"] });
    const removed = expectOk(await admin(() => deleteLoadBalancerAction({ clusterId })));
    expect(removed.name).toBe("lb-set");
    expect(await count(loadBalancers)).toBe(0);
    expect((await auditFor(created.id)).map((a) => a.action)).toEqual([
      "load_balancer.create",
      "load_balancer.update",
      "load_balancer.delete",
    ]);
  });

  // -- policy -----------------------------------------------------------------------------------

  it("saves a policy as the next version; bad values and stale versions change nothing", async () => {
    const [view] = expectOk(await admin(() => loadPolicySettingsAction({}))).filter(
      (p) => p.clusterId === clusterId,
    );
    if (!view) throw new Error("no policy view");
    expect(view.version).toBe(1);
    const form = Object.fromEntries(
      Object.entries(view.policy).map(([k, v]) => [k, typeof v === "number" ? String(v) : v]),
    );

    const before = await snapshot();
    const bad = expectFailure(
      await admin(() =>
        savePolicyAction({
          ...form,
          clusterId,
          expectedVersion: 1,
          probeIntervalMs: "50",
          failuresToFail: "x",
          preset: "yolo",
        }),
      ),
    );
    expect(fieldsOf(bad)).toEqual({
      probeIntervalMs: "Probe interval must be at least 100 ms",
      failuresToFail: "Failures to fail must be a number",
      preset: "Preset must be one of: default, conservative, triple_check",
    });
    expect(await snapshot()).toEqual(before);

    const saved = expectOk(
      await admin(() =>
        savePolicyAction({
          ...form,
          clusterId,
          expectedVersion: 1,
          preset: "triple_check",
          signalsRequired: "all",
        }),
      ),
    );
    expect(saved).toMatchObject({ version: 2, changed: ["preset", "signalsRequired"] });
    const [row] = await h.db.select().from(policies).where(eq(policies.clusterId, clusterId));
    expect(row).toMatchObject({ version: 2, preset: "triple_check", signalsRequired: "all" });
    const [audit] = await h.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.clusterId, clusterId), eq(auditLog.action, "policy.update")));
    expect(audit).toMatchObject({
      before: { preset: "conservative", signalsRequired: "tcp_and_http" },
      after: { preset: "triple_check", signalsRequired: "all", version: 2 },
    });
    expect(TRIPLE_CHECK_WARNING).toMatch(/never fires/);

    const stale = expectFailure(
      await admin(() => savePolicyAction({ ...form, clusterId, expectedVersion: 1, cooldownS: "60" })),
    );
    expect(stale).toMatchObject({ status: 409 });
    expect(stale.error).toMatch(/saved by someone else meanwhile \(now version 2\)/);
  });

  // -- removals ---------------------------------------------------------------------------------

  it("refuses to remove the primary or anything while a switchover is in flight, saying why", async () => {
    const before = await snapshot();
    const primary = expectFailure(await admin(() => deleteNodeAction({ id: nodeA })));
    expect(primary.error).toBe(
      "set-a is the current primary of set: removing it would leave the cluster with nothing to route to. Switch over to another node first, then remove it.",
    );
    const [sw] = await h.db
      .insert(switchovers)
      .values({
        clusterId,
        kind: "manual",
        state: "activating",
        requestedByLabel: "test",
        reason: "in flight",
      })
      .returning({ id: switchovers.id });
    try {
      const node = expectFailure(await admin(() => deleteNodeAction({ id: nodeB })));
      expect(node.error).toBe(
        "set has a switchover in flight (manual, activating); removing set-b must wait until it finishes.",
      );
      const cluster = expectFailure(await admin(() => deleteClusterAction({ id: clusterId })));
      expect(cluster.error).toMatch(/^set has a switchover in flight .*removing it must wait/);
      const inventory = expectOk(await admin(() => loadInventorySettingsAction({})));
      expect(inventory.clusters[0]?.inFlight).toMatchObject({ kind: "manual", state: "activating" });
      expect(await snapshot()).toEqual(before);
    } finally {
      await h.db
        .update(switchovers)
        .set({ state: "completed" })
        .where(eq(switchovers.id, sw?.id ?? ""));
    }
  });

  it("removes a standby, then the whole cluster, each audited", async () => {
    const removed = expectOk(await admin(() => deleteNodeAction({ id: nodeB })));
    expect(removed.name).toBe("set-b");
    expect((await auditFor(nodeB)).at(-1)).toMatchObject({
      action: "node.delete",
      before: { name: "set-b", role: "standby" },
    });
    const gone = expectOk(await admin(() => deleteClusterAction({ id: clusterId })));
    expect(gone).toMatchObject({ name: "set", nodes: ["set-a"] });
    expect(await count(clusters)).toBe(0);
    expect(await count(nodes)).toBe(0);
    const audit = await auditFor(clusterId);
    expect(audit.at(-1)).toMatchObject({
      action: "cluster.delete",
      before: { name: "set", nodes: ["set-a"] },
    });
    expect((await auditFor(nodeA)).at(-1)).toMatchObject({ action: "node.delete" });
    const missing = expectFailure(await admin(() => deleteClusterAction({ id: clusterId })));
    expect(missing.status).toBe(404);
  });
});
