// Hourly partitions of the raw telemetry tables (`heartbeats`, `gpu_samples`), named
// `<table>_pYYYYMMDDHH` for the UTC hour they hold.
//
// Why partitions: raw telemetry is kept for hours and written at a rate of thousands of rows a
// second. Expiring it with DELETE costs WAL for every row, leaves dead tuples for vacuum and never
// gives the disk back; dropping an hour's partition is a catalog change that frees its files at once
// and never touches live rows. So retention here only ever drops whole partitions.
//
// There is no DEFAULT partition (see the migration): `ensurePartitions` creates the current hour
// and the next three ahead on every maintenance tick, and the insert path creates the hour of any
// row whose partition is missing (rows carry controller clock times, which may lag or lead). If
// maintenance stops, writes fail loudly within hours instead of silently filling a catch-all.
//
// Creating or dropping a partition takes a strong lock on the parent, so both run with a short
// lock_timeout (a long reader delays maintenance, it is not allowed to queue every insert behind
// it; the next tick retries) and are serialised between processes by a transaction-scoped advisory
// lock. DDL cannot take bind parameters: names are built from a fixed table list and digits and
// checked against a strict pattern, bounds are ISO timestamps we format ourselves and re-check.
import { sql } from "drizzle-orm";
import type { DbOrTx, Tx } from "@/db/client";
import { floorTo, HOUR_MS, ms } from "./time";

export const PARTITIONED_TABLES = ["heartbeats", "gpu_samples"] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

/** Hours created ahead of the current one. */
export const HOURS_AHEAD = 3;
const LOCK_TIMEOUT = "2s";
const ADVISORY_KEY = "switchyard.telemetry_partitions";

const NAME_RE = /^(heartbeats|gpu_samples)_p(\d{4})(\d{2})(\d{2})(\d{2})$/;
const HOUR_ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/;

export class PartitionError extends Error {
  readonly code = "partition_error" as const;
}

export type PartitionInfo = { table: PartitionedTable; name: string; from: Date; to: Date };

function assertTable(table: string): asserts table is PartitionedTable {
  if (!(PARTITIONED_TABLES as readonly string[]).includes(table)) {
    throw new PartitionError(`not a partitioned telemetry table: ${JSON.stringify(table)}`);
  }
}

function hourStart(t: number): number {
  const h = floorTo(t, HOUR_MS);
  const year = new Date(h).getUTCFullYear();
  // The name has room for four year digits; anything outside is a broken clock, not a reading.
  if (year < 2000 || year > 9999)
    throw new PartitionError(`timestamp out of range: ${new Date(t).toISOString()}`);
  return h;
}

/** `heartbeats` + 2026-11-26T20:13Z → `heartbeats_p2026112620`. */
export function partitionName(table: PartitionedTable, at: Date | number): string {
  assertTable(table);
  const d = new Date(hourStart(typeof at === "number" ? at : ms(at)));
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${table}_p${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}`;
}

/** Inverse of `partitionName`; null for names that are not ours (e.g. a hand-made partition). */
export function parsePartitionName(name: string): PartitionInfo | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const [, table, y, mo, d, h] = m;
  const from = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h));
  // Reject names like _p2026023125 that Date.UTC would silently roll over.
  if (partitionName(table as PartitionedTable, from) !== name) return null;
  return { table: table as PartitionedTable, name, from: new Date(from), to: new Date(from + HOUR_MS) };
}

/** All partitions of the telemetry tables that follow our naming, oldest first. */
export async function listPartitions(db: DbOrTx): Promise<PartitionInfo[]> {
  const rows = await db.execute<{ name: string }>(sql`
    select c.relname as name
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('heartbeats'::regclass, 'gpu_samples'::regclass)`);
  return rows
    .map((r) => parsePartitionName(r.name))
    .filter((p): p is PartitionInfo => p !== null)
    .sort((a, b) => a.from.getTime() - b.from.getTime() || a.name.localeCompare(b.name));
}

function createPartitionSql(table: PartitionedTable, from: number) {
  assertTable(table);
  const name = partitionName(table, from);
  const lo = new Date(from).toISOString();
  const hi = new Date(from + HOUR_MS).toISOString();
  if (!NAME_RE.test(name) || !HOUR_ISO_RE.test(lo) || !HOUR_ISO_RE.test(hi)) {
    throw new PartitionError(`refusing to build DDL for ${name} [${lo}, ${hi})`);
  }
  return {
    name,
    query: sql`create table if not exists ${sql.identifier(name)} partition of ${sql.identifier(table)} for values from (${sql.raw(`'${lo}'`)}) to (${sql.raw(`'${hi}'`)})`,
  };
}

/**
 * Runs partition DDL in its own transaction (a savepoint when `db` is already a transaction) under
 * the advisory lock and a short lock_timeout. The caller's lock_timeout is restored afterwards, so
 * a caller that passed its own transaction keeps its settings.
 */
async function withPartitionLock(db: DbOrTx, fn: (tx: Tx) => Promise<void>): Promise<void> {
  await db.transaction(async (tx) => {
    const [prev] = await tx.execute<{ v: string }>(sql`select current_setting('lock_timeout') as v`);
    await tx.execute(sql`select set_config('lock_timeout', ${LOCK_TIMEOUT}, true)`);
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${ADVISORY_KEY}))`);
    await fn(tx);
    await tx.execute(sql`select set_config('lock_timeout', ${prev?.v ?? "0"}, true)`);
  });
}

/**
 * Creates the partitions for the hours of `hours` in `tables` that do not exist yet. One catalog
 * read when nothing is missing (the common case on the insert path); DDL only for what is missing.
 */
export async function ensureHourPartitions(
  db: DbOrTx,
  tables: readonly PartitionedTable[],
  hours: Iterable<Date | number>,
): Promise<string[]> {
  const starts = new Set<number>();
  for (const h of hours) starts.add(hourStart(typeof h === "number" ? h : ms(h, "partition hour")));
  const wanted = new Map<string, { table: PartitionedTable; from: number }>();
  for (const table of tables) {
    assertTable(table);
    for (const from of starts) wanted.set(partitionName(table, from), { table, from });
  }
  if (wanted.size === 0) return [];
  const existing = await db.execute<{ name: string }>(sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('heartbeats'::regclass, 'gpu_samples'::regclass)
      and c.relname = any(${sql.param([...wanted.keys()])}::text[])`);
  for (const r of existing) wanted.delete(r.name);
  if (wanted.size === 0) return [];

  const missing = [...wanted.values()].sort((a, b) => a.from - b.from || a.table.localeCompare(b.table));
  const created: string[] = [];
  await withPartitionLock(db, async (tx) => {
    for (const { table, from } of missing) {
      const { name, query } = createPartitionSql(table, from);
      // Re-check under the lock: another process may have created it meanwhile.
      const [row] = await tx.execute<{ exists: boolean }>(
        sql`select to_regclass(${name}) is not null as exists`,
      );
      if (row?.exists) continue;
      await tx.execute(query);
      created.push(name);
    }
  });
  return created;
}

/**
 * Creates the partitions for the current hour and the next `HOURS_AHEAD`, plus the hour of each of
 * `extraHours` (e.g. the timestamps of rows about to be inserted), in both telemetry tables.
 * Idempotent; returns the names it created.
 */
export async function ensurePartitions(db: DbOrTx, now: Date, extraHours: Date[] = []): Promise<string[]> {
  const base = floorTo(ms(now, "now"), HOUR_MS);
  const hours: number[] = [];
  for (let i = 0; i <= HOURS_AHEAD; i++) hours.push(base + i * HOUR_MS);
  for (const h of extraHours) hours.push(ms(h, "extra hour"));
  return ensureHourPartitions(db, PARTITIONED_TABLES, hours);
}

/**
 * Drops whole partitions whose upper bound is at or before `now − rawRetentionHours`. Never
 * deletes rows. Returns the dropped names, oldest first. Partitions that do not follow our naming
 * are left alone.
 */
export async function dropExpiredPartitions(
  db: DbOrTx,
  now: Date,
  opts: { rawRetentionHours: number } = { rawRetentionHours: 48 },
): Promise<string[]> {
  const { rawRetentionHours } = opts;
  if (!Number.isInteger(rawRetentionHours) || rawRetentionHours < 1) {
    throw new PartitionError(`rawRetentionHours must be a positive integer, got ${rawRetentionHours}`);
  }
  const cutoff = ms(now, "now") - rawRetentionHours * HOUR_MS;
  const expired = (await listPartitions(db)).filter((p) => p.to.getTime() <= cutoff);
  const dropped: string[] = [];
  for (const p of expired) {
    if (!NAME_RE.test(p.name)) continue;
    // One transaction per partition: a lock timeout on one leaves the others dropped.
    await withPartitionLock(db, async (tx) => {
      await tx.execute(sql`drop table if exists ${sql.identifier(p.name)}`);
    });
    dropped.push(p.name);
  }
  return dropped;
}
