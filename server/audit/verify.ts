// Verifying the audit log's hash chain (`npm run audit:verify`). Each row's hash is recomputed from
// its stored content and the previous row's hash (append.ts), so an edited row fails its own hash
// and a deleted or inserted row breaks the next row's prev_hash link.
//
// Ids are not checked for gaps: they come from a sequence, and a transaction that rolls back after
// appending still consumes one, so gaps are normal. A missing row shows as a prev_hash mismatch.
// What a chain alone cannot show: rows cut off the end of the log, or a log rewritten wholesale
// with recomputed hashes. Compare the reported head with one recorded elsewhere to catch those.
import { asc, gt } from "drizzle-orm";
import type { Db } from "@/db/client";
import { auditLog } from "@/db/schema";
import { GENESIS_HASH, hashAuditRow } from "./append";

export type AuditVerifyResult =
  | { ok: true; rows: number; head: string }
  | { ok: false; rows: number; firstBadId: number; reason: string };

const DEFAULT_PAGE_SIZE = 1000;

function short(hash: string): string {
  return hash.length > 16 ? `${hash.slice(0, 16)}…` : hash;
}

/**
 * Walks the whole log in id order, a page at a time (memory stays bounded however long the log
 * is), inside one read-only repeatable-read transaction so appends made meanwhile cannot make the
 * walk see a half-written state. `rows` counts the rows checked, including the bad one.
 */
export async function verifyAuditChain(db: Db, opts: { pageSize?: number } = {}): Promise<AuditVerifyResult> {
  const pageSize = Math.max(1, Math.floor(opts.pageSize ?? DEFAULT_PAGE_SIZE));
  return await db.transaction(
    async (tx) => {
      let prevHash = GENESIS_HASH;
      let prevId: number | null = null;
      let rows = 0;
      let after = 0;
      for (;;) {
        const page = await tx
          .select()
          .from(auditLog)
          .where(gt(auditLog.id, after))
          .orderBy(asc(auditLog.id))
          .limit(pageSize);
        for (const row of page) {
          rows += 1;
          if (row.prevHash !== prevHash) {
            const expected = prevId === null ? "the genesis hash" : `the hash of row ${prevId}`;
            return {
              ok: false as const,
              rows,
              firstBadId: row.id,
              reason: `prev_hash ${short(row.prevHash)} does not match ${expected} (${short(prevHash)}): a row before it was removed, inserted or altered`,
            };
          }
          const recomputed = hashAuditRow(prevHash, {
            at: row.at,
            actorUserId: row.actorUserId,
            actorLabel: row.actorLabel,
            actorRole: row.actorRole,
            address: row.address,
            action: row.action,
            targetType: row.targetType,
            targetId: row.targetId,
            clusterId: row.clusterId,
            reason: row.reason,
            before: row.before,
            after: row.after,
            epoch: row.epoch,
          });
          if (recomputed !== row.hash) {
            return {
              ok: false as const,
              rows,
              firstBadId: row.id,
              reason: `stored hash ${short(row.hash)} does not match the row's content (recomputed ${short(recomputed)}): the row was altered`,
            };
          }
          prevHash = row.hash;
          prevId = row.id;
        }
        const last = page.at(-1);
        if (!last || page.length < pageSize) break;
        after = last.id;
      }
      return { ok: true as const, rows, head: prevHash };
    },
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
}
