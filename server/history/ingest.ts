// Batched, fenced writes of raw telemetry. The controller collects one tick's probe results and GPU
// samples in memory (decisions never read them back from the database) and hands them here.
//
// One INSERT per call, whatever the batch size: every column travels as one array parameter and
// `unnest` turns the arrays back into rows, so 5,000 rows are one round trip, one plan and a fixed
// number of bind parameters (a multi-row VALUES list would hit the 65,535-parameter limit at ~7,000
// heartbeats and re-plan for every batch size).
//
// Fencing: the INSERT only produces rows while `controller_lease` still holds the caller's epoch. The
// lease row is read `FOR SHARE`, so a takeover that commits first makes the check fail (READ
// COMMITTED re-evaluates the locked row), and a takeover that starts later waits for this insert.
// A deposed leader therefore writes nothing and learns it from `fenced: true`. (It may still create
// an empty hour partition for its rows first; that is harmless and retention drops it.)
//
// Values are sanitised before they leave the process: NaN and ±Infinity become NULL (the tables'
// CHECK constraints reject them too), NUL characters are stripped from text (Postgres text cannot
// hold them and a node's error output may contain them), error text is truncated, and a row that
// cannot be stored (bad timestamp, bad node id, bad GPU index) fails the whole call before any SQL.
import { sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { ensureHourPartitions } from "./partitions";
import { floorTo, HOUR_MS } from "./time";

export type HeartbeatRow = {
  time: Date;
  nodeId: string;
  tcpOk: boolean;
  tcpMs: number | null;
  httpOk: boolean;
  httpStatus: number | null;
  httpMs: number | null;
  reportedRole: string | null;
  error: string | null;
};

export type GpuSampleRow = {
  time: Date;
  nodeId: string;
  gpuIndex: number;
  utilizationPct: number | null;
  memoryUsedMib: number | null;
  memoryTotalMib: number | null;
  temperatureC: number | null;
  powerW: number | null;
  error: string | null;
};

/** The lease name and epoch the writing controller believes it holds. */
export type Fence = { leaseName: string; epoch: number };

export type InsertResult = { inserted: number; fenced: boolean };

export class InvalidTelemetryRowError extends Error {
  readonly code = "invalid_telemetry_row" as const;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TEXT = 1024;
const SMALLINT_MAX = 32767;

/** Finite number or null. */
export function finiteOrNull(x: number | null | undefined): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

function text(x: string | null | undefined): string | null {
  if (x === null || x === undefined) return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping NUL is the point
  const clean = String(x).replace(/\u0000/g, "");
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT - 1)}…` : clean;
}

function smallintOrNull(x: number | null | undefined): number | null {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= SMALLINT_MAX ? x : null;
}

function iso(time: Date, i: number): string {
  const t = time instanceof Date ? time.getTime() : Number.NaN;
  if (!Number.isFinite(t)) throw new InvalidTelemetryRowError(`row ${i}: time is not a valid date`);
  return new Date(t).toISOString();
}

function nodeId(id: string, i: number): string {
  if (typeof id !== "string" || !UUID_RE.test(id)) {
    throw new InvalidTelemetryRowError(`row ${i}: nodeId is not a UUID`);
  }
  return id;
}

/** Numbers and booleans travel as text arrays and are cast in SQL: the driver infers an array
 * parameter's type from its first element, which is wrong for booleans and timestamps. */
function num(x: number | null): string | null {
  return x === null ? null : String(x);
}

function fenceCheck(fence: Fence) {
  if (typeof fence.leaseName !== "string" || !Number.isSafeInteger(fence.epoch)) {
    throw new InvalidTelemetryRowError("fence needs a lease name and an integer epoch");
  }
  return sql`exists (select 1 from controller_lease where name = ${fence.leaseName} and epoch = ${fence.epoch}::bigint for share)`;
}

function result(rows: number, inserted: number): InsertResult {
  return { inserted, fenced: rows > 0 && inserted === 0 };
}

/**
 * Inserts a batch of heartbeats in one statement, only if `fence` still holds the lease. Creates
 * the hour partitions the rows need if they are missing. An empty batch touches nothing and is
 * never reported as fenced.
 */
export async function insertHeartbeats(
  db: DbOrTx,
  rows: HeartbeatRow[],
  fence: Fence,
): Promise<InsertResult> {
  if (rows.length === 0) return { inserted: 0, fenced: false };
  const cols = {
    time: [] as string[],
    nodeId: [] as string[],
    tcpOk: [] as string[],
    tcpMs: [] as (string | null)[],
    httpOk: [] as string[],
    httpStatus: [] as (string | null)[],
    httpMs: [] as (string | null)[],
    reportedRole: [] as (string | null)[],
    error: [] as (string | null)[],
  };
  const hours = new Set<number>();
  rows.forEach((r, i) => {
    const t = iso(r.time, i);
    hours.add(floorTo(r.time.getTime(), HOUR_MS));
    cols.time.push(t);
    cols.nodeId.push(nodeId(r.nodeId, i));
    cols.tcpOk.push(r.tcpOk === true ? "t" : "f");
    cols.tcpMs.push(num(finiteOrNull(r.tcpMs)));
    cols.httpOk.push(r.httpOk === true ? "t" : "f");
    cols.httpStatus.push(num(smallintOrNull(r.httpStatus)));
    cols.httpMs.push(num(finiteOrNull(r.httpMs)));
    cols.reportedRole.push(text(r.reportedRole));
    cols.error.push(text(r.error));
  });
  const where = fenceCheck(fence);
  await ensureHourPartitions(db, ["heartbeats"], hours);
  const res = await db.execute(sql`
    insert into heartbeats (time, node_id, tcp_ok, tcp_ms, http_ok, http_status, http_ms, reported_role, error)
    select * from unnest(
      ${sql.param(cols.time)}::text[]::timestamptz[],
      ${sql.param(cols.nodeId)}::text[]::uuid[],
      ${sql.param(cols.tcpOk)}::text[]::boolean[],
      ${sql.param(cols.tcpMs)}::text[]::float8[],
      ${sql.param(cols.httpOk)}::text[]::boolean[],
      ${sql.param(cols.httpStatus)}::text[]::int2[],
      ${sql.param(cols.httpMs)}::text[]::float8[],
      ${sql.param(cols.reportedRole)}::text[],
      ${sql.param(cols.error)}::text[]
    )
    where ${where}`);
  return result(rows.length, res.count);
}

/**
 * Inserts a batch of GPU samples in one statement, only if `fence` still holds the lease. A row with
 * `error` set is a "telemetry lost" marker; its readings are stored as given (normally null).
 */
export async function insertGpuSamples(
  db: DbOrTx,
  rows: GpuSampleRow[],
  fence: Fence,
): Promise<InsertResult> {
  if (rows.length === 0) return { inserted: 0, fenced: false };
  const cols = {
    time: [] as string[],
    nodeId: [] as string[],
    gpuIndex: [] as string[],
    util: [] as (string | null)[],
    memUsed: [] as (string | null)[],
    memTotal: [] as (string | null)[],
    temp: [] as (string | null)[],
    power: [] as (string | null)[],
    error: [] as (string | null)[],
  };
  const hours = new Set<number>();
  rows.forEach((r, i) => {
    const t = iso(r.time, i);
    hours.add(floorTo(r.time.getTime(), HOUR_MS));
    const gpu = smallintOrNull(r.gpuIndex);
    if (gpu === null)
      throw new InvalidTelemetryRowError(`row ${i}: gpuIndex must be an integer 0..${SMALLINT_MAX}`);
    cols.time.push(t);
    cols.nodeId.push(nodeId(r.nodeId, i));
    cols.gpuIndex.push(String(gpu));
    cols.util.push(num(finiteOrNull(r.utilizationPct)));
    cols.memUsed.push(num(finiteOrNull(r.memoryUsedMib)));
    cols.memTotal.push(num(finiteOrNull(r.memoryTotalMib)));
    cols.temp.push(num(finiteOrNull(r.temperatureC)));
    cols.power.push(num(finiteOrNull(r.powerW)));
    cols.error.push(text(r.error));
  });
  const where = fenceCheck(fence);
  await ensureHourPartitions(db, ["gpu_samples"], hours);
  const res = await db.execute(sql`
    insert into gpu_samples (time, node_id, gpu_index, utilization_pct, memory_used_mib, memory_total_mib, temperature_c, power_w, error)
    select * from unnest(
      ${sql.param(cols.time)}::text[]::timestamptz[],
      ${sql.param(cols.nodeId)}::text[]::uuid[],
      ${sql.param(cols.gpuIndex)}::text[]::int2[],
      ${sql.param(cols.util)}::text[]::float8[],
      ${sql.param(cols.memUsed)}::text[]::float8[],
      ${sql.param(cols.memTotal)}::text[]::float8[],
      ${sql.param(cols.temp)}::text[]::float8[],
      ${sql.param(cols.power)}::text[]::float8[],
      ${sql.param(cols.error)}::text[]
    )
    where ${where}`);
  return result(rows.length, res.count);
}
