// Server-side sessions. The cookie carries 32 random bytes; the database keeps only their SHA-256,
// so a leaked database dump opens no session. A session ends at its absolute expiry, after an idle
// period, on logout, and when its user's password or role changes or the user is disabled.
import { createHash, randomBytes } from "node:crypto";
import { and, eq, isNull, sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { sessions, users } from "@/db/schema";
import type { Role } from "./roles";

export const SESSION_COOKIE = "switchyard_session";
export const SESSION_TTL_MS = 12 * 3_600_000;
export const SESSION_IDLE_MS = 2 * 3_600_000;
/** lastSeenAt is refreshed at most this often (a write per request would be wasteful). */
const TOUCH_EVERY_MS = 60_000;

export function hashSecret(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export async function createSession(
  db: DbOrTx,
  input: { userId: string; address?: string | null; userAgent?: string | null },
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  await db.insert(sessions).values({
    idHash: hashSecret(token),
    userId: input.userId,
    expiresAt,
    address: input.address?.slice(0, 100) ?? null,
    userAgent: input.userAgent?.slice(0, 300) ?? null,
  });
  return { token, expiresAt };
}

export type SessionUser = { userId: string; username: string; role: Role; idHash: string };

/** The live session for a cookie value, or null (unknown, expired, idle, revoked, user disabled). */
export async function resolveSession(
  db: DbOrTx,
  token: string | undefined | null,
): Promise<SessionUser | null> {
  if (!token || token.length > 200 || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
  const idHash = hashSecret(token);
  const [row] = await db
    .select({
      idHash: sessions.idHash,
      userId: users.id,
      username: users.username,
      role: users.role,
      disabled: users.disabled,
      expiresAt: sessions.expiresAt,
      lastSeenAt: sessions.lastSeenAt,
      createdAt: sessions.createdAt,
      passwordChangedAt: users.passwordChangedAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.idHash, idHash), isNull(sessions.revokedAt)));
  if (!row || row.disabled) return null;
  const now = Date.now();
  if (row.expiresAt.getTime() <= now) return null;
  if (row.lastSeenAt.getTime() + SESSION_IDLE_MS <= now) return null;
  // Belt and braces: a password change revokes sessions explicitly, and an older session is dead anyway.
  if (row.createdAt.getTime() < row.passwordChangedAt.getTime()) return null;
  if (now - row.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
    await db.update(sessions).set({ lastSeenAt: new Date() }).where(eq(sessions.idHash, idHash));
  }
  return { userId: row.userId, username: row.username, role: row.role, idHash };
}

export async function revokeSession(db: DbOrTx, token: string): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.idHash, hashSecret(token)), isNull(sessions.revokedAt)));
}

export async function revokeUserSessions(db: DbOrTx, userId: string): Promise<number> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ idHash: sessions.idHash });
  return rows.length;
}
