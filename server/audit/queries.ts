// Read side of the audit log, for the audit page and `GET /api/v1/audit`: filtered pages (keyset on
// id, newest first), a streamed CSV export of a whole filter, and the hash chain's status.
//
// Filters: `actor` is the exact actor label (a user name, `token:<name>` or `controller`), `action`
// a prefix ("switchover." matches every switchover action; LIKE wildcards in it are literal),
// `cluster` an id or a name (an id is used as is, so rows of a deleted cluster stay findable),
// `from` inclusive and `to` exclusive on the row's time.
//
// Paging is keyset on id in both directions, so a link to a page stays valid while rows are
// appended: `before=N` is the page of rows older than N, `after=N` the page of rows newer than N.
// Each page says which cursors lead on (`older`, `newer`), null at either end.
//
// The chain check (verify.ts) walks the whole log, so its result is cached per process and per
// database for a minute, and concurrent callers share one walk.
//
// The CSV is RFC 4180 (CRLF, quotes doubled) and safe to open in a spreadsheet: a text cell that
// starts with = + - @ (or a tab / carriage return) is prefixed with a single quote so it is never
// evaluated as a formula (OWASP "CSV injection"). Actor labels, reasons and target ids come from
// users, so this matters.
import { and, asc, desc, eq, gt, gte, like, lt, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Db, DbOrTx } from "@/db/client";
import { auditLog, clusters } from "@/db/schema";
import { apiRegistry } from "@/server/api/schemas";
import { verifyAuditChain } from "./verify";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const AUDIT_PAGE_SIZE = 50;
export const AUDIT_MAX_PAGE_SIZE = 200;
/** The most rows one CSV export holds; the answer says when the filter matched more. */
export const AUDIT_CSV_ROW_CAP = 100_000;
export const AUDIT_CHAIN_MAX_AGE_MS = 60_000;

// --- the API contract ----------------------------------------------------------------------------

const isoTime = z.iso.datetime();
const cursor = z
  .string()
  .regex(/^\d{1,15}$/, { error: "must be a row id (a positive integer)" })
  .transform(Number);

export const AuditQuerySchema = z.object({
  actor: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .describe("Exact actor: a user name, `token:<name>` or `controller`."),
  action: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .describe("Action prefix, e.g. `switchover.` or `auth.login`."),
  cluster: z.string().trim().min(1).max(200).optional().describe("Only this cluster's rows (id or name)."),
  from: z.iso
    .datetime({ offset: true, error: "from must be an ISO 8601 time, e.g. 2026-03-10T12:00:00Z" })
    .optional()
    .describe("Rows at or after this time (ISO 8601)."),
  to: z.iso
    .datetime({ offset: true, error: "to must be an ISO 8601 time, e.g. 2026-03-11T00:00:00Z" })
    .optional()
    .describe("Rows before this time (ISO 8601)."),
  before: cursor
    .optional()
    .describe("Keyset cursor: the page of rows older than this id (`older` of a page)."),
  after: cursor
    .optional()
    .describe("Keyset cursor: the page of rows newer than this id (`newer` of a page)."),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, { error: `limit must be an integer 1..${AUDIT_MAX_PAGE_SIZE}` })
    .transform(Number)
    .pipe(z.number().int().min(1, "limit must be at least 1").max(AUDIT_MAX_PAGE_SIZE))
    .optional()
    .describe(`Rows per page (default ${AUDIT_PAGE_SIZE}, at most ${AUDIT_MAX_PAGE_SIZE}).`),
  format: z
    .enum(["json", "csv"], { error: "format must be json or csv" })
    .default("json")
    .describe(
      `\`csv\` streams every row the filter matches (newest first, at most ${AUDIT_CSV_ROW_CAP.toLocaleString("en-US")}) as a download; \`before\`, \`after\` and \`limit\` are ignored.`,
    ),
});
export type AuditQuery = z.output<typeof AuditQuerySchema>;

export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: isoTime,
    actorUserId: z.uuid().nullable(),
    actorLabel: z.string().describe("User name, `token:<name>`, or `controller`."),
    actorRole: z.string(),
    address: z.string().nullable().describe("The caller's address, when there was one."),
    action: z.string(),
    targetType: z.string(),
    targetId: z.string().nullable(),
    clusterId: z.uuid().nullable(),
    clusterName: z.string().nullable().describe("null when the row names no cluster or it was deleted."),
    reason: z.string().nullable(),
    before: z.unknown().describe("The target before the change (JSON), or null."),
    after: z.unknown().describe("The target after the change (JSON), or null."),
    epoch: z.number().int().nullable(),
    prevHash: z.string(),
    hash: z.string(),
  })
  .register(apiRegistry, { id: "AuditEntry", description: "One row of the append-only audit log." });
export type AuditEntryView = Omit<z.infer<typeof AuditEntrySchema>, "before" | "after"> & {
  before: unknown;
  after: unknown;
};

export const AuditPageSchema = z
  .object({
    items: z.array(AuditEntrySchema).describe("Newest first."),
    older: z
      .number()
      .int()
      .nullable()
      .describe("Pass as `before` for the next (older) page; null at the end."),
    newer: z
      .number()
      .int()
      .nullable()
      .describe("Pass as `after` for the previous (newer) page; null at the start."),
    limit: z.number().int(),
  })
  .register(apiRegistry, { id: "AuditPage" });
export type AuditPage = Omit<z.infer<typeof AuditPageSchema>, "items"> & { items: AuditEntryView[] };

export const AuditChainStatusSchema = z
  .object({
    verified: z.boolean().describe("Every row's hash and link checked out."),
    rows: z.number().int().describe("Rows checked (up to and including the first bad one)."),
    head: z
      .string()
      .nullable()
      .describe("The last row's hash when verified: keep it elsewhere to detect truncation."),
    firstBadId: z.number().int().nullable().describe("The first row that does not verify."),
    reason: z.string().nullable(),
    checkedAt: isoTime.describe(`When the chain was walked (cached for ${AUDIT_CHAIN_MAX_AGE_MS / 1000} s).`),
  })
  .register(apiRegistry, { id: "AuditChainStatus", description: "The audit log's hash chain, checked." });
export type AuditChainStatus = z.infer<typeof AuditChainStatusSchema>;

// --- filters -------------------------------------------------------------------------------------

export type AuditFilter = {
  actor?: string;
  action?: string;
  clusterId?: string;
  from?: Date;
  to?: Date;
};

export class AuditQueryError extends Error {
  constructor(
    readonly code: "unknown_cluster" | "invalid_range",
    message: string,
  ) {
    super(message);
  }
}

/** LIKE pattern for "starts with `prefix`": %, _ and \ in the prefix match themselves. */
export function likePrefix(prefix: string): string {
  return `${prefix.replaceAll(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The domain filter for an API query: the cluster resolved (by name, or an id as is), times parsed. */
export async function resolveAuditFilter(
  db: DbOrTx,
  q: Pick<AuditQuery, "actor" | "action" | "cluster" | "from" | "to">,
): Promise<AuditFilter> {
  const filter: AuditFilter = {};
  if (q.actor) filter.actor = q.actor;
  if (q.action) filter.action = q.action;
  if (q.from) filter.from = new Date(q.from);
  if (q.to) filter.to = new Date(q.to);
  if (filter.from && filter.to && filter.from.getTime() >= filter.to.getTime()) {
    throw new AuditQueryError("invalid_range", "from must be before to.");
  }
  if (q.cluster) {
    if (UUID_RE.test(q.cluster)) filter.clusterId = q.cluster.toLowerCase();
    else {
      const [row] = await db.select({ id: clusters.id }).from(clusters).where(eq(clusters.name, q.cluster));
      if (!row) throw new AuditQueryError("unknown_cluster", `No cluster with id or name "${q.cluster}".`);
      filter.clusterId = row.id;
    }
  }
  return filter;
}

function conditions(f: AuditFilter): SQL[] {
  const out: SQL[] = [];
  if (f.actor !== undefined) out.push(eq(auditLog.actorLabel, f.actor));
  if (f.action !== undefined) out.push(like(auditLog.action, likePrefix(f.action)));
  if (f.clusterId !== undefined) out.push(eq(auditLog.clusterId, f.clusterId));
  if (f.from !== undefined) out.push(gte(auditLog.at, f.from));
  if (f.to !== undefined) out.push(lt(auditLog.at, f.to));
  return out;
}

const columns = {
  id: auditLog.id,
  at: auditLog.at,
  actorUserId: auditLog.actorUserId,
  actorLabel: auditLog.actorLabel,
  actorRole: auditLog.actorRole,
  address: auditLog.address,
  action: auditLog.action,
  targetType: auditLog.targetType,
  targetId: auditLog.targetId,
  clusterId: auditLog.clusterId,
  clusterName: clusters.name,
  reason: auditLog.reason,
  before: auditLog.before,
  after: auditLog.after,
  epoch: auditLog.epoch,
  prevHash: auditLog.prevHash,
  hash: auditLog.hash,
};

function selectEntries(db: DbOrTx) {
  return db.select(columns).from(auditLog).leftJoin(clusters, eq(clusters.id, auditLog.clusterId));
}

type Row = Awaited<ReturnType<typeof selectEntries>>[number];

function toView(r: Row): AuditEntryView {
  return { ...r, at: r.at.toISOString(), clusterName: r.clusterName ?? null };
}

async function exists(db: DbOrTx, where: SQL[]): Promise<boolean> {
  const [row] = await db
    .select({ id: auditLog.id })
    .from(auditLog)
    .where(and(...where))
    .limit(1);
  return row !== undefined;
}

/**
 * One page of the log matching `filter`, newest first. `before` / `after` are keyset cursors (row
 * ids); give at most one. Each page costs one query plus one existence check for the other end.
 */
export async function listAuditEntries(
  db: DbOrTx,
  filter: AuditFilter,
  page: { before?: number; after?: number; limit?: number } = {},
): Promise<AuditPage> {
  const limit = Math.min(AUDIT_MAX_PAGE_SIZE, Math.max(1, Math.floor(page.limit ?? AUDIT_PAGE_SIZE)));
  const base = conditions(filter);
  if (page.after !== undefined) {
    // Newer rows: walk up from the cursor, then present newest first like every page.
    const rows = await selectEntries(db)
      .where(and(...base, gt(auditLog.id, page.after)))
      .orderBy(asc(auditLog.id))
      .limit(limit + 1);
    const more = rows.length > limit;
    const items = rows.slice(0, limit).reverse().map(toView);
    // Rows older than this page: below its oldest row, or (an empty page) at or below the cursor.
    const edge = items.at(-1)?.id ?? page.after + 1;
    return {
      items,
      newer: more ? (items[0]?.id ?? null) : null,
      older: (await exists(db, [...base, lt(auditLog.id, edge)])) ? edge : null,
      limit,
    };
  }
  const rows = await selectEntries(db)
    .where(and(...base, page.before !== undefined ? lt(auditLog.id, page.before) : undefined))
    .orderBy(desc(auditLog.id))
    .limit(limit + 1);
  const more = rows.length > limit;
  const items = rows.slice(0, limit).map(toView);
  const first = items[0];
  let newer: number | null = null;
  if (page.before !== undefined) {
    // Rows newer than this page: above its newest row, or (an empty page) at or above the cursor.
    const edge = first ? first.id : page.before - 1;
    if (await exists(db, [...base, gt(auditLog.id, edge)])) newer = edge;
  }
  return { items, newer, older: more ? (items.at(-1)?.id ?? null) : null, limit };
}

// --- CSV -----------------------------------------------------------------------------------------

export type CsvValue = string | number | boolean | null | undefined;

/**
 * One CSV field. Text that a spreadsheet would evaluate (= + - @, or a leading tab / CR, which
 * some spreadsheets strip before looking) gets a leading single quote; fields with a comma, a quote,
 * a line break or edge whitespace are quoted with inner quotes doubled. Numbers and booleans are
 * written as they are (a negative number is data, not a formula).
 */
export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (typeof value === "boolean") return value ? "true" : "false";
  let s = value;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  if (/[",\r\n]/.test(s) || /^\s|\s$/.test(s)) s = `"${s.replaceAll('"', '""')}"`;
  return s;
}

/** One CSV record, CRLF-terminated (RFC 4180). */
export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvCell).join(",")}\r\n`;
}

const CSV_HEADER = [
  "id",
  "at",
  "actor",
  "actor_role",
  "address",
  "action",
  "target_type",
  "target_id",
  "cluster_id",
  "cluster",
  "reason",
  "epoch",
  "before",
  "after",
  "prev_hash",
  "hash",
] as const;

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

function csvRecord(r: Row): string {
  return csvLine([
    r.id,
    r.at.toISOString(),
    r.actorLabel,
    r.actorRole,
    r.address,
    r.action,
    r.targetType,
    r.targetId,
    r.clusterId,
    r.clusterName,
    r.reason,
    r.epoch,
    json(r.before),
    json(r.after),
    r.prevHash,
    r.hash,
  ]);
}

/** Whether `filter` matches more than `cap` rows (one index-ordered probe, no full count). */
export async function auditExceedsCap(
  db: DbOrTx,
  filter: AuditFilter,
  cap = AUDIT_CSV_ROW_CAP,
): Promise<boolean> {
  const [row] = await db
    .select({ id: auditLog.id })
    .from(auditLog)
    .where(and(...conditions(filter)))
    .orderBy(desc(auditLog.id))
    .offset(cap)
    .limit(1);
  return row !== undefined;
}

/**
 * Every row matching `filter`, newest first, as a CSV byte stream with a header line, read a page
 * at a time as the consumer pulls (memory stays bounded; a client that goes away stops the reads),
 * at most `maxRows` rows.
 */
export function auditCsvStream(
  db: DbOrTx,
  filter: AuditFilter,
  opts: { maxRows?: number; pageSize?: number } = {},
): ReadableStream<Uint8Array> {
  const maxRows = opts.maxRows ?? AUDIT_CSV_ROW_CAP;
  const pageSize = Math.max(1, opts.pageSize ?? 1000);
  const encoder = new TextEncoder();
  const base = conditions(filter);
  let before: number | null = null;
  let sent = 0;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (!started) {
            started = true;
            controller.enqueue(encoder.encode(csvLine(CSV_HEADER)));
            return;
          }
          const want = Math.min(pageSize, maxRows - sent);
          if (want <= 0) return controller.close();
          const rows = await selectEntries(db)
            .where(and(...base, before === null ? undefined : lt(auditLog.id, before)))
            .orderBy(desc(auditLog.id))
            .limit(want);
          if (rows.length > 0) controller.enqueue(encoder.encode(rows.map(csvRecord).join("")));
          sent += rows.length;
          before = rows.at(-1)?.id ?? before;
          if (rows.length < want || sent >= maxRows) controller.close();
        } catch (err) {
          controller.error(err);
        }
      },
    },
    { highWaterMark: 1 },
  );
}

// --- the hash chain ------------------------------------------------------------------------------

type ChainCacheEntry = {
  value?: { status: AuditChainStatus; at: number };
  inflight?: Promise<AuditChainStatus>;
};
const chainCache = new WeakMap<object, ChainCacheEntry>();

/**
 * The chain's status from `verifyAuditChain`, walked at most once per `maxAgeMs` per database
 * handle in this process; concurrent callers share the walk in progress. A failed walk (database
 * error) is not cached.
 */
export async function auditChainStatus(
  db: Db,
  opts: { maxAgeMs?: number; now?: () => number } = {},
): Promise<AuditChainStatus> {
  const maxAge = opts.maxAgeMs ?? AUDIT_CHAIN_MAX_AGE_MS;
  const now = opts.now ?? Date.now;
  let entry = chainCache.get(db);
  if (!entry) {
    entry = {};
    chainCache.set(db, entry);
  }
  if (entry.value && now() - entry.value.at < maxAge) return entry.value.status;
  if (entry.inflight) return entry.inflight;
  const e = entry;
  const walk = (async () => {
    const result = await verifyAuditChain(db);
    const at = now();
    const status: AuditChainStatus = result.ok
      ? {
          verified: true,
          rows: result.rows,
          head: result.head,
          firstBadId: null,
          reason: null,
          checkedAt: new Date(at).toISOString(),
        }
      : {
          verified: false,
          rows: result.rows,
          head: null,
          firstBadId: result.firstBadId,
          reason: result.reason,
          checkedAt: new Date(at).toISOString(),
        };
    e.value = { status, at };
    return status;
  })();
  e.inflight = walk;
  try {
    return await walk;
  } finally {
    e.inflight = undefined;
  }
}

/** Forgets the cached chain status of `db` (tests; after a repair). */
export function forgetAuditChainStatus(db: Db): void {
  chainCache.delete(db);
}

/** The clusters the audit page's filter offers, by name. */
export async function auditClusterOptions(db: DbOrTx): Promise<Array<{ id: string; name: string }>> {
  return await db.select({ id: clusters.id, name: clusters.name }).from(clusters).orderBy(asc(clusters.name));
}
