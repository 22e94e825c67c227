// Users: created, re-passworded, re-roled and disabled here only, each in one transaction with its
// audit entry, and each change that alters what a person may do revokes their sessions.
import { eq, sql } from "drizzle-orm";
import type { Db, DbOrTx } from "@/db/client";
import { users } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import { hashPassword, passwordProblem } from "./password";
import { isRole, type Role } from "./roles";
import { revokeUserSessions } from "./sessions";

export const USERNAME_RE = /^[a-z][a-z0-9._-]{1,31}$/;

export class UserError extends Error {
  override name = "UserError";
  constructor(
    message: string,
    readonly field: "username" | "password" | "role" | null = null,
  ) {
    super(message);
  }
}

export type AuditActor = {
  actorUserId: string | null;
  actorLabel: string;
  actorRole: string;
  address?: string | null;
};

export async function createUser(
  db: Db,
  input: { username: string; password: string; role: string },
  by: AuditActor,
): Promise<{ id: string }> {
  const username = input.username.trim().toLowerCase();
  if (!USERNAME_RE.test(username)) {
    throw new UserError(
      "2–32 characters: lowercase letters, digits, . _ -, starting with a letter",
      "username",
    );
  }
  if (!isRole(input.role)) throw new UserError("must be viewer, operator or admin", "role");
  const problem = passwordProblem(input.password, username);
  if (problem) throw new UserError(`Password: ${problem}`, "password");
  const passwordHash = await hashPassword(input.password);
  return await db.transaction(async (tx) => {
    const [existing] = await tx
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.username}) = ${username}`);
    if (existing) throw new UserError(`${username} already exists`, "username");
    const [row] = await tx
      .insert(users)
      .values({ username, passwordHash, role: input.role as Role })
      .returning({ id: users.id });
    if (!row) throw new Error("user insert returned no row");
    await appendAudit(tx, {
      ...by,
      action: "user.create",
      targetType: "user",
      targetId: row.id,
      after: { username, role: input.role },
    });
    return { id: row.id };
  });
}

export async function setPassword(db: Db, userId: string, password: string, by: AuditActor): Promise<void> {
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user) throw new UserError("no such user");
  const problem = passwordProblem(password, user.username);
  if (problem) throw new UserError(`Password: ${problem}`, "password");
  const passwordHash = await hashPassword(password);
  await db.transaction(async (tx) => {
    await tx
      .update(users)
      // The database clock, the one sessions.created_at is compared with.
      .set({ passwordHash, passwordChangedAt: sql`now()`, updatedAt: new Date() })
      .where(eq(users.id, userId));
    const revoked = await revokeUserSessions(tx, userId);
    await appendAudit(tx, {
      ...by,
      action: "user.password",
      targetType: "user",
      targetId: userId,
      after: { username: user.username, sessionsRevoked: revoked },
    });
  });
}

export async function setRole(db: Db, userId: string, role: string, by: AuditActor): Promise<void> {
  if (!isRole(role)) throw new UserError("must be viewer, operator or admin", "role");
  await db.transaction(async (tx) => {
    const [user] = await tx.select().from(users).where(eq(users.id, userId)).for("update");
    if (!user) throw new UserError("no such user");
    if (user.role === role) return;
    await tx.update(users).set({ role, updatedAt: new Date() }).where(eq(users.id, userId));
    const revoked = await revokeUserSessions(tx, userId);
    await appendAudit(tx, {
      ...by,
      action: "user.role",
      targetType: "user",
      targetId: userId,
      before: { role: user.role },
      after: { role, sessionsRevoked: revoked },
    });
  });
}

export async function setDisabled(db: Db, userId: string, disabled: boolean, by: AuditActor): Promise<void> {
  await db.transaction(async (tx) => {
    const [user] = await tx.select().from(users).where(eq(users.id, userId)).for("update");
    if (!user) throw new UserError("no such user");
    await tx.update(users).set({ disabled, updatedAt: new Date() }).where(eq(users.id, userId));
    const revoked = disabled ? await revokeUserSessions(tx, userId) : 0;
    await appendAudit(tx, {
      ...by,
      action: disabled ? "user.disable" : "user.enable",
      targetType: "user",
      targetId: userId,
      after: { username: user.username, sessionsRevoked: revoked },
    });
  });
}

export async function countUsers(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
  return row?.n ?? 0;
}
