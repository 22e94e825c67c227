// Query keys, URL parameters and fetchers for the audit page, shared by its server prefetch and
// its client components so both use the same cache entry. The filter lives in the page's URL
// (links and the back button keep it); the API validates it (server/audit/queries.ts).
import type { AuditChainStatus, AuditPage } from "@/server/audit/queries";

export const AUDIT_PARAMS = ["actor", "action", "cluster", "from", "to", "before", "after"] as const;
export type AuditParam = (typeof AUDIT_PARAMS)[number];
/** The page's filter and cursor as they appear in its URL (absent = not set). */
export type AuditParams = Partial<Record<AuditParam, string>>;

type Source =
  | URLSearchParams
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;

function read(source: Source, key: string): string | undefined {
  let v: string | string[] | null | undefined;
  if (typeof (source as URLSearchParams).get === "function") v = (source as URLSearchParams).get(key);
  else v = (source as Record<string, string | string[] | undefined>)[key];
  const first = Array.isArray(v) ? v[0] : v;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}

/** The known parameters of a URL's query (first value of each, trimmed, empty dropped). */
export function auditParamsFrom(source: Source): AuditParams {
  const out: AuditParams = {};
  for (const key of AUDIT_PARAMS) {
    const v = read(source, key);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Only the filter (no cursor): what a CSV export and "newest" use. */
export function auditFilterOnly(p: AuditParams): AuditParams {
  const { before: _b, after: _a, ...rest } = p;
  return rest;
}

export function auditSearch(p: AuditParams, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const key of AUDIT_PARAMS) {
    const v = p[key];
    if (v) q.set(key, v);
  }
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q.toString();
}

export const auditPageKey = (p: AuditParams) => ["audit", "page", p] as const;
export const auditChainKey = ["audit", "chain"] as const;

/** What the chain badge shows: the status, or why it could not be checked. */
export type AuditChainBadgeData = AuditChainStatus | { error: string };

export function auditCsvHref(p: AuditParams): string {
  return `/api/v1/audit?${auditSearch(auditFilterOnly(p), { format: "csv" })}`;
}

async function failure(res: Response, what: string): Promise<Error> {
  let message = `${what} (HTTP ${res.status})`;
  try {
    const body = (await res.json()) as { message?: unknown };
    if (typeof body.message === "string") message = `${what}: ${body.message}`;
  } catch {
    // not JSON: keep the status line
  }
  return new Error(message);
}

export async function fetchAuditPage(p: AuditParams): Promise<AuditPage> {
  const res = await fetch(`/api/v1/audit?${auditSearch(p)}`, { cache: "no-store" });
  if (!res.ok) throw await failure(res, "The audit log could not be loaded");
  return (await res.json()) as AuditPage;
}

/** Never throws: a failed check is shown on the badge, not as a page error. */
export async function fetchAuditChain(): Promise<AuditChainBadgeData> {
  try {
    const res = await fetch("/api/v1/audit/chain", { cache: "no-store" });
    if (!res.ok) return { error: (await failure(res, "Could not check the chain")).message };
    return (await res.json()) as AuditChainStatus;
  } catch {
    return { error: "Could not check the chain: the server did not answer." };
  }
}
