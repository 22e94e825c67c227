// Server-side sessions against a real Postgres: every way a session ends (logout, absolute expiry,
// idle timeout, password change, role change, disabled user) and what a hostile cookie gets.
import { createHash } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import * as schema from "@/db/schema";
import { sessions } from "@/db/schema";
import { verifyAuditChain } from "@/server/audit/verify";
import { createScratchDatabase } from "@/test/db";
import {
  createSession,
  resolveSession,
  revokeSession,
  revokeUserSessions,
  SESSION_IDLE_MS,
  SESSION_TTL_MS,
} from "./sessions";
import { createUser, setDisabled, setPassword, setRole } from "./users";

const SYSTEM = { actorUserId: null, actorLabel: "test", actorRole: "system" } as const;
const PASSWORD = "correct horse battery staple";

describe("sessions", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  let n = 0;

  async function newUser(role: "viewer" | "operator" | "admin" = "operator") {
    n += 1;
    const username = `user${n}`;
    const { id } = await createUser(h.db, { username, password: PASSWORD, role }, SYSTEM);
    return { id, username };
  }

  /** Moves a session's clock: its row's timestamps set relative to now. */
  async function age(
    token: string,
    set: Partial<Record<"expires_at" | "last_seen_at" | "created_at", string>>,
  ) {
    const idHash = createHash("sha256").update(token).digest("hex");
    for (const [column, interval] of Object.entries(set)) {
      await h.db.execute(
        sql`update sessions set ${sql.identifier(column)} = now() - ${interval}::interval where id_hash = ${idHash}`,
      );
    }
  }

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 2 });
  });
  afterAll(async () => {
    await h?.sql.end();
    await scratch?.drop();
  });

  it("a new session resolves to its user; only the cookie's SHA-256 is stored", async () => {
    const u = await newUser("viewer");
    const before = Date.now();
    const s = await createSession(h.db, { userId: u.id, address: "10.1.1.1", userAgent: "vitest" });
    expect(s.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.expiresAt.getTime()).toBeGreaterThanOrEqual(before + SESSION_TTL_MS);
    expect(s.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + SESSION_TTL_MS);
    expect(await resolveSession(h.db, s.token)).toMatchObject({
      userId: u.id,
      username: u.username,
      role: "viewer",
    });
    const rows = await h.db.select().from(sessions).where(eq(sessions.userId, u.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.idHash).toBe(createHash("sha256").update(s.token).digest("hex"));
    const dump = await h.db.execute<{ t: string }>(sql`select s::text as t from sessions s`);
    expect(dump.map((r) => r.t).join("\n")).not.toContain(s.token);
  });

  it("logout (revokeSession) ends it", async () => {
    const u = await newUser();
    const s = await createSession(h.db, { userId: u.id });
    const other = await createSession(h.db, { userId: u.id });
    await revokeSession(h.db, s.token);
    expect(await resolveSession(h.db, s.token)).toBeNull();
    // Only that one: the user's other session (another browser) lives on.
    expect(await resolveSession(h.db, other.token)).not.toBeNull();
  });

  it("ends at its absolute expiry, even when in use", async () => {
    const u = await newUser();
    const s = await createSession(h.db, { userId: u.id });
    await age(s.token, { expires_at: "1 second" });
    expect(await resolveSession(h.db, s.token)).toBeNull();
    const live = await createSession(h.db, { userId: u.id });
    await age(live.token, { expires_at: "-1 minute" });
    expect(await resolveSession(h.db, live.token)).not.toBeNull();
  });

  it(`ends after ${SESSION_IDLE_MS / 3_600_000} h idle; use within that keeps it alive`, async () => {
    const u = await newUser();
    const idle = await createSession(h.db, { userId: u.id });
    await age(idle.token, { last_seen_at: "2 hours 1 minute" });
    expect(await resolveSession(h.db, idle.token)).toBeNull();

    const busy = await createSession(h.db, { userId: u.id });
    await age(busy.token, { last_seen_at: "1 hour 59 minutes" });
    expect(await resolveSession(h.db, busy.token)).not.toBeNull();
    // That use refreshed last_seen_at, so the session is good for another 2 hours.
    const [row] = await h.db
      .select({ lastSeenAt: sessions.lastSeenAt })
      .from(sessions)
      .where(eq(sessions.idHash, createHash("sha256").update(busy.token).digest("hex")));
    expect(Date.now() - (row?.lastSeenAt.getTime() ?? 0)).toBeLessThan(60_000);
  });

  it("ends when the password changes; a session made after the change works", async () => {
    const u = await newUser();
    const a = await createSession(h.db, { userId: u.id });
    const b = await createSession(h.db, { userId: u.id });
    await setPassword(h.db, u.id, "a different long passphrase", SYSTEM);
    expect(await resolveSession(h.db, a.token)).toBeNull();
    expect(await resolveSession(h.db, b.token)).toBeNull();
    const fresh = await createSession(h.db, { userId: u.id });
    expect(await resolveSession(h.db, fresh.token)).toMatchObject({ userId: u.id });
  });

  it("a session older than the last password change is dead even if it was not revoked", async () => {
    const u = await newUser();
    const s = await createSession(h.db, { userId: u.id });
    await age(s.token, { created_at: "10 minutes" });
    await h.db.execute(
      sql`update users set password_changed_at = now() - interval '1 minute' where id = ${u.id}`,
    );
    expect(await resolveSession(h.db, s.token)).toBeNull();
  });

  it("ends when the role changes; a new session carries the new role", async () => {
    const u = await newUser("operator");
    const s = await createSession(h.db, { userId: u.id });
    expect(await resolveSession(h.db, s.token)).toMatchObject({ role: "operator" });
    await setRole(h.db, u.id, "viewer", SYSTEM);
    expect(await resolveSession(h.db, s.token)).toBeNull();
    const fresh = await createSession(h.db, { userId: u.id });
    expect(await resolveSession(h.db, fresh.token)).toMatchObject({ role: "viewer" });
  });

  it("does not resolve for a disabled user, even a session made while disabled", async () => {
    const u = await newUser();
    const s = await createSession(h.db, { userId: u.id });
    await setDisabled(h.db, u.id, true, SYSTEM);
    expect(await resolveSession(h.db, s.token)).toBeNull();
    const during = await createSession(h.db, { userId: u.id });
    expect(await resolveSession(h.db, during.token)).toBeNull();
    // Re-enabling does not bring back the revoked one.
    await setDisabled(h.db, u.id, false, SYSTEM);
    expect(await resolveSession(h.db, s.token)).toBeNull();
    expect(await resolveSession(h.db, during.token)).not.toBeNull();
  });

  it("revokeUserSessions ends all of a user's sessions and counts them", async () => {
    const u = await newUser();
    const tokens = await Promise.all([1, 2, 3].map(() => createSession(h.db, { userId: u.id })));
    await revokeSession(h.db, tokens[0]?.token ?? "");
    expect(await revokeUserSessions(h.db, u.id)).toBe(2);
    for (const t of tokens) expect(await resolveSession(h.db, t.token)).toBeNull();
  });

  it("a garbage, overlong or non-base64url cookie is null, without touching the database", async () => {
    const queries: string[] = [];
    const watched = drizzle(h.sql, { schema, logger: { logQuery: (q) => void queries.push(q) } });
    const hostile = [
      undefined,
      null,
      "",
      "a".repeat(201),
      "a".repeat(100_000),
      "abc def",
      "abc+def/ghi=",
      "'; drop table sessions; --",
      "abc%00def",
      "abc\u0000def",
      "ünïcödé",
      "abc\r\nSet-Cookie: x=y",
      "$2a$10$abcdefghijklmnopqrstuv",
    ];
    for (const value of hostile) {
      expect(await resolveSession(watched, value), JSON.stringify(value)?.slice(0, 40)).toBeNull();
    }
    expect(queries).toEqual([]);
    // A well-formed but unknown value costs exactly one lookup, and is null too.
    expect(await resolveSession(watched, "A".repeat(43))).toBeNull();
    expect(queries).toHaveLength(1);
  });

  it("every user change above was audited, and the chain holds", async () => {
    const result = await verifyAuditChain(h.db);
    expect(result).toMatchObject({ ok: true });
    const actions = await h.db.execute<{ action: string; n: number }>(
      sql`select action, count(*)::int as n from audit_log group by action order by action`,
    );
    expect(Object.fromEntries(actions.map((r) => [r.action, r.n]))).toMatchObject({
      "user.create": n,
      "user.password": 1,
      "user.role": 1,
      "user.disable": 1,
      "user.enable": 1,
    });
  });
});
