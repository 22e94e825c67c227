// How much disk raw telemetry costs, for the benchmark and capacity planning (DESIGN.md "Scale": when
// raw history outgrows Postgres, it moves to Prometheus and Postgres keeps rollups).
import { sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { parsePartitionName } from "./partitions";
import { floorTo, HOUR_MS, ms } from "./time";

export type StorageRate = {
  /** Table + index + TOAST bytes of the counted partitions. */
  bytes: number;
  /** Hours from `since` to `now`. */
  hours: number;
  bytesPerHour: number;
  /** The partitions counted: those whose hour overlaps [since, now]. */
  partitions: string[];
};

/**
 * Bytes of the `heartbeats` and `gpu_samples` partitions covering [since, now], divided by the
 * hours in that span. Whole partitions are counted, so measure from a clean start (or over many
 * hours) for an honest rate: rows written in the first partial hour before `since` are included.
 */
export async function databaseBytesPerHour(
  db: DbOrTx,
  since: Date,
  opts: { now?: Date } = {},
): Promise<StorageRate> {
  const lo = ms(since, "since");
  const hi = ms(opts.now ?? new Date(), "now");
  if (hi <= lo) throw new RangeError("since must be before now");
  const rows = await db.execute<{ name: string; bytes: number }>(sql`
    select c.relname as name, pg_total_relation_size(c.oid)::float8 as bytes
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('heartbeats'::regclass, 'gpu_samples'::regclass)`);
  const first = floorTo(lo, HOUR_MS);
  let bytes = 0;
  const partitions: string[] = [];
  for (const r of rows) {
    const p = parsePartitionName(r.name);
    if (!p || p.from.getTime() < first || p.from.getTime() > hi) continue;
    bytes += r.bytes;
    partitions.push(r.name);
  }
  const hours = (hi - lo) / HOUR_MS;
  return { bytes, hours, bytesPerHour: bytes / hours, partitions: partitions.sort() };
}
