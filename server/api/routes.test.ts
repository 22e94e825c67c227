// The `/api/v1` route handlers against a real Postgres, called as Next.js calls them (a Request and
// a params promise), authenticated the real way (bearer tokens and session cookies). Every response
// is parsed with the zod contract the OpenAPI document is built from, and its status is checked to
// be documented for that operation; every body is searched for secrets.
import { createHash, randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { z } from "zod";
import { GET as getAvailability } from "@/app/api/v1/availability/route";
import { GET as getCluster } from "@/app/api/v1/clusters/[id]/route";
import { GET as getClusters } from "@/app/api/v1/clusters/route";
import { GET as getFleet } from "@/app/api/v1/fleet/route";
import { GET as getNodes } from "@/app/api/v1/nodes/route";
import { GET as getOpenApi } from "@/app/api/v1/openapi.json/route";
import { GET as getStatus } from "@/app/api/v1/status/route";
import { GET as getReport } from "@/app/api/v1/switchovers/[id]/report/route";
import { GET as getSwitchover } from "@/app/api/v1/switchovers/[id]/route";
import { GET as getSwitchovers, POST as postSwitchover } from "@/app/api/v1/switchovers/route";
import { GET as getTokens } from "@/app/api/v1/tokens/route";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import {
  alerts,
  apiTokens,
  clusterAvailabilityChanges,
  clusters,
  controllerLease,
  credentials,
  loadBalancers,
  nodes,
  sessions,
  switchovers,
} from "@/db/schema";
import { createSession, SESSION_COOKIE } from "@/server/auth/sessions";
import { createApiToken } from "@/server/auth/tokens";
import { createUser } from "@/server/auth/users";
import { createCredential } from "@/server/credentials/store";
import { seedDemoInventory } from "@/server/demo/seed";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { buildReport } from "@/server/switchover/report";
import { createScratchDatabase } from "@/test/db";
import { buildOpenApiDocument } from "./openapi";
import {
  AvailabilitySchema,
  ClusterDetailSchema,
  ClusterListSchema,
  ErrorSchema,
  FleetOverviewSchema,
  NodeListSchema,
  StatusSchema,
  SwitchoverConflictSchema,
  SwitchoverDetailSchema,
  SwitchoverListSchema,
  SwitchoverReportSchema,
  TokenListSchema,
} from "./schemas";

const SYSTEM = { actorUserId: null, actorLabel: "test", actorRole: "system" } as const;
const MINUTE = 60_000;

// \`never\` params: every route handler, whatever its params, can be called through this type.
type Handler = (req: Request, ctx: { params: Promise<never> }) => Promise<Response>;
type Auth = { token?: string; session?: string; header?: string };

const doc = buildOpenApiDocument();
/** Every body any test received: searched for secrets at the end. */
const bodies: string[] = [];

/**
 * Calls a handler the way Next.js does. `template` is the documented path: the answer's status must
 * be a documented response of that operation.
 */
async function call(
  handler: Handler,
  template: string,
  opts: Auth & {
    path?: string;
    query?: string;
    params?: Record<string, string>;
    method?: "GET" | "POST";
    body?: unknown;
  } = {},
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const headers = new Headers();
  if (opts.token) headers.set("authorization", `Bearer ${opts.token}`);
  if (opts.header) headers.set("authorization", opts.header);
  if (opts.session) headers.set("cookie", `theme=dark; ${SESSION_COOKIE}=${opts.session}`);
  const init: RequestInit = { method: opts.method ?? "GET", headers };
  if (opts.body !== undefined) {
    headers.set("content-type", "application/json");
    init.body = JSON.stringify(opts.body);
  }
  const url = `http://127.0.0.1/api/v1${opts.path ?? template}${opts.query ? `?${opts.query}` : ""}`;
  const res = await handler(new Request(url, init), {
    params: Promise.resolve(opts.params ?? {}) as Promise<never>,
  });
  const text = await res.text();
  bodies.push(text);
  const method = (opts.method ?? "GET").toLowerCase() as "get" | "post";
  const documented = Object.keys(doc.paths[template]?.[method]?.responses ?? {});
  expect(documented, `${opts.method ?? "GET"} ${template} answered ${res.status}: documented?`).toContain(
    String(res.status),
  );
  return { status: res.status, json: JSON.parse(text) as unknown, text, headers: res.headers };
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`response does not match its schema: ${parsed.error.message}`);
  return parsed.data;
}

/** Every key anywhere in a JSON value. */
function keysOf(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysOf(v, out);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      keysOf(v, out);
    }
  }
  return out;
}

const ENDPOINTS: Array<{
  template: string;
  handler: Handler;
  path?: string;
  params?: Record<string, string>;
}> = [
  { template: "/status", handler: getStatus },
  { template: "/clusters", handler: getClusters },
  {
    template: "/clusters/{id}",
    handler: getCluster,
    path: "/clusters/gte-pro-search",
    params: { id: "gte-pro-search" },
  },
  { template: "/nodes", handler: getNodes },
  { template: "/availability", handler: getAvailability },
];

describe("REST API /api/v1", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const previous = (globalThis as { switchyardDb?: unknown }).switchyardDb;
  const fleetKey = generateEd25519KeyPair("fleet");
  const lbKey = generateEd25519KeyPair("lb");
  const secretKey = randomBytes(32);
  const tok: Record<string, string> = {};
  const sess: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const DEMO = ["gte-pro-search", "llm-chat", "ollama-bridge"];

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4 });
    (globalThis as { switchyardDb?: unknown }).switchyardDb = h;
    const db = h.db;

    await seedDemoInventory(db, {
      secretKey,
      clientPrivateKey: fleetKey.privateKey,
      hostKeys: new Map([["gte-a", "SHA256:gte-a-host-key"]]),
      sshPort: 2222,
      servicePort: 8000,
    });
    const byName = async (name: string) => {
      const [n] = await db.select({ id: nodes.id }).from(nodes).where(eq(nodes.name, name));
      if (!n) throw new Error(`no node ${name}`);
      return n.id;
    };
    const [gte] = await db.select().from(clusters).where(eq(clusters.name, "gte-pro-search"));
    const [llm] = await db.select().from(clusters).where(eq(clusters.name, "llm-chat"));
    if (!gte || !llm) throw new Error("seed did not create the demo clusters");
    ids.gte = gte.id;
    ids.llm = llm.id;
    ids.gteA = await byName("gte-a");
    ids.gteB = await byName("gte-b");

    // A load balancer with its own sealed key; the API may name the LB but never its credential.
    const lbCred = await createCredential(db, secretKey, { name: "lb-key", privateKey: lbKey.privateKey });
    const [lb] = await db
      .insert(loadBalancers)
      .values({
        name: "lb-gte",
        host: "10.0.0.9",
        credentialId: lbCred.id,
        hostKeyFingerprint: "SHA256:lb-host-key",
        upstreamConfigPath: "/etc/nginx/switchyard/gte.conf",
        endpointUrl: "http://10.0.0.9/",
      })
      .returning({ id: loadBalancers.id });
    await db.update(clusters).set({ loadBalancerId: lb?.id }).where(eq(clusters.id, gte.id));

    // gte: primary healthy, standby failed → degraded. llm: primary failed → down. pool: unprobed.
    await db.update(nodes).set({ state: "healthy", reportedRole: "master" }).where(eq(nodes.id, ids.gteA));
    await db.update(nodes).set({ state: "failed", lastSeenAt: new Date() }).where(eq(nodes.id, ids.gteB));
    await db.update(nodes).set({ state: "healthy" }).where(eq(nodes.clusterId, llm.id));
    if (llm.primaryNodeId)
      await db.update(nodes).set({ state: "failed" }).where(eq(nodes.id, llm.primaryNodeId));

    // A leader, two open alerts (one acknowledged), one resolved.
    await db.insert(controllerLease).values({
      name: "controller",
      holderId: "ctl-test-1",
      epoch: 7,
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    await db.insert(alerts).values([
      { kind: "node_failed", severity: "critical", clusterId: llm.id, message: "primary failed" },
      {
        kind: "gpu_hot",
        severity: "warning",
        clusterId: gte.id,
        message: "GPU at 88 °C",
        acknowledgedAt: new Date(),
      },
      { kind: "old", severity: "critical", clusterId: gte.id, message: "over", resolvedAt: new Date() },
    ]);

    // A switchover in flight on llm-chat, and a finished one with its report on gte.
    const [running] = await db
      .insert(switchovers)
      .values({
        clusterId: llm.id,
        kind: "auto",
        state: "activating",
        fromNodeId: llm.primaryNodeId,
        requestedByLabel: "controller",
        reason: "primary failed",
      })
      .returning({ id: switchovers.id });
    const [done] = await db
      .insert(switchovers)
      .values({
        clusterId: gte.id,
        kind: "manual",
        state: "completed",
        fromNodeId: ids.gteB,
        toNodeId: ids.gteA,
        epoch: 1,
        requestedByLabel: "alice",
        reason: "driver upgrade",
        requestedAt: new Date(Date.now() - 10 * MINUTE),
        startedAt: new Date(Date.now() - 10 * MINUTE),
        finishedAt: new Date(Date.now() - 9 * MINUTE),
      })
      .returning({ id: switchovers.id });
    if (!running || !done) throw new Error("switchover insert returned nothing");
    ids.running = running.id;
    ids.done = done.id;
    await db
      .update(switchovers)
      .set({ report: await buildReport(db, done.id) })
      .where(eq(switchovers.id, done.id));

    // gte-pro-search: known for the last 2 h, down 10 min of it.
    const now = Date.now();
    await db.insert(clusterAvailabilityChanges).values([
      {
        clusterId: gte.id,
        at: new Date(now - 120 * MINUTE),
        available: true,
        reason: "t",
        controllerEpoch: 7,
      },
      {
        clusterId: gte.id,
        at: new Date(now - 60 * MINUTE),
        available: false,
        reason: "t",
        controllerEpoch: 7,
      },
      {
        clusterId: gte.id,
        at: new Date(now - 50 * MINUTE),
        available: true,
        reason: "t",
        controllerEpoch: 7,
      },
    ]);

    for (const role of ["viewer", "operator", "admin"] as const) {
      const { id } = await createUser(
        db,
        { username: `api-${role}`, password: `pw-${role}-Long-Enough-1`, role },
        SYSTEM,
      );
      ids[role] = id;
      sess[role] = (await createSession(db, { userId: id })).token;
      tok[role] = (await createApiToken(db, { name: `api-${role}`, role, createdBy: id })).token;
    }
    tok.expired = (
      await createApiToken(db, {
        name: "expired",
        role: "admin",
        createdBy: ids.admin ?? null,
        expiresAt: new Date(Date.now() - 1000),
      })
    ).token;
    const revoked = await createApiToken(db, { name: "revoked", role: "admin", createdBy: null });
    await db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, revoked.id));
    tok.revoked = revoked.token;
  }, 120_000);

  afterAll(async () => {
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previous;
    await h?.sql.end();
    await scratch?.drop();
  });

  describe("authentication", () => {
    for (const ep of [...ENDPOINTS, { template: "/tokens", handler: getTokens }]) {
      it(`${ep.template}: 401 JSON without credentials, or with an unknown, expired or revoked token`, async () => {
        const cases: Array<[string, Auth]> = [
          ["nothing", {}],
          ["a malformed header", { header: "Basic YWRtaW46YWRtaW4=" }],
          ["an unknown token", { token: `syd_abcdef12_${randomBytes(32).toString("base64url")}` }],
          ["an expired token", { token: tok.expired }],
          ["a revoked token", { token: tok.revoked }],
          ["an unknown session", { session: randomBytes(32).toString("base64url") }],
        ];
        for (const [what, auth] of cases) {
          const res = await call(ep.handler, ep.template, { ...auth, path: ep.path, params: ep.params });
          expect(res.status, `with ${what}`).toBe(401);
          expect(parse(ErrorSchema, res.json).error).toBe("unauthenticated");
          expect(res.headers.get("www-authenticate")).toBe("Bearer");
        }
      });
    }

    for (const ep of ENDPOINTS) {
      it(`${ep.template}: 200 for a viewer, by token and by session`, async () => {
        for (const auth of [{ token: tok.viewer }, { session: sess.viewer }]) {
          const res = await call(ep.handler, ep.template, { ...auth, path: ep.path, params: ep.params });
          expect(res.status).toBe(200);
          expect(res.headers.get("cache-control")).toBe("no-store");
        }
      });
    }

    it("/tokens: admins only (403 for a viewer or an operator)", async () => {
      expect((await call(getTokens, "/tokens", { token: tok.viewer })).status).toBe(403);
      expect((await call(getTokens, "/tokens", { session: sess.operator })).status).toBe(403);
      const res = await call(getTokens, "/tokens", { token: tok.admin });
      expect(res.status).toBe(200);
      const list = parse(TokenListSchema, res.json);
      const byName = new Map(list.items.map((t) => [t.name, t]));
      expect(byName.get("expired")?.status).toBe("expired");
      expect(byName.get("revoked")?.status).toBe("revoked");
      expect(byName.get("api-viewer")).toMatchObject({
        status: "active",
        role: "viewer",
        createdBy: "api-viewer",
      });
      expect(keysOf(res.json)).not.toContain("tokenHash");
    });

    it("records a token's last use", async () => {
      const db = h.db;
      const fresh = await createApiToken(db, { name: "last-used", role: "viewer", createdBy: null });
      const lastUsed = async () =>
        (await db.select({ at: apiTokens.lastUsedAt }).from(apiTokens).where(eq(apiTokens.id, fresh.id)))[0]
          ?.at;
      expect(await lastUsed()).toBeNull();
      const t0 = Date.now();
      expect((await call(getStatus, "/status", { token: fresh.token })).status).toBe(200);
      const at = await lastUsed();
      expect(at).toBeInstanceOf(Date);
      expect(at?.getTime()).toBeGreaterThanOrEqual(t0 - 1000);
    });
  });

  describe("GET /clusters", () => {
    it("lists every cluster with its status, primary, epoch and node count", async () => {
      const list = parse(
        ClusterListSchema,
        (await call(getClusters, "/clusters", { token: tok.viewer })).json,
      );
      expect(list.items.map((c) => c.name)).toEqual(DEMO);
      const [gte, llm, pool] = list.items;
      expect(gte).toMatchObject({
        mode: "active_standby",
        primary: "gte-a",
        primaryNodeId: ids.gteA,
        epoch: 1,
        nodeCount: 2,
        healthyNodes: 1,
        status: "degraded",
        maintenance: false,
      });
      expect(llm).toMatchObject({ status: "down", nodeCount: 3, healthyNodes: 2 });
      expect(pool).toMatchObject({ mode: "active_active", primary: null, status: "unprobed", nodeCount: 3 });
      expect(typeof gte?.slaTargetPct).toBe("number");
    });
  });

  describe("GET /clusters/{id}", () => {
    it("finds a cluster by id and by name, with nodes, policy and load balancer", async () => {
      const byName = parse(
        ClusterDetailSchema,
        (
          await call(getCluster, "/clusters/{id}", {
            token: tok.viewer,
            path: "/clusters/gte-pro-search",
            params: { id: "gte-pro-search" },
          })
        ).json,
      );
      const byId = parse(
        ClusterDetailSchema,
        (
          await call(getCluster, "/clusters/{id}", {
            token: tok.viewer,
            path: `/clusters/${ids.gte}`,
            params: { id: ids.gte ?? "" },
          })
        ).json,
      );
      expect(byId.id).toBe(byName.id);
      expect(byName).toMatchObject({ name: "gte-pro-search", primary: "gte-a", status: "degraded" });
      expect(byName.nodes.map((n) => [n.name, n.isPrimary, n.state, n.clusterName])).toEqual([
        ["gte-a", true, "healthy", "gte-pro-search"],
        ["gte-b", false, "failed", "gte-pro-search"],
      ]);
      expect(byName.nodes[0]?.hostKeyFingerprint).toBe("SHA256:gte-a-host-key");
      expect(byName.policy).toMatchObject({ probeIntervalMs: 1000, autoFailover: true });
      expect(byName.loadBalancer).toEqual({
        id: expect.any(String),
        name: "lb-gte",
        host: "10.0.0.9",
        endpointUrl: "http://10.0.0.9/",
        hostKeyFingerprint: "SHA256:lb-host-key",
      });
      expect(byName.inFlightSwitchover).toBeNull();
      const llm = parse(
        ClusterDetailSchema,
        (
          await call(getCluster, "/clusters/{id}", {
            token: tok.viewer,
            path: "/clusters/llm-chat",
            params: { id: "llm-chat" },
          })
        ).json,
      );
      expect(llm.inFlightSwitchover).toMatchObject({ id: ids.running, kind: "auto", state: "activating" });
      expect(llm.loadBalancer).toBeNull();
      const keys = keysOf(byName);
      for (const secretish of ["credentialId", "sshUser", "ciphertext", "privateKey", "tokenHash"]) {
        expect(keys).not.toContain(secretish);
      }
    });

    it("404 JSON for an unknown name or id, 400 for an absurd one", async () => {
      for (const id of ["no-such-cluster", "6b1d9a3e-0000-4000-8000-000000000000", "GTE-PRO-SEARCH"]) {
        const res = await call(getCluster, "/clusters/{id}", {
          token: tok.viewer,
          path: `/clusters/${id}`,
          params: { id },
        });
        expect(res.status, id).toBe(404);
        expect(parse(ErrorSchema, res.json).error).toBe("not_found");
      }
      const long = "x".repeat(300);
      const res = await call(getCluster, "/clusters/{id}", {
        token: tok.viewer,
        path: `/clusters/${long}`,
        params: { id: long },
      });
      expect(res.status).toBe(400);
      expect(parse(ErrorSchema, res.json).error).toBe("invalid_path");
    });
  });

  describe("GET /nodes", () => {
    it("lists every node with its cluster, endpoint, role and verdict", async () => {
      const list = parse(NodeListSchema, (await call(getNodes, "/nodes", { token: tok.viewer })).json);
      expect(list.items).toHaveLength(8);
      expect(new Set(list.items.map((n) => n.clusterName))).toEqual(new Set(DEMO));
      const a = list.items.find((n) => n.name === "gte-a");
      expect(a).toMatchObject({
        host: expect.any(String),
        sshPort: 2222,
        servicePort: 8000,
        role: "primary",
        isPrimary: true,
        state: "healthy",
        reportedRole: "master",
        maintenance: false,
        lbStatus: "in",
        hostKeyFingerprint: "SHA256:gte-a-host-key",
        lastSeenAt: null,
      });
      expect(list.items.find((n) => n.name === "gte-b")?.lastSeenAt).toEqual(expect.any(String));
      expect(keysOf(list)).not.toContain("credentialId");
    });

    it("filters by cluster (id or name) and by state", async () => {
      const byName = parse(
        NodeListSchema,
        (await call(getNodes, "/nodes", { token: tok.viewer, query: "cluster=gte-pro-search" })).json,
      );
      expect(byName.items.map((n) => n.name)).toEqual(["gte-a", "gte-b"]);
      const byId = parse(
        NodeListSchema,
        (await call(getNodes, "/nodes", { token: tok.viewer, query: `cluster=${ids.gte}` })).json,
      );
      expect(byId.items.map((n) => n.name)).toEqual(["gte-a", "gte-b"]);
      const failed = parse(
        NodeListSchema,
        (await call(getNodes, "/nodes", { token: tok.viewer, query: "state=failed" })).json,
      );
      expect(failed.items.map((n) => n.name)).toEqual(["gte-b", "llm-1"]);
      const both = parse(
        NodeListSchema,
        (await call(getNodes, "/nodes", { token: tok.viewer, query: "cluster=gte-pro-search&state=healthy" }))
          .json,
      );
      expect(both.items.map((n) => n.name)).toEqual(["gte-a"]);
    });

    it("400 with issues for a bad filter, 404 for an unknown cluster", async () => {
      const bad = await call(getNodes, "/nodes", { token: tok.viewer, query: "state=on-fire" });
      expect(bad.status).toBe(400);
      const err = parse(ErrorSchema, bad.json);
      expect(err.error).toBe("invalid_query");
      expect(err.issues?.map((i) => i.path)).toEqual(["state"]);
      const empty = await call(getNodes, "/nodes", { token: tok.viewer, query: "cluster=" });
      expect(empty.status).toBe(400);
      const unknown = await call(getNodes, "/nodes", { token: tok.viewer, query: "cluster=nope" });
      expect(unknown.status).toBe(404);
      expect(parse(ErrorSchema, unknown.json).error).toBe("not_found");
    });
  });

  describe("GET /status", () => {
    it("summarises clusters, switchovers in flight, open alerts and the leader", async () => {
      const s = parse(StatusSchema, (await call(getStatus, "/status", { token: tok.viewer })).json);
      expect(s.clusters.map((c) => [c.name, c.status, c.primary])).toEqual([
        ["gte-pro-search", "degraded", "gte-a"],
        ["llm-chat", "down", "llm-1"],
        ["ollama-bridge", "unprobed", null],
      ]);
      expect(s.clusters[0]?.nodes).toEqual({ total: 2, healthy: 1 });
      expect(s.switchoversInFlight).toEqual([
        expect.objectContaining({
          id: ids.running,
          clusterName: "llm-chat",
          kind: "auto",
          state: "activating",
          from: "llm-1",
          to: null,
          requestedBy: "controller",
        }),
      ]);
      expect(s.alerts).toEqual({ open: 2, unacknowledged: 1, critical: 1 });
      expect(s.controller).toMatchObject({ leader: "ctl-test-1", epoch: 7 });
    });
  });

  describe("GET /availability", () => {
    it("reports availability, downtime and the error budget per cluster", async () => {
      const res = await call(getAvailability, "/availability", { token: tok.viewer, query: "days=7" });
      const a = parse(AvailabilitySchema, res.json);
      expect(a.days).toBe(7);
      expect(Date.parse(a.to) - Date.parse(a.from)).toBe(7 * 86_400_000);
      expect(a.clusters.map((c) => c.name)).toEqual(DEMO);
      const gte = a.clusters[0];
      // Known for 2 h, down 10 min: 110 / 120.
      expect(gte?.availabilityPct).toBeCloseTo((110 / 120) * 100, 1);
      expect(gte?.downtimeMinutes).toBeCloseTo(10, 1);
      expect(gte?.incidents).toBe(1);
      expect(gte?.mttrMinutes).toBeCloseTo(10, 1);
      expect(gte?.meetsSla).toBe(false);
      expect(gte?.errorBudgetRemainingMinutes).toBeLessThan(0);
      // Nothing recorded: unknown, not 100 %.
      expect(a.clusters[1]).toMatchObject({
        availabilityPct: null,
        meetsSla: null,
        downtimeMinutes: 0,
        incidents: 0,
      });
    });

    it("defaults to 30 days, takes 90, filters by cluster", async () => {
      const def = parse(
        AvailabilitySchema,
        (await call(getAvailability, "/availability", { token: tok.viewer })).json,
      );
      expect(def.days).toBe(30);
      const q = parse(
        AvailabilitySchema,
        (
          await call(getAvailability, "/availability", {
            token: tok.viewer,
            query: "days=90&cluster=gte-pro-search",
          })
        ).json,
      );
      expect(q.days).toBe(90);
      expect(q.clusters.map((c) => c.name)).toEqual(["gte-pro-search"]);
    });

    it("400 for any other window, 404 for an unknown cluster", async () => {
      for (const days of ["5", "0", "-7", "7.0", "abc", "365", ""]) {
        const res = await call(getAvailability, "/availability", {
          token: tok.viewer,
          query: `days=${days}`,
        });
        expect(res.status, `days=${days}`).toBe(400);
        const err = parse(ErrorSchema, res.json);
        expect(err.issues?.[0]).toMatchObject({ path: "days", message: "days must be 7, 30 or 90" });
      }
      const res = await call(getAvailability, "/availability", { token: tok.viewer, query: "cluster=nope" });
      expect(res.status).toBe(404);
    });
  });

  describe("switchover routes match the document", () => {
    it("GET /switchovers, /switchovers/{id} and its report", async () => {
      const list = parse(
        SwitchoverListSchema,
        (await call(getSwitchovers, "/switchovers", { token: tok.viewer })).json,
      );
      expect(list.items.map((s) => s.id).sort()).toEqual([ids.running, ids.done].sort());
      const detail = parse(
        SwitchoverDetailSchema,
        (
          await call(getSwitchover, "/switchovers/{id}", {
            token: tok.viewer,
            path: `/switchovers/${ids.done}`,
            params: { id: ids.done ?? "" },
          })
        ).json,
      );
      expect(detail).toMatchObject({ state: "completed", from: "gte-b", to: "gte-a", hasReport: true });
      const report = await call(getReport, "/switchovers/{id}/report", {
        token: tok.viewer,
        path: `/switchovers/${ids.done}/report`,
        params: { id: ids.done ?? "" },
      });
      expect(parse(SwitchoverReportSchema, report.json)).toMatchObject({
        id: ids.done,
        reason: "driver upgrade",
      });
      const running = await call(getReport, "/switchovers/{id}/report", {
        token: tok.viewer,
        path: `/switchovers/${ids.running}/report`,
        params: { id: ids.running ?? "" },
      });
      expect(running.status).toBe(404);
      const missing = await call(getSwitchover, "/switchovers/{id}", {
        token: tok.viewer,
        path: "/switchovers/nope",
        params: { id: "nope" },
      });
      expect(missing.status).toBe(404);
    });

    it("POST /switchovers: 403 for a viewer, 422 for a bad body, 409 while one is in flight", async () => {
      const body = { cluster: "llm-chat", reason: "test" };
      expect(
        (await call(postSwitchover, "/switchovers", { method: "POST", token: tok.viewer, body })).status,
      ).toBe(403);
      const bad = await call(postSwitchover, "/switchovers", {
        method: "POST",
        token: tok.operator,
        body: { cluster: "llm-chat" },
      });
      expect(bad.status).toBe(422);
      expect(parse(ErrorSchema, bad.json).issues?.[0]?.path).toBe("reason");
      const busy = await call(postSwitchover, "/switchovers", { method: "POST", token: tok.operator, body });
      expect(busy.status).toBe(409);
      expect(parse(SwitchoverConflictSchema, busy.json).inFlight).toBe(ids.running);
      const unknown = await call(postSwitchover, "/switchovers", {
        method: "POST",
        token: tok.operator,
        body: { cluster: "nope", reason: "test" },
      });
      expect(unknown.status).toBe(404);
    });
  });

  it("GET /fleet matches the document", async () => {
    const fleet = parse(FleetOverviewSchema, (await call(getFleet, "/fleet", { token: tok.viewer })).json);
    expect(fleet.clusters.map((c) => c.name)).toEqual(DEMO);
  });

  it("GET /openapi.json is public and is the document", async () => {
    const res = await getOpenApi();
    const text = await res.text();
    bodies.push(text);
    expect(res.status).toBe(200);
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  // Last: searches every body the tests above received (and a fresh one from each endpoint as admin).
  it("no response ever contains a private key line, a token, a token hash or a session hash", async () => {
    for (const ep of [
      ...ENDPOINTS,
      { template: "/tokens", handler: getTokens },
      { template: "/fleet", handler: getFleet },
    ]) {
      await call(ep.handler, ep.template, { token: tok.admin, path: ep.path, params: ep.params });
    }
    await call(getCluster, "/clusters/{id}", {
      session: sess.admin,
      path: "/clusters/llm-chat",
      params: { id: "llm-chat" },
    });
    expect(bodies.length).toBeGreaterThan(60);

    const db = h.db;
    const keyLines = [fleetKey.privateKey, lbKey.privateKey]
      .flatMap((k) => k.split("\n"))
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !/^-----/.test(l));
    expect(keyLines.length).toBeGreaterThan(6);
    const tokenHashes = (await db.select({ v: apiTokens.tokenHash }).from(apiTokens)).map((r) => r.v);
    const sessionHashes = (await db.select({ v: sessions.idHash }).from(sessions)).map((r) => r.v);
    const sealed = (await db.select().from(credentials)).flatMap((c) => [
      c.ciphertext.toString("base64"),
      c.ciphertext.toString("hex"),
      c.nonce.toString("hex"),
    ]);
    expect(tokenHashes.length).toBeGreaterThan(4);
    expect(sessionHashes.length).toBe(3);
    // The hash of each live token, computed independently of the code under test.
    expect(tokenHashes).toContain(
      createHash("sha256")
        .update(tok.viewer ?? "")
        .digest("hex"),
    );
    const secrets = [
      ...keyLines,
      ...tokenHashes,
      ...sessionHashes,
      ...sealed,
      ...Object.values(tok),
      ...Object.values(sess),
      "PRIVATE KEY",
    ];
    for (const body of bodies) {
      for (const secret of secrets) {
        if (body.includes(secret)) throw new Error(`a response contains a secret (${secret.slice(0, 12)}…)`);
      }
    }
  });
});
