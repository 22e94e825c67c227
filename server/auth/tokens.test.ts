// API tokens against a real Postgres: shown once, stored only as a hash, and refused once revoked
// or expired.
import { createHash } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { apiTokens } from "@/db/schema";
import { createScratchDatabase } from "@/test/db";
import { createApiToken, listApiTokens, resolveApiToken, revokeApiToken } from "./tokens";
import { createUser } from "./users";

const SYSTEM = { actorUserId: null, actorLabel: "test", actorRole: "system" } as const;
const TOKEN = /^syd_([a-z0-9]{8})_[A-Za-z0-9_-]{43}$/;

describe("API tokens", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  let adminId: string;

  /** Every row of every table in the database, as text (jsonb and all). */
  async function databaseText(): Promise<string> {
    const tables = await h.db.execute<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    let out = "";
    for (const t of tables) {
      const rows = await h.db.execute<{ t: string }>(sql.raw(`select r::text as t from "${t.table_name}" r`));
      out += `${rows.map((r) => r.t).join("\n")}\n`;
    }
    return out;
  }

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 2 });
    adminId = (
      await createUser(
        h.db,
        { username: "admin", password: "correct horse battery staple", role: "admin" },
        SYSTEM,
      )
    ).id;
  });
  afterAll(async () => {
    await h?.sql.end();
    await scratch?.drop();
  });

  it("creates a syd_ token, returned once; the database keeps only its SHA-256 and prefix", async () => {
    const created = await createApiToken(h.db, { name: "ci", role: "operator", createdBy: adminId });
    const m = TOKEN.exec(created.token);
    expect(m, created.token).not.toBeNull();
    expect(m?.[1]).toBe(created.prefix);
    const [row] = await h.db.select().from(apiTokens).where(eq(apiTokens.id, created.id));
    expect(row).toMatchObject({
      name: "ci",
      role: "operator",
      prefix: created.prefix,
      tokenHash: createHash("sha256").update(created.token).digest("hex"),
      createdBy: adminId,
      revokedAt: null,
      expiresAt: null,
    });
    // Nowhere in the database: not the token, not its secret part.
    const secret = created.token.slice(`syd_${created.prefix}_`.length);
    const dump = await databaseText();
    expect(dump).toContain(created.prefix);
    expect(dump).not.toContain(created.token);
    expect(dump).not.toContain(secret);
    // Two tokens never collide.
    const other = await createApiToken(h.db, { name: "ci-2", role: "operator", createdBy: adminId });
    expect(other.token).not.toBe(created.token);
  });

  it("resolves to its name and role, and records its last use", async () => {
    const created = await createApiToken(h.db, { name: "grafana", role: "viewer", createdBy: null });
    expect(await resolveApiToken(h.db, created.token)).toEqual({
      tokenId: created.id,
      name: "grafana",
      role: "viewer",
    });
    const [row] = await h.db.select().from(apiTokens).where(eq(apiTokens.id, created.id));
    expect(Date.now() - (row?.lastUsedAt?.getTime() ?? 0)).toBeLessThan(60_000);
  });

  it("a revoked token is refused; revoking twice reports false", async () => {
    const created = await createApiToken(h.db, { name: "old", role: "admin", createdBy: adminId });
    expect(await resolveApiToken(h.db, created.token)).not.toBeNull();
    expect(await revokeApiToken(h.db, created.id)).toBe(true);
    expect(await resolveApiToken(h.db, created.token)).toBeNull();
    expect(await revokeApiToken(h.db, created.id)).toBe(false);
  });

  it("an expired token is refused; one expiring later works", async () => {
    const expired = await createApiToken(h.db, {
      name: "expired",
      role: "operator",
      createdBy: adminId,
      expiresAt: new Date(Date.now() - 1000),
    });
    expect(await resolveApiToken(h.db, expired.token)).toBeNull();
    const later = await createApiToken(h.db, {
      name: "later",
      role: "operator",
      createdBy: adminId,
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(await resolveApiToken(h.db, later.token)).not.toBeNull();
    await h.db
      .update(apiTokens)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(apiTokens.id, later.id));
    expect(await resolveApiToken(h.db, later.token)).toBeNull();
  });

  it("a malformed, unknown or tampered token is refused", async () => {
    const created = await createApiToken(h.db, { name: "real", role: "operator", createdBy: adminId });
    const last = created.token.at(-1) === "A" ? "B" : "A";
    const hostile = [
      undefined,
      null,
      "",
      "syd_",
      created.token.slice(0, -1),
      `${created.token}x`,
      `${created.token.slice(0, -1)}${last}`,
      created.token.toUpperCase(),
      ` ${created.token}`,
      createHash("sha256").update(created.token).digest("hex"),
      `syd_${created.prefix}_${"A".repeat(43)}`,
      "syd_zzzzzzzz_' or '1'='1' --aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ];
    for (const t of hostile) expect(await resolveApiToken(h.db, t), String(t)).toBeNull();
    expect(await resolveApiToken(h.db, created.token)).not.toBeNull();
  });

  it("lists tokens without their hashes", async () => {
    const list = await listApiTokens(h.db);
    expect(list.length).toBeGreaterThan(3);
    for (const t of list) {
      expect(Object.keys(t)).not.toContain("tokenHash");
      expect(JSON.stringify(t)).not.toMatch(/[0-9a-f]{64}/);
    }
  });
});
