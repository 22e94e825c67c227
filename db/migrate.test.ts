import { execFile } from "node:child_process";
import { promisify } from "node:util";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createScratchDatabase } from "@/test/db";
import { runMigrations } from "./migrate";

const run = promisify(execFile);

async function schemaFingerprint(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const cols = await sql`select table_name, column_name, data_type from information_schema.columns
      where table_schema = 'public' order by 1, 2`;
    const idx = await sql`select indexname, indexdef from pg_indexes where schemaname = 'public' order by 1`;
    const applied = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
    return {
      cols: cols.length,
      idx: idx.map((r) => `${r.indexname}:${r.indexdef}`),
      applied: applied[0]?.n as number,
    };
  } finally {
    await sql.end();
  }
}

describe("migrations", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
  });
  afterAll(async () => {
    await scratch?.drop();
  });

  it("apply on an empty database and are a no-op the second time", async () => {
    await runMigrations(scratch.url);
    const first = await schemaFingerprint(scratch.url);
    expect(first.applied).toBeGreaterThanOrEqual(2);
    expect(first.idx.some((i) => i.startsWith("switchovers_one_in_flight_uq"))).toBe(true);
    expect(first.idx.some((i) => i.includes("USING brin"))).toBe(true);
    await runMigrations(scratch.url);
    expect(await schemaFingerprint(scratch.url)).toEqual(first);
  });

  it("make the audit log append-only", async () => {
    const sql = postgres(scratch.url, { max: 1, onnotice: () => {} });
    try {
      await sql`insert into audit_log (actor_label, actor_role, action, target_type, prev_hash, hash)
        values ('t', 'system', 'test', 'test', 'x', 'y')`;
      await expect(sql`update audit_log set action = 'tampered'`).rejects.toThrow(/append-only/);
      await expect(sql`delete from audit_log`).rejects.toThrow(/append-only/);
      await expect(sql`truncate audit_log`).rejects.toThrow(/append-only/);
      expect((await sql`select action from audit_log`)[0]?.action).toBe("test");
    } finally {
      await sql.end();
    }
  });

  it("db:migrate exits non-zero with the reason when the database is unreachable", async () => {
    const err = await run("npx", ["tsx", "db/migrate.ts"], {
      env: { ...process.env, DATABASE_URL: "postgres://nobody:wrong@127.0.0.1:1/none" },
      timeout: 60_000,
    }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).not.toBeNull();
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/database migration failed: .*ECONNREFUSED/);
  });
});
