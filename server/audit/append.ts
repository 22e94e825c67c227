// Appending to the audit log. Each row's hash covers the previous row's hash and the row's own
// content, so editing or deleting any row breaks every later link (checked by audit:verify).
// The transaction-scoped advisory lock serialises appends so the chain never forks; it is released
// at commit, so it survives connection poolers (unlike session locks).
import { createHash } from "node:crypto";
import { desc, sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { auditLog } from "@/db/schema";

export type AuditEntry = {
  actorUserId?: string | null;
  actorLabel: string;
  actorRole: string;
  address?: string | null;
  action: string;
  targetType: string;
  targetId?: string | null;
  clusterId?: string | null;
  reason?: string | null;
  before?: unknown;
  after?: unknown;
  epoch?: number | null;
};

export const GENESIS_HASH = "0".repeat(64);

/** Stable JSON: object keys sorted, so the same content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export function hashAuditRow(prevHash: string, row: AuditEntry & { at: Date }): string {
  const body = canonicalJson({
    at: row.at.toISOString(),
    actorUserId: row.actorUserId ?? null,
    actorLabel: row.actorLabel,
    actorRole: row.actorRole,
    address: row.address ?? null,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId ?? null,
    clusterId: row.clusterId ?? null,
    reason: row.reason ?? null,
    before: row.before ?? null,
    after: row.after ?? null,
    epoch: row.epoch ?? null,
  });
  return createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}

/** Must be called inside the transaction that makes the change it records. */
export async function appendAudit(tx: DbOrTx, input: AuditEntry): Promise<{ id: number; hash: string }> {
  // What jsonb stores is the JSON form (toJSON applied); hash exactly that, or a Buffer or a class
  // instance in before/after would hash differently from the row read back and never verify.
  const entry: AuditEntry = {
    ...input,
    before: input.before === undefined ? undefined : JSON.parse(JSON.stringify(input.before)),
    after: input.after === undefined ? undefined : JSON.parse(JSON.stringify(input.after)),
  };
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('switchyard.audit_log'))`);
  const [last] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
  const prevHash = last?.hash ?? GENESIS_HASH;
  // A JS Date has millisecond precision, so the stored timestamptz round-trips exactly.
  const at = new Date();
  const hash = hashAuditRow(prevHash, { ...entry, at });
  const [row] = await tx
    .insert(auditLog)
    .values({
      at,
      actorUserId: entry.actorUserId ?? null,
      actorLabel: entry.actorLabel,
      actorRole: entry.actorRole,
      address: entry.address ?? null,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId ?? null,
      clusterId: entry.clusterId ?? null,
      reason: entry.reason ?? null,
      before: entry.before ?? null,
      after: entry.after ?? null,
      epoch: entry.epoch ?? null,
      prevHash,
      hash,
    })
    .returning({ id: auditLog.id });
  if (!row) throw new Error("audit insert returned no row");
  return { id: row.id, hash };
}
