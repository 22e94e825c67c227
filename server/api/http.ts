// Helpers shared by the `/api/v1` route handlers: one JSON error shape for every failure
// (`{ error, message, issues? }`, the same shape withAuth uses for 401/403 and the OpenAPI document
// declares as `Error`), query-string validation with zod, and no-store JSON responses.
import type { z } from "zod";

export type ApiIssue = { path: string; message: string };
export type ApiErrorBody = { error: string; message: string; issues?: ApiIssue[] };

const NO_STORE = { "cache-control": "no-store" } as const;

/** A JSON response that no cache (browser, proxy) may keep: API answers describe live state. */
export function jsonResponse(body: unknown, init: { status?: number } = {}): Response {
  return Response.json(body, { status: init.status ?? 200, headers: NO_STORE });
}

export function errorResponse(status: number, error: string, message: string, issues?: ApiIssue[]): Response {
  const body: ApiErrorBody = issues ? { error, message, issues } : { error, message };
  return Response.json(body, { status, headers: NO_STORE });
}

export function notFound(message: string): Response {
  return errorResponse(404, "not_found", message);
}

export function issuesOf(error: z.ZodError): ApiIssue[] {
  return error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

/**
 * Validates the query string against `schema` (an object schema over string values). A repeated
 * parameter keeps its first value. Bad input answers 400 with the issues; the caller returns it.
 */
export function parseQuery<S extends z.ZodType>(
  request: Request,
  schema: S,
): { ok: true; data: z.output<S> } | { ok: false; response: Response } {
  const params = new URL(request.url).searchParams;
  const raw: Record<string, string> = {};
  for (const [k, v] of params) if (!(k in raw)) raw[k] = v;
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, data: parsed.data };
  return {
    ok: false,
    response: errorResponse(400, "invalid_query", "Invalid query parameters.", issuesOf(parsed.error)),
  };
}
