// Authorisation, enumerated: every server action (server/actions/*.ts) and every route handler
// (app/api/**/route.ts) against every role. New ones are picked up by globbing, so an action or a
// route that forgot its check fails here instead of shipping.
import { randomUUID } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { createScratchDatabase } from "@/test/db";
import { type Actor, runAsActor } from "./guard";
import { can, PERMISSIONS, type Permission, ROLES, type Role } from "./roles";
import { createSession, SESSION_COOKIE } from "./sessions";
import { createApiToken } from "./tokens";
import { createUser } from "./users";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const SYSTEM = { actorUserId: null, actorLabel: "test", actorRole: "system" } as const;
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
/** Routes that are public on purpose: the control plane's own liveness for load balancers. */
const PUBLIC_ROUTES = new Set(["app/api/health/route.ts"]);

type Callable = ((...args: unknown[]) => Promise<unknown>) & { permission?: Permission | null };

function walk(dir: string, match: (file: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...walk(full, match));
    else if (match(full)) out.push(full);
  }
  return out.sort();
}

const actionFiles = walk(
  path.join(ROOT, "server", "actions"),
  (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
);
const routeFiles = walk(path.join(ROOT, "app", "api"), (f) => f.endsWith("route.ts"));

/** Row counts of every table an action could change: "changes nothing" is checked on all of them. */
async function snapshot(db: ReturnType<typeof createDb>["db"]): Promise<Record<string, number>> {
  const tables = await db.execute<{ table_name: string }>(
    sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not like '%\\_p20%' order by 1`,
  );
  const out: Record<string, number> = {};
  for (const t of tables) {
    const [row] = await db.execute<{ n: number }>(
      sql.raw(`select count(*)::int as n from "${t.table_name}"`),
    );
    out[t.table_name] = row?.n ?? 0;
  }
  return out;
}

describe("authorisation of every action and route, for every role", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const sessions = new Map<Role, string>();
  const tokens = new Map<Role, string>();
  const actors = new Map<Role, Actor>();
  const previous = (globalThis as { switchyardDb?: unknown }).switchyardDb;

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4 });
    (globalThis as { switchyardDb?: unknown }).switchyardDb = h;
    for (const role of ROLES) {
      const { id } = await createUser(
        h.db,
        { username: `authz-${role}`, password: `pw-${role}-Long-Enough-1`, role },
        SYSTEM,
      );
      sessions.set(role, (await createSession(h.db, { userId: id })).token);
      tokens.set(role, (await createApiToken(h.db, { name: `authz-${role}`, role, createdBy: id })).token);
      actors.set(role, { kind: "session", userId: id, label: `authz-${role}`, role, address: "127.0.0.1" });
    }
  }, 60_000);

  afterAll(async () => {
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previous;
    await h?.sql.end();
    await scratch?.drop();
  });

  it("the permission table is the security model of DESIGN.md", () => {
    const of = (role: Role) => (Object.keys(PERMISSIONS) as Permission[]).filter((p) => can(role, p)).sort();
    // Managers read everything but secrets, and change nothing.
    expect(of("viewer")).toEqual(["audit.read", "fleet.read"]);
    // On-call: switch over, drills, maintenance, pool members, acknowledge alerts.
    expect(of("operator")).toEqual(
      [
        "alert.ack",
        "audit.read",
        "fleet.read",
        "maintenance.set",
        "pool.change",
        "switchover.request",
      ].sort(),
    );
    // Everything else (inventory, credentials, policy, playbooks, users, tokens, aborts) is admin's.
    expect(of("admin")).toEqual((Object.keys(PERMISSIONS) as Permission[]).sort());
  });

  it("finds the actions and routes it is about to check", () => {
    expect(actionFiles.length).toBeGreaterThan(0);
    expect(routeFiles.length).toBeGreaterThan(0);
  });

  for (const file of actionFiles) {
    const rel = path.relative(ROOT, file);
    it(`${rel}: every export is an authorised (or deliberately public) action, refused below its role`, async () => {
      const mod = (await import(file)) as Record<string, unknown>;
      const exported = Object.entries(mod).filter(([, v]) => typeof v === "function") as Array<
        [string, Callable]
      >;
      expect(exported.length, `${rel} exports no action`).toBeGreaterThan(0);
      for (const [name, fn] of exported) {
        expect(
          fn.permission,
          `${rel} ${name} is not built with authorizedAction/publicAction`,
        ).not.toBeUndefined();
        const permission = fn.permission;
        if (permission === null || permission === undefined) continue;
        for (const role of [null, ...ROLES] as const) {
          const before = await snapshot(h.db);
          const actor = role ? (actors.get(role) as Actor) : null;
          // Input that would be valid enough to act if the check let it through.
          const result = (await runAsActor(actor, () =>
            fn({ cluster: "nope", reason: "authz test", id: randomUUID(), name: "authz", role: "viewer" }),
          )) as { ok: boolean; status?: number };
          const allowed = role !== null && can(role, permission);
          if (allowed) {
            expect(result.status, `${name} as ${role}`).not.toBe(401);
            expect(result.status, `${name} as ${role}`).not.toBe(403);
          } else {
            expect(result, `${name} as ${role ?? "nobody"}`).toMatchObject({
              ok: false,
              status: role ? 403 : 401,
            });
            expect(await snapshot(h.db), `${name} as ${role ?? "nobody"} changed nothing`).toEqual(before);
          }
        }
      }
    });
  }

  for (const file of routeFiles) {
    const rel = path.relative(ROOT, file);
    it(`${rel}: every method checks the caller, by session and by token`, async () => {
      const mod = (await import(file)) as Record<string, unknown> & { PUBLIC?: boolean };
      const handlers = METHODS.filter((m) => typeof mod[m] === "function").map(
        (m) => [m, mod[m] as Callable] as const,
      );
      expect(handlers.length, `${rel} has no handler`).toBeGreaterThan(0);
      if (PUBLIC_ROUTES.has(rel) || mod.PUBLIC === true) return;
      const url = `http://127.0.0.1/${rel
        .replace(/^app\//, "")
        .replace(/\/route\.ts$/, "")
        .replaceAll(/\[(\w+)\]/g, randomUUID())}`;
      for (const [method, fn] of handlers) {
        expect(fn.permission, `${rel} ${method} is not built with withAuth`).toBeTruthy();
        const permission = fn.permission as Permission;
        const call = async (headers: Record<string, string>) => {
          const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
          if (method !== "GET") init.body = JSON.stringify({ cluster: "nope", reason: "authz test" });
          const ctx = { params: Promise.resolve({ id: randomUUID() }) };
          return (await fn(new Request(url, init), ctx)) as Response;
        };
        const before = await snapshot(h.db);
        const anonymous = await call({});
        expect(anonymous.status, `${method} ${rel} without credentials`).toBe(401);
        expect(
          (await call({ authorization: "Bearer syd_00000000_notarealtokennotarealtokennotarealtokenxx" }))
            .status,
        ).toBe(401);
        for (const role of ROLES) {
          const allowed = can(role, permission);
          for (const [how, headers] of [
            ["session", { cookie: `${SESSION_COOKIE}=${sessions.get(role)}` }],
            ["token", { authorization: `Bearer ${tokens.get(role)}` }],
          ] as const) {
            const res = await call(headers);
            if (allowed) expect([401, 403], `${method} ${rel} as ${role} (${how})`).not.toContain(res.status);
            else expect(res.status, `${method} ${rel} as ${role} (${how})`).toBe(403);
          }
        }
        if (method === "GET") continue;
        // Refused calls changed nothing (allowed ones above targeted a cluster that does not exist).
        const after = await snapshot(h.db);
        expect({ ...after, api_tokens: 0, sessions: 0 }).toEqual({ ...before, api_tokens: 0, sessions: 0 });
      }
    });
  }
});
