"use server";
// API tokens (admins only): create one — shown once, only its SHA-256 is stored — or revoke one.
// Each change and its audit entry commit together; the audit row names the token (id, name,
// prefix, role, expiry), never the token or its hash.
import { eq } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "@/db/client";
import { apiTokens } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import { type ActionResult, auditActor, authorizedAction } from "@/server/auth/guard";
import { ROLES } from "@/server/auth/roles";
import { createApiToken, revokeApiToken } from "@/server/auth/tokens";

const DAY_MS = 86_400_000;

const createInput = z.object({
  name: z
    .string()
    .trim()
    .min(1, "Give the token a name: say what uses it.")
    .max(64, "At most 64 characters.")
    .regex(/^[\p{L}\p{N} ._:@/-]+$/u, "Letters, digits, spaces and . _ : @ / - only."),
  role: z.enum(ROLES, { error: "Pick a role: viewer, operator or admin." }),
  expiresInDays: z
    .number({ error: "Expiry must be a number of days." })
    .int("Expiry must be a whole number of days.")
    .min(1, "Expiry must be 1 to 3650 days.")
    .max(3650, "Expiry must be 1 to 3650 days.")
    .nullish(),
});

export type CreatedToken = {
  id: string;
  name: string;
  role: (typeof ROLES)[number];
  prefix: string;
  expiresAt: string | null;
  /** The secret: shown to the admin this once, never stored or retrievable again. */
  token: string;
};

export const createTokenAction = authorizedAction(
  "token.manage",
  async (actor, input: unknown): Promise<ActionResult<CreatedToken>> => {
    const parsed = createInput.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ok: false,
        error: issue?.message ?? "Invalid request",
        field: issue?.path.join("."),
        status: 422,
      };
    }
    const { name, role, expiresInDays } = parsed.data;
    const expiresAt = expiresInDays ? new Date(Date.now() + expiresInDays * DAY_MS) : null;
    const created = await getDb().transaction(async (tx) => {
      const t = await createApiToken(tx, { name, role, createdBy: actor.userId, expiresAt });
      await appendAudit(tx, {
        ...auditActor(actor),
        action: "token.create",
        targetType: "api_token",
        targetId: t.id,
        after: { name, role, prefix: t.prefix, expiresAt: expiresAt?.toISOString() ?? null },
      });
      return t;
    });
    return {
      ok: true,
      data: {
        id: created.id,
        name,
        role,
        prefix: created.prefix,
        expiresAt: expiresAt?.toISOString() ?? null,
        token: created.token,
      },
    };
  },
);

const revokeInput = z.object({ id: z.uuid("Not a token id.") });

export const revokeTokenAction = authorizedAction(
  "token.manage",
  async (actor, input: unknown): Promise<ActionResult<{ id: string; revokedAt: string }>> => {
    const parsed = revokeInput.safeParse(input);
    if (!parsed.success) {
      return { ok: false, error: parsed.error.issues[0]?.message ?? "Invalid request", status: 422 };
    }
    const { id } = parsed.data;
    return await getDb().transaction(async (tx): Promise<ActionResult<{ id: string; revokedAt: string }>> => {
      // Lock the row so two admins revoking at once write one audit entry, not two.
      const [row] = await tx
        .select({
          name: apiTokens.name,
          prefix: apiTokens.prefix,
          role: apiTokens.role,
          revokedAt: apiTokens.revokedAt,
        })
        .from(apiTokens)
        .where(eq(apiTokens.id, id))
        .for("update");
      if (!row) return { ok: false, error: "No such token.", status: 404 };
      if (row.revokedAt) return { ok: false, error: `${row.name} is already revoked.`, status: 409 };
      await revokeApiToken(tx, id);
      const [after] = await tx
        .select({ revokedAt: apiTokens.revokedAt })
        .from(apiTokens)
        .where(eq(apiTokens.id, id));
      const revokedAt = (after?.revokedAt ?? new Date()).toISOString();
      await appendAudit(tx, {
        ...auditActor(actor),
        action: "token.revoke",
        targetType: "api_token",
        targetId: id,
        before: { name: row.name, prefix: row.prefix, role: row.role },
        after: { revokedAt },
      });
      return { ok: true, data: { id, revokedAt } };
    });
  },
);
