// API tokens for automation: `syd_<prefix>_<secret>`, shown once at creation; the database keeps the
// SHA-256 of the whole token and the prefix (so people can tell tokens apart). Scoped by role,
// optionally expiring, revocable; last use is recorded.
import { randomBytes } from "node:crypto";
import { and, desc, eq, isNull } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { apiTokens } from "@/db/schema";
import type { Role } from "./roles";
import { hashSecret } from "./sessions";

const TOKEN_RE = /^syd_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/;
const TOUCH_EVERY_MS = 60_000;

export async function createApiToken(
  db: DbOrTx,
  input: { name: string; role: Role; createdBy: string | null; expiresAt?: Date | null },
): Promise<{ id: string; token: string; prefix: string }> {
  const prefix = randomBytes(8).toString("hex").slice(0, 8);
  const token = `syd_${prefix}_${randomBytes(32).toString("base64url")}`;
  const [row] = await db
    .insert(apiTokens)
    .values({
      name: input.name,
      tokenHash: hashSecret(token),
      prefix,
      role: input.role,
      createdBy: input.createdBy,
      expiresAt: input.expiresAt ?? null,
    })
    .returning({ id: apiTokens.id });
  if (!row) throw new Error("token insert returned no row");
  return { id: row.id, token, prefix };
}

export type TokenActor = { tokenId: string; name: string; role: Role };

export async function resolveApiToken(
  db: DbOrTx,
  token: string | null | undefined,
): Promise<TokenActor | null> {
  if (!token || !TOKEN_RE.test(token)) return null;
  const [row] = await db
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, hashSecret(token)), isNull(apiTokens.revokedAt)));
  if (!row) return null;
  const now = Date.now();
  if (row.expiresAt && row.expiresAt.getTime() <= now) return null;
  if (!row.lastUsedAt || now - row.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
    await db.update(apiTokens).set({ lastUsedAt: new Date() }).where(eq(apiTokens.id, row.id));
  }
  return { tokenId: row.id, name: row.name, role: row.role };
}

export async function revokeApiToken(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id });
  return rows.length > 0;
}

/** For lists: never the hash. */
export async function listApiTokens(db: DbOrTx) {
  return await db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      prefix: apiTokens.prefix,
      role: apiTokens.role,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      expiresAt: apiTokens.expiresAt,
      revokedAt: apiTokens.revokedAt,
    })
    .from(apiTokens)
    .orderBy(desc(apiTokens.createdAt));
}
