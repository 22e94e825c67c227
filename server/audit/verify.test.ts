// The audit log is append-only (database triggers) and hash-chained: these tests write a chain
// through the real domain code, show that UPDATE / DELETE / TRUNCATE are refused, then tamper as
// the table owner with the triggers disabled and check that verification (the function and the
// `npm run audit:verify` CLI) names the row.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { asc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { auditLog } from "@/db/schema";
import { login } from "@/server/auth/login";
import { createUser, setRole } from "@/server/auth/users";
import { createScratchDatabase } from "@/test/db";
import { appendAudit, GENESIS_HASH, hashAuditRow } from "./append";
import { verifyAuditChain } from "./verify";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const SYSTEM = { actorUserId: null, actorLabel: "test", actorRole: "system" } as const;
const run = promisify(execFile);

/** `npm run audit:verify` against `url`, as a child process: its exit code and output. */
async function cli(url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "scripts/audit-verify.ts"], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("audit log: append-only and hash-chained", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;

  /** Runs `statement` on audit_log with its append-only triggers off, as the owner could. */
  async function tamper(statement: ReturnType<typeof sql>) {
    await h.db.transaction(async (tx) => {
      await tx.execute(sql`alter table audit_log disable trigger audit_log_no_update`);
      await tx.execute(statement);
      await tx.execute(sql`alter table audit_log enable trigger audit_log_no_update`);
    });
  }

  async function ids(): Promise<number[]> {
    const rows = await h.db.select({ id: auditLog.id }).from(auditLog).orderBy(asc(auditLog.id));
    return rows.map((r) => r.id);
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

  it("an empty log verifies, with the genesis hash as its head", async () => {
    expect(await verifyAuditChain(h.db)).toEqual({ ok: true, rows: 0, head: GENESIS_HASH });
  });

  it("a chain written by the domain code verifies, whatever the page size", async () => {
    const { id: userId } = await createUser(
      h.db,
      { username: "auditor", password: "correct horse battery staple", role: "operator" },
      SYSTEM,
    );
    await setRole(h.db, userId, "admin", { ...SYSTEM, address: "10.0.0.9" });
    await login(h.db, {
      username: "auditor",
      password: "wrong password entirely",
      address: "10.0.0.1",
      userAgent: null,
    });
    await login(h.db, {
      username: "auditor",
      password: "correct horse battery staple",
      address: "10.0.0.1",
      userAgent: null,
    });
    // Content that a sloppy canonical form would not round-trip through jsonb: key order, nested
    // arrays, unicode, numbers, a Date, undefined members, an epoch.
    await h.db.transaction((tx) =>
      appendAudit(tx, {
        actorUserId: userId,
        actorLabel: "auditor",
        actorRole: "admin",
        action: "test.content",
        targetType: "cluster",
        targetId: "gte-pro-search",
        clusterId: "00000000-0000-4000-8000-000000000001",
        reason: 'GPU driver "upgrade" — ünïcödé ✓\nsecond line',
        before: { z: 1, a: [1, 2.5, { y: null, b: "x" }], big: 1e21, neg: -0.125 },
        after: { when: new Date("2025-01-02T03:04:05.678Z"), gone: undefined, nested: { k: [true, false] } },
        epoch: 42,
      }),
    );

    const rows = await h.db.select().from(auditLog).orderBy(asc(auditLog.id));
    expect(rows.map((r) => r.action)).toEqual([
      "user.create",
      "user.role",
      "auth.login_failed",
      "auth.login",
      "test.content",
    ]);
    const head = rows.at(-1)?.hash;
    const expected = { ok: true, rows: 5, head };
    expect(await verifyAuditChain(h.db)).toEqual(expected);
    expect(await verifyAuditChain(h.db, { pageSize: 2 })).toEqual(expected);
    expect(await verifyAuditChain(h.db, { pageSize: 1 })).toEqual(expected);
    expect(await verifyAuditChain(h.db, { pageSize: 5 })).toEqual(expected);
  });

  it("concurrent appends still form one chain", async () => {
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        h.db.transaction((tx) =>
          appendAudit(tx, { ...SYSTEM, action: "test.concurrent", targetType: "test", targetId: String(i) }),
        ),
      ),
    );
    const result = await verifyAuditChain(h.db);
    expect(result).toMatchObject({ ok: true, rows: 13 });
  });

  it("refuses UPDATE, DELETE and TRUNCATE (database triggers)", async () => {
    const before = await h.db.select().from(auditLog).orderBy(asc(auditLog.id));
    const first = before[0];
    if (!first) throw new Error("no audit rows");
    await expect(
      h.db.update(auditLog).set({ reason: "rewritten" }).where(eq(auditLog.id, first.id)),
    ).rejects.toThrow();
    // The refusal is the trigger's, not something incidental: the driver's own message says so.
    const statements: Array<[string, RegExp]> = [
      [`update audit_log set reason = 'rewritten' where id = ${first.id}`, /append-only: UPDATE/],
      ["update audit_log set hash = hash", /append-only: UPDATE/],
      [`delete from audit_log where id = ${first.id}`, /append-only: DELETE/],
      ["delete from audit_log", /append-only: DELETE/],
      ["truncate audit_log", /append-only: TRUNCATE/],
    ];
    for (const [statement, refused] of statements) {
      await expect(h.sql.unsafe(statement), statement).rejects.toThrow(refused);
    }
    expect(await h.db.select().from(auditLog).orderBy(asc(auditLog.id))).toEqual(before);
  });

  it("the CLI reports an intact chain and exits 0", async () => {
    const result = await verifyAuditChain(h.db);
    if (!result.ok) throw new Error(`chain broken before tampering: ${result.reason}`);
    const out = await cli(scratch.url);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.trim()).toBe(`audit log OK: ${result.rows} rows, head ${result.head}`);
  });

  it("an edited reason is caught at that row, by the function and by the CLI (exit 1)", async () => {
    const all = await ids();
    const victim = all[2];
    if (victim === undefined) throw new Error("not enough rows");
    const [original] = await h.db.select().from(auditLog).where(eq(auditLog.id, victim));
    await tamper(sql`update audit_log set reason = 'nothing to see here' where id = ${victim}`);

    const result = await verifyAuditChain(h.db);
    expect(result).toMatchObject({ ok: false, firstBadId: victim, rows: 3 });
    if (result.ok) return;
    expect(result.reason).toMatch(/hash .* does not match the row's content/);
    expect(await verifyAuditChain(h.db, { pageSize: 2 })).toEqual(result);

    const out = await cli(scratch.url);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`audit log BROKEN at row ${victim}: `);
    expect(out.stdout).not.toContain("audit log OK");

    // Putting the row back exactly as it was makes the chain whole again: the check is exact.
    await tamper(sql`update audit_log set reason = ${original?.reason ?? null} where id = ${victim}`);
    expect(await verifyAuditChain(h.db)).toMatchObject({ ok: true });
  });

  it("an edit that also recomputes the row's own hash is caught at the next row", async () => {
    const all = await ids();
    const victim = all[4];
    const next = all[5];
    if (victim === undefined || next === undefined) throw new Error("not enough rows");
    const [row] = await h.db.select().from(auditLog).where(eq(auditLog.id, victim));
    if (!row) throw new Error("no row");
    const forged = hashAuditRow(row.prevHash, { ...row, reason: "forged" });
    await tamper(sql`update audit_log set reason = 'forged', hash = ${forged} where id = ${victim}`);
    const result = await verifyAuditChain(h.db);
    expect(result).toMatchObject({ ok: false, firstBadId: next });
    if (!result.ok)
      expect(result.reason).toMatch(new RegExp(`prev_hash .* does not match the hash of row ${victim}`));
    await tamper(sql`update audit_log set reason = ${row.reason}, hash = ${row.hash} where id = ${victim}`);
    expect(await verifyAuditChain(h.db)).toMatchObject({ ok: true });
  });

  it("a deleted row is caught at the row after it; a deleted first row at the new first row", async () => {
    const all = await ids();
    const middle = all[3];
    const after = all[4];
    if (middle === undefined || after === undefined) throw new Error("not enough rows");
    await tamper(sql`delete from audit_log where id = ${middle}`);
    const result = await verifyAuditChain(h.db);
    expect(result).toMatchObject({ ok: false, firstBadId: after });
    if (!result.ok) expect(result.reason).toMatch(/prev_hash/);
    const out = await cli(scratch.url);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`audit log BROKEN at row ${after}: `);

    const [first, second] = all;
    if (first === undefined || second === undefined) throw new Error("not enough rows");
    await tamper(sql`delete from audit_log where id = ${first}`);
    const again = await verifyAuditChain(h.db);
    expect(again).toMatchObject({ ok: false, firstBadId: second, rows: 1 });
    if (!again.ok) expect(again.reason).toMatch(/genesis/);
  });
});
