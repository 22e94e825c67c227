// API token actions against a real Postgres: admins only, the token returned once and only its
// hash stored, revocation effective at once, and audit rows that never carry the secret.
import { createHash } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { apiTokens, auditLog } from "@/db/schema";
import { hashAuditRow } from "@/server/audit/append";
import { type Actor, runAsActor } from "@/server/auth/guard";
import { ROLES, type Role } from "@/server/auth/roles";
import { resolveApiToken } from "@/server/auth/tokens";
import { createUser } from "@/server/auth/users";
import { createScratchDatabase } from "@/test/db";
import { createTokenAction, revokeTokenAction } from "./tokens";

const SYSTEM = { actorUserId: null, actorLabel: "test", actorRole: "system" } as const;
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

describe("API token actions", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const previous = (globalThis as { switchyardDb?: unknown }).switchyardDb;
  const actors = {} as Record<Role, Actor>;

  const counts = async () => ({
    tokens: (await h.db.select({ id: apiTokens.id }).from(apiTokens)).length,
    audit: (await h.db.select({ id: auditLog.id }).from(auditLog)).length,
  });
  const auditFor = async (targetId: string) =>
    await h.db.select().from(auditLog).where(eq(auditLog.targetId, targetId)).orderBy(auditLog.id);

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4 });
    (globalThis as { switchyardDb?: unknown }).switchyardDb = h;
    for (const role of ROLES) {
      const { id } = await createUser(
        h.db,
        { username: `tok-${role}`, password: `pw-${role}-Long-Enough-1`, role },
        SYSTEM,
      );
      actors[role] = { kind: "session", userId: id, label: `tok-${role}`, role, address: "192.0.2.7" };
    }
  }, 60_000);

  afterAll(async () => {
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previous;
    await h?.sql.end();
    await scratch?.drop();
  });

  it("an admin creates a token: returned once, only its SHA-256 stored, audited without the secret", async () => {
    const before = Date.now();
    const res = await runAsActor(actors.admin, () =>
      createTokenAction({ name: "  ci deploy  ", role: "operator", expiresInDays: 30 }),
    );
    if (!res.ok) throw new Error(res.error);
    const { token, id, prefix } = res.data;
    expect(token).toMatch(/^syd_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    expect(token.startsWith(`syd_${prefix}_`)).toBe(true);
    expect(res.data).toMatchObject({ name: "ci deploy", role: "operator" });
    const expires = Date.parse(res.data.expiresAt ?? "");
    expect(expires - before).toBeGreaterThanOrEqual(30 * 86_400_000 - 1000);
    expect(expires - before).toBeLessThan(30 * 86_400_000 + 60_000);

    const [row] = await h.db.select().from(apiTokens).where(eq(apiTokens.id, id));
    expect(row).toMatchObject({
      name: "ci deploy",
      role: "operator",
      prefix,
      tokenHash: sha256(token),
      createdBy: actors.admin.userId,
      revokedAt: null,
    });
    // The secret is nowhere in the row.
    const secretPart = token.split("_").slice(2).join("_");
    expect(JSON.stringify(row)).not.toContain(secretPart);

    // It works, with its role.
    expect(await resolveApiToken(h.db, token)).toMatchObject({ tokenId: id, role: "operator" });

    const audit = await auditFor(id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: "token.create",
      targetType: "api_token",
      actorLabel: "tok-admin",
      actorRole: "admin",
      actorUserId: actors.admin.userId,
      address: "192.0.2.7",
      after: { name: "ci deploy", role: "operator", prefix, expiresAt: res.data.expiresAt },
    });
    const text = JSON.stringify(audit);
    expect(text).not.toContain(secretPart);
    expect(text).not.toContain(sha256(token));
  });

  it("a token without expiry never expires; the list never shows the token again", async () => {
    const res = await runAsActor(actors.admin, () =>
      createTokenAction({ name: "grafana", role: "viewer", expiresInDays: null }),
    );
    if (!res.ok) throw new Error(res.error);
    expect(res.data.expiresAt).toBeNull();
    const [row] = await h.db.select().from(apiTokens).where(eq(apiTokens.id, res.data.id));
    expect(row?.expiresAt).toBeNull();
    // Two tokens with the same settings are different secrets.
    const again = await runAsActor(actors.admin, () =>
      createTokenAction({ name: "grafana", role: "viewer" }),
    );
    if (!again.ok) throw new Error(again.error);
    expect(again.data.token).not.toBe(res.data.token);
    expect(again.data.id).not.toBe(res.data.id);
  });

  it("refuses operators, viewers and nobody (403 / 401) and writes nothing", async () => {
    for (const actor of [actors.operator, actors.viewer, null]) {
      const before = await counts();
      const created = await runAsActor(actor, () =>
        createTokenAction({ name: "sneaky", role: "admin", expiresInDays: 1 }),
      );
      expect(created).toMatchObject({ ok: false, status: actor ? 403 : 401 });
      expect(await counts()).toEqual(before);
    }
    expect(await h.db.select().from(apiTokens).where(eq(apiTokens.name, "sneaky"))).toEqual([]);
  });

  it("refuses bad input with a message and writes nothing", async () => {
    const cases: Array<[unknown, string | undefined]> = [
      [{ name: "", role: "viewer" }, "name"],
      [{ name: "   ", role: "viewer" }, "name"],
      [{ name: "x".repeat(65), role: "viewer" }, "name"],
      [{ name: "evil\nname", role: "viewer" }, "name"],
      [{ name: "<script>", role: "viewer" }, "name"],
      [{ name: "ok", role: "root" }, "role"],
      [{ name: "ok", role: "viewer", expiresInDays: 0 }, "expiresInDays"],
      [{ name: "ok", role: "viewer", expiresInDays: 1.5 }, "expiresInDays"],
      [{ name: "ok", role: "viewer", expiresInDays: 99999 }, "expiresInDays"],
      [{ name: "ok", role: "viewer", expiresInDays: "30" }, "expiresInDays"],
      [null, undefined],
    ];
    for (const [input, field] of cases) {
      const before = await counts();
      const res = await runAsActor(actors.admin, () => createTokenAction(input));
      expect(res.ok, JSON.stringify(input)).toBe(false);
      if (!res.ok) {
        expect(res.status).toBe(422);
        expect(res.error.length).toBeGreaterThan(3);
        if (field) expect(res.field).toBe(field);
      }
      expect(await counts()).toEqual(before);
    }
  });

  it("revoking: admins only, effective at once, audited once, never twice", async () => {
    const created = await runAsActor(actors.admin, () =>
      createTokenAction({ name: "to-revoke", role: "admin", expiresInDays: 7 }),
    );
    if (!created.ok) throw new Error(created.error);
    const { id, token } = created.data;

    for (const actor of [actors.operator, actors.viewer, null]) {
      const before = await counts();
      const res = await runAsActor(actor, () => revokeTokenAction({ id }));
      expect(res).toMatchObject({ ok: false, status: actor ? 403 : 401 });
      expect(await counts()).toEqual(before);
      expect(await resolveApiToken(h.db, token)).not.toBeNull();
    }

    const res = await runAsActor(actors.admin, () => revokeTokenAction({ id }));
    if (!res.ok) throw new Error(res.error);
    expect(await resolveApiToken(h.db, token)).toBeNull();
    const [row] = await h.db.select().from(apiTokens).where(eq(apiTokens.id, id));
    expect(row?.revokedAt?.toISOString()).toBe(res.data.revokedAt);

    const again = await runAsActor(actors.admin, () => revokeTokenAction({ id }));
    expect(again).toMatchObject({ ok: false, status: 409 });

    const audit = await auditFor(id);
    expect(audit.map((a) => a.action)).toEqual(["token.create", "token.revoke"]);
    expect(audit[1]).toMatchObject({
      actorLabel: "tok-admin",
      before: { name: "to-revoke", role: "admin", prefix: created.data.prefix },
      after: { revokedAt: res.data.revokedAt },
    });
    const text = JSON.stringify(audit);
    expect(text).not.toContain(token.split("_").slice(2).join("_"));
    expect(text).not.toContain(sha256(token));
  });

  it("revoking an unknown or malformed id changes nothing", async () => {
    const before = await counts();
    expect(
      await runAsActor(actors.admin, () => revokeTokenAction({ id: "00000000-0000-4000-8000-000000000000" })),
    ).toMatchObject({ ok: false, status: 404 });
    expect(
      await runAsActor(actors.admin, () => revokeTokenAction({ id: "1; drop table api_tokens" })),
    ).toMatchObject({ ok: false, status: 422 });
    expect(await counts()).toEqual(before);
  });

  it("the audit chain written by these actions verifies", async () => {
    const rows = await h.db.select().from(auditLog).orderBy(auditLog.id);
    expect(rows.some((r) => r.action === "token.revoke")).toBe(true);
    let prev = "0".repeat(64);
    for (const r of rows) {
      expect(r.prevHash).toBe(prev);
      expect(
        hashAuditRow(prev, {
          at: r.at,
          actorUserId: r.actorUserId,
          actorLabel: r.actorLabel,
          actorRole: r.actorRole,
          address: r.address,
          action: r.action,
          targetType: r.targetType,
          targetId: r.targetId,
          clusterId: r.clusterId,
          reason: r.reason,
          before: r.before,
          after: r.after,
          epoch: r.epoch,
        }),
      ).toBe(r.hash);
      prev = r.hash;
    }
  });
});
