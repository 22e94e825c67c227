// Logging in: rate-limited per account and per address (failures in the last 15 minutes), the same
// work for unknown users as for known ones, every attempt recorded, every outcome audited.
import { and, eq, gt, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { loginAttempts, users } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import { dummyHash, verifyPassword } from "./password";
import { createSession, revokeSession } from "./sessions";

export const LOGIN_WINDOW_MS = 15 * 60_000;
export const MAX_FAILURES_PER_ACCOUNT = 5;
export const MAX_FAILURES_PER_ADDRESS = 20;

export type LoginResult =
  | { ok: true; token: string; expiresAt: Date; username: string }
  | { ok: false; error: string; retryAfterS?: number };

const GENERIC = "Wrong user name or password.";

export async function login(
  db: Db,
  input: { username: string; password: string; address: string | null; userAgent: string | null },
): Promise<LoginResult> {
  const username = input.username.trim().toLowerCase().slice(0, 64);
  const since = new Date(Date.now() - LOGIN_WINDOW_MS);
  // One attempt per account at a time: count, check and record under a transaction-scoped lock, so
  // parallel guesses cannot all pass the count before any of them is recorded.
  const outcome = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`switchyard.login:${username}`}))`);
    const [perAccount] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(loginAttempts)
      .where(
        and(
          eq(loginAttempts.username, username),
          eq(loginAttempts.succeeded, false),
          gt(loginAttempts.at, since),
        ),
      );
    const [perAddress] = input.address
      ? await tx
          .select({ n: sql<number>`count(*)::int` })
          .from(loginAttempts)
          .where(
            and(
              eq(loginAttempts.address, input.address),
              eq(loginAttempts.succeeded, false),
              gt(loginAttempts.at, since),
            ),
          )
      : [{ n: 0 }];
    const [user] = await tx.select().from(users).where(sql`lower(${users.username}) = ${username}`);
    const locked =
      (perAccount?.n ?? 0) >= MAX_FAILURES_PER_ACCOUNT || (perAddress?.n ?? 0) >= MAX_FAILURES_PER_ADDRESS;
    // The same argon2 work whatever the account's state, so timing tells nothing about it.
    const passwordOk = await verifyPassword(user?.passwordHash ?? (await dummyHash()), input.password);
    const valid = !locked && !!user && !user.disabled && passwordOk;
    await tx.insert(loginAttempts).values({ username, address: input.address, succeeded: valid });
    await appendAudit(tx, {
      actorUserId: user?.id ?? null,
      actorLabel: username,
      actorRole: user?.role ?? "none",
      address: input.address,
      action: valid ? "auth.login" : locked ? "auth.login_locked" : "auth.login_failed",
      targetType: "user",
      targetId: user?.id ?? null,
    });
    return { valid, locked, user };
  });
  if (outcome.locked) {
    return {
      ok: false,
      error: "Too many failed attempts. Wait 15 minutes, or ask an admin to reset the password.",
      retryAfterS: LOGIN_WINDOW_MS / 1000,
    };
  }
  if (!outcome.valid || !outcome.user) return { ok: false, error: GENERIC };
  const session = await createSession(db, {
    userId: outcome.user.id,
    address: input.address,
    userAgent: input.userAgent,
  });
  return { ok: true, token: session.token, expiresAt: session.expiresAt, username: outcome.user.username };
}

export async function logout(
  db: Db,
  token: string,
  actor: { userId: string; username: string; role: string; address: string | null },
): Promise<void> {
  await db.transaction(async (tx) => {
    await revokeSession(tx, token);
    await appendAudit(tx, {
      actorUserId: actor.userId,
      actorLabel: actor.username,
      actorRole: actor.role,
      address: actor.address,
      action: "auth.logout",
      targetType: "user",
      targetId: actor.userId,
    });
  });
}
