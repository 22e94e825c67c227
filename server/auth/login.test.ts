// Logging in against a real Postgres: the generic error, the per-account and per-address failure
// limits, and what is written (attempts, audit rows) — never the password.
import { randomBytes } from "node:crypto";
import { and, asc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { auditLog, loginAttempts } from "@/db/schema";
import { verifyAuditChain } from "@/server/audit/verify";
import { createScratchDatabase } from "@/test/db";
import { login, MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS } from "./login";
import { resolveSession } from "./sessions";
import { createUser, setDisabled } from "./users";

const SYSTEM = { actorUserId: null, actorLabel: "test", actorRole: "system" } as const;
const GENERIC = { ok: false, error: "Wrong user name or password." };
const LOCKED = /^Too many failed attempts/;
/** Every password typed in this file, to prove none of them is stored anywhere. */
const TYPED = new Set<string>();

describe("login", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const passwords = new Map<string, string>();

  async function user(username: string, role: "viewer" | "operator" | "admin" = "operator") {
    const password = `a long secret ${randomBytes(8).toString("hex")}`;
    passwords.set(username, password);
    return await createUser(h.db, { username, password, role }, SYSTEM);
  }

  function attempt(username: string, password: string, address: string | null) {
    TYPED.add(password);
    return login(h.db, { username, password, address, userAgent: "vitest" });
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

  it("the right password gives a working session (user name in any case)", async () => {
    const { id } = await user("alice", "admin");
    const res = await attempt("alice", passwords.get("alice") ?? "", "192.0.2.1");
    expect(res).toMatchObject({ ok: true, username: "alice" });
    if (!res.ok) return;
    expect(await resolveSession(h.db, res.token)).toMatchObject({ userId: id, role: "admin" });
    const again = await attempt("  ALICE ", passwords.get("alice") ?? "", "192.0.2.1");
    expect(again).toMatchObject({ ok: true, username: "alice" });
  });

  it("a wrong password, an unknown user and a disabled user all get the same generic error", async () => {
    const { id } = await user("bob");
    expect(await attempt("bob", "not bob's password at all", "192.0.2.2")).toEqual(GENERIC);
    expect(await attempt("nobody-here", "not anyone's password", "192.0.2.2")).toEqual(GENERIC);
    await setDisabled(h.db, id, true, SYSTEM);
    expect(await attempt("bob", passwords.get("bob") ?? "", "192.0.2.2")).toEqual(GENERIC);
    await setDisabled(h.db, id, false, SYSTEM);
    expect(await attempt("bob", passwords.get("bob") ?? "", "192.0.2.2")).toMatchObject({ ok: true });
  });

  it(`${MAX_FAILURES_PER_ACCOUNT} failures lock the account for everyone, even with the right password`, async () => {
    await user("carol");
    for (let i = 1; i <= MAX_FAILURES_PER_ACCOUNT; i++) {
      // From a different address each time: the limit is the account's, not the address's.
      expect(await attempt("carol", `guess number ${i} for carol`, `198.51.100.${i}`)).toEqual(GENERIC);
    }
    const locked = await attempt("carol", passwords.get("carol") ?? "", "203.0.113.77");
    expect(locked).toMatchObject({ ok: false, error: expect.stringMatching(LOCKED) });
    if (!locked.ok) expect(locked.retryAfterS).toBe(15 * 60);
    // Other accounts are not affected.
    await user("dave");
    expect(await attempt("dave", passwords.get("dave") ?? "", "198.51.100.1")).toMatchObject({ ok: true });
  });

  it("parallel guesses cannot outrun the lock: at most the limit get their password checked", async () => {
    await user("parallel-pat");
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        attempt("parallel-pat", `parallel guess ${i}`, `198.51.100.${100 + i}`),
      ),
    );
    const checked = results.filter((r) => !r.ok && r.error === GENERIC.error);
    const locked = results.filter((r) => !r.ok && LOCKED.test(r.error));
    expect(checked).toHaveLength(MAX_FAILURES_PER_ACCOUNT);
    expect(locked).toHaveLength(12 - MAX_FAILURES_PER_ACCOUNT);
  });

  it("an unknown account locks the same way (no telling which names exist)", async () => {
    for (let i = 1; i <= MAX_FAILURES_PER_ACCOUNT; i++) {
      expect(await attempt("ghost", `guess ${i} for ghost`, `198.51.100.${20 + i}`)).toEqual(GENERIC);
    }
    expect(await attempt("ghost", "one more guess", "198.51.100.30")).toMatchObject({
      ok: false,
      error: expect.stringMatching(LOCKED),
    });
  });

  it("the lock expires with the 15-minute window", async () => {
    await user("erin");
    for (let i = 1; i <= MAX_FAILURES_PER_ACCOUNT; i++) {
      await attempt("erin", `guess ${i} for erin`, `198.51.100.${40 + i}`);
    }
    expect(await attempt("erin", passwords.get("erin") ?? "", "198.51.100.50")).toMatchObject({ ok: false });
    await h.db.execute(
      sql`update login_attempts set at = at - interval '16 minutes' where username = 'erin'`,
    );
    expect(await attempt("erin", passwords.get("erin") ?? "", "198.51.100.50")).toMatchObject({ ok: true });
  });

  it(`${MAX_FAILURES_PER_ADDRESS} failures from one address lock that address, for every account`, async () => {
    await user("frank");
    const address = "203.0.113.20";
    // Spread over many names, so no single account reaches its own limit.
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) {
      const name = `spray${i % 10}`;
      expect(await attempt(name, `spray guess ${i}`, address)).toEqual(GENERIC);
    }
    expect(await attempt("frank", passwords.get("frank") ?? "", address)).toMatchObject({
      ok: false,
      error: expect.stringMatching(LOCKED),
    });
    // The same account from another address is fine.
    expect(await attempt("frank", passwords.get("frank") ?? "", "203.0.113.21")).toMatchObject({ ok: true });
  });

  it("records every attempt and audits auth.login / auth.login_failed with the address", async () => {
    await user("grace");
    await attempt("grace", "wrong one for grace", "192.0.2.50");
    await attempt("grace", passwords.get("grace") ?? "", "192.0.2.51");
    const attempts = await h.db
      .select({ address: loginAttempts.address, succeeded: loginAttempts.succeeded })
      .from(loginAttempts)
      .where(eq(loginAttempts.username, "grace"))
      .orderBy(asc(loginAttempts.at));
    expect(attempts).toEqual([
      { address: "192.0.2.50", succeeded: false },
      { address: "192.0.2.51", succeeded: true },
    ]);
    const audit = await h.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.actorLabel, "grace"), sql`${auditLog.action} like 'auth.%'`))
      .orderBy(asc(auditLog.id));
    expect(audit.map((a) => [a.action, a.address, a.actorRole, a.targetType])).toEqual([
      ["auth.login_failed", "192.0.2.50", "operator", "user"],
      ["auth.login", "192.0.2.51", "operator", "user"],
    ]);
    expect(audit.every((a) => a.targetId && a.actorUserId === a.targetId)).toBe(true);

    // Unknown users are audited too, with no user id.
    const [ghost] = await h.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.actorLabel, "nobody-here"), eq(auditLog.action, "auth.login_failed")));
    expect(ghost).toMatchObject({ actorUserId: null, targetId: null, actorRole: "none" });

    // A locked-out attempt is still recorded (and keeps the lock going).
    const carol = await h.db
      .select({ succeeded: loginAttempts.succeeded })
      .from(loginAttempts)
      .where(eq(loginAttempts.username, "carol"));
    expect(carol).toHaveLength(MAX_FAILURES_PER_ACCOUNT + 1);
    expect(carol.every((a) => !a.succeeded)).toBe(true);
  });

  it("no password typed at the login form is stored anywhere in the database", async () => {
    const tables = await h.db.execute<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    expect(tables.length).toBeGreaterThan(5);
    let dump = "";
    for (const t of tables) {
      const rows = await h.db.execute<{ t: string }>(sql.raw(`select r::text as t from "${t.table_name}" r`));
      dump += rows.map((r) => r.t).join("\n");
    }
    expect(dump).toContain("auth.login_failed");
    expect(TYPED.size).toBeGreaterThan(40);
    for (const password of TYPED) expect(dump).not.toContain(password);
  });

  it("the audit chain holds after all of it", async () => {
    expect(await verifyAuditChain(h.db)).toMatchObject({ ok: true });
  });
});
