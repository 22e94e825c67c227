// User management against a real Postgres: validation with the offending field, case-insensitive
// uniqueness, and an audit row for every change (never a password or its hash).
import { asc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { auditLog, users } from "@/db/schema";
import { verifyAuditChain } from "@/server/audit/verify";
import { createScratchDatabase } from "@/test/db";
import { verifyPassword } from "./password";
import { countUsers, createUser, setDisabled, setPassword, setRole, UserError } from "./users";

const BY = { actorUserId: null, actorLabel: "admin-cli", actorRole: "system", address: "10.9.9.9" } as const;
const GOOD = "correct horse battery staple";

describe("users", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;

  async function rejects(p: Promise<unknown>, field: UserError["field"], message?: RegExp) {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).field).toBe(field);
    if (message) expect((err as UserError).message).toMatch(message);
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

  it.each([
    ["empty", ""],
    ["one character", "a"],
    ["33 characters", `a${"b".repeat(32)}`],
    ["a leading digit", "1alice"],
    ["a leading dot", ".alice"],
    ["a space", "ali ce"],
    ["shell syntax", "alice;rm"],
    ["a quote", "o'brien"],
    ["a slash", "ops/alice"],
    ["non-ASCII", "zoë"],
    ["a newline", "alice\nbob"],
  ])("rejects a user name with %s, naming the field", async (_name, username) => {
    await rejects(createUser(h.db, { username, password: GOOD, role: "viewer" }, BY), "username");
  });

  it.each([["root"], ["Admin"], [""], ["superuser"]])(
    "rejects the role %j, naming the field",
    async (role) => {
      await rejects(createUser(h.db, { username: "valid", password: GOOD, role }, BY), "role");
    },
  );

  it.each([
    ["too short", "short pw 1", /at least 12/],
    ["too repetitive", "abababababababab", /too repetitive/],
    ["containing the user name", "i-am-walter-the-great", /user name/],
    ["too long", `${"abcdefghij".repeat(26)}`, /at most 256/],
  ])("rejects a password %s, naming the field", async (_name, password, message) => {
    await rejects(
      createUser(h.db, { username: "walter", password, role: "viewer" }, BY),
      "password",
      message,
    );
  });

  it("none of the rejected attempts created a user or an audit row", async () => {
    expect(await countUsers(h.db)).toBe(0);
    expect(await h.db.select().from(auditLog)).toEqual([]);
  });

  it("creates a user (name folded to lower case) with an argon2id hash and an audit row", async () => {
    const { id } = await createUser(h.db, { username: "  Alice ", password: GOOD, role: "operator" }, BY);
    const [row] = await h.db.select().from(users).where(eq(users.id, id));
    expect(row).toMatchObject({ username: "alice", role: "operator", disabled: false });
    expect(row?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(row?.passwordHash ?? "", GOOD)).toBe(true);
    const audit = await h.db.select().from(auditLog).where(eq(auditLog.targetId, id));
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: "user.create",
      actorLabel: "admin-cli",
      actorRole: "system",
      address: "10.9.9.9",
      targetType: "user",
      after: { username: "alice", role: "operator" },
    });
  });

  it.each([["alice"], ["ALICE"], ["Alice"]])(
    "refuses a duplicate name %j, case-insensitively",
    async (username) => {
      await rejects(
        createUser(h.db, { username, password: "another long passphrase", role: "viewer" }, BY),
        "username",
        /already exists/,
      );
      expect(await countUsers(h.db)).toBe(1);
    },
  );

  it("the database itself refuses a case-variant duplicate (unique index on lower(username))", async () => {
    await expect(
      h.db.insert(users).values({ username: "ALICE", passwordHash: "x", role: "viewer" }),
    ).rejects.toThrow();
  });

  it("password, role and disabled changes are audited; a weak new password changes nothing", async () => {
    const [alice] = await h.db.select().from(users).where(eq(users.username, "alice"));
    if (!alice) throw new Error("no alice");
    await rejects(setPassword(h.db, alice.id, "alice-is-my-password", BY), "password", /user name/);
    await rejects(setRole(h.db, alice.id, "root", BY), "role");
    const [unchanged] = await h.db.select().from(users).where(eq(users.id, alice.id));
    expect(unchanged?.passwordHash).toBe(alice.passwordHash);

    await setPassword(h.db, alice.id, "a brand new long passphrase", BY);
    await setRole(h.db, alice.id, "admin", BY);
    await setRole(h.db, alice.id, "admin", BY); // no change: no audit row
    await setDisabled(h.db, alice.id, true, BY);
    await setDisabled(h.db, alice.id, false, BY);

    const [after] = await h.db.select().from(users).where(eq(users.id, alice.id));
    expect(await verifyPassword(after?.passwordHash ?? "", "a brand new long passphrase")).toBe(true);
    expect(after?.role).toBe("admin");
    const audit = await h.db
      .select({ action: auditLog.action, before: auditLog.before, after: auditLog.after })
      .from(auditLog)
      .where(eq(auditLog.targetId, alice.id))
      .orderBy(asc(auditLog.id));
    expect(audit).toEqual([
      { action: "user.create", before: null, after: { username: "alice", role: "operator" } },
      { action: "user.password", before: null, after: { username: "alice", sessionsRevoked: 0 } },
      { action: "user.role", before: { role: "operator" }, after: { role: "admin", sessionsRevoked: 0 } },
      { action: "user.disable", before: null, after: { username: "alice", sessionsRevoked: 0 } },
      { action: "user.enable", before: null, after: { username: "alice", sessionsRevoked: 0 } },
    ]);
  });

  it("no password and no password hash ever reaches the audit log", async () => {
    const hashes = (await h.db.select({ hash: users.passwordHash }).from(users)).map((r) => r.hash);
    const dump = (await h.db.execute<{ t: string }>(sql`select a::text as t from audit_log a`))
      .map((r) => r.t)
      .join("\n");
    expect(dump).toContain("user.password");
    for (const secret of [GOOD, "a brand new long passphrase", "alice-is-my-password", ...hashes]) {
      expect(dump).not.toContain(secret);
    }
    expect(dump).not.toContain("$argon2");
  });

  it("the audit chain holds", async () => {
    expect(await verifyAuditChain(h.db)).toMatchObject({ ok: true, rows: 5 });
  });
});
