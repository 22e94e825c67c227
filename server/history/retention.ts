// Retention: raw telemetry goes an hour-partition at a time (DROP, see partitions.ts); rollups go
// by DELETE, in bounded batches, because they are small, keyed by bucket, and a month's worth of
// minute rows leaves at a trickle (one minute's rows per minute). Batches of a few thousand rows
// keep each statement short, so retention never holds locks or a snapshot long enough to bother
// the writers, and a crash midway leaves nothing half-done that the next run cannot finish.
import { sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { dropExpiredPartitions } from "./partitions";
import { DAY_MS, ms, tsParam } from "./time";

export type RetentionPolicy = {
  rawRetentionHours: number;
  minuteRetentionDays: number;
  hourRetentionDays: number;
  /** Rows per DELETE statement. */
  batchSize?: number;
};

export const DEFAULT_RETENTION: Required<RetentionPolicy> = {
  rawRetentionHours: 48,
  minuteRetentionDays: 30,
  hourRetentionDays: 400,
  batchSize: 5000,
};

export type RetentionResult = {
  droppedPartitions: string[];
  deleted: { heartbeatRollup1m: number; heartbeatRollup1h: number; gpuRollup1m: number; gpuRollup1h: number };
};

export class RetentionPolicyError extends Error {
  readonly code = "invalid_retention_policy" as const;
}

// Table and key names are constants, never input.
const ROLLUP_TABLES = {
  heartbeatRollup1m: { table: "heartbeat_rollup_1m", key: "node_id, bucket", days: "minuteRetentionDays" },
  heartbeatRollup1h: { table: "heartbeat_rollup_1h", key: "node_id, bucket", days: "hourRetentionDays" },
  gpuRollup1m: { table: "gpu_rollup_1m", key: "node_id, gpu_index, bucket", days: "minuteRetentionDays" },
  gpuRollup1h: { table: "gpu_rollup_1h", key: "node_id, gpu_index, bucket", days: "hourRetentionDays" },
} as const;

async function deleteOlderThan(
  db: DbOrTx,
  spec: (typeof ROLLUP_TABLES)[keyof typeof ROLLUP_TABLES],
  cutoff: number,
  batchSize: number,
): Promise<number> {
  const table = sql.identifier(spec.table);
  const key = sql.raw(spec.key);
  let total = 0;
  for (;;) {
    const res = await db.execute(sql`
      delete from ${table} where (${key}) in (
        select ${key} from ${table} where bucket < ${tsParam(cutoff)} order by bucket limit ${batchSize}
      )`);
    total += res.count;
    if (res.count < batchSize) return total;
  }
}

/**
 * Drops raw partitions older than `rawRetentionHours` and deletes rollup rows whose bucket starts
 * before their table's retention. Never touches raw rows individually, nor rollups inside retention.
 */
export async function runRetention(
  db: DbOrTx,
  now: Date,
  policy: RetentionPolicy = DEFAULT_RETENTION,
): Promise<RetentionResult> {
  const p = { ...DEFAULT_RETENTION, ...policy };
  for (const k of ["rawRetentionHours", "minuteRetentionDays", "hourRetentionDays", "batchSize"] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 1) {
      throw new RetentionPolicyError(`${k} must be a positive integer, got ${p[k]}`);
    }
  }
  const t = ms(now, "now");
  const droppedPartitions = await dropExpiredPartitions(db, now, { rawRetentionHours: p.rawRetentionHours });
  const deleted = { heartbeatRollup1m: 0, heartbeatRollup1h: 0, gpuRollup1m: 0, gpuRollup1h: 0 };
  for (const [name, spec] of Object.entries(ROLLUP_TABLES) as [
    keyof typeof ROLLUP_TABLES,
    (typeof ROLLUP_TABLES)[keyof typeof ROLLUP_TABLES],
  ][]) {
    deleted[name] = await deleteOlderThan(db, spec, t - p[spec.days] * DAY_MS, p.batchSize);
  }
  return { droppedPartitions, deleted };
}
