import { getDb } from "@/db/client";
import { errorResponse, jsonResponse, parseQuery } from "@/server/api/http";
import {
  AUDIT_CSV_ROW_CAP,
  AuditQueryError,
  AuditQuerySchema,
  auditCsvStream,
  auditExceedsCap,
  listAuditEntries,
  resolveAuditFilter,
} from "@/server/audit/queries";
import { withAuth } from "@/server/auth/guard";

export const dynamic = "force-dynamic";

/**
 * The audit log, filtered: a page as JSON (keyset on id, newest first), or with `format=csv` every
 * matching row (capped) streamed as a download.
 */
export const GET = withAuth("audit.read", async (request) => {
  const query = parseQuery(request, AuditQuerySchema);
  if (!query.ok) return query.response;
  const q = query.data;
  if (q.before !== undefined && q.after !== undefined) {
    return errorResponse(400, "invalid_query", "Give at most one of before and after.", [
      { path: "after", message: "cannot be combined with before" },
    ]);
  }
  const db = getDb();
  let filter: Awaited<ReturnType<typeof resolveAuditFilter>>;
  try {
    filter = await resolveAuditFilter(db, q);
  } catch (err) {
    if (err instanceof AuditQueryError) {
      return err.code === "unknown_cluster"
        ? errorResponse(404, "not_found", err.message)
        : errorResponse(400, "invalid_query", err.message, [{ path: "to", message: err.message }]);
    }
    throw err;
  }
  if (q.format === "csv") {
    const truncated = await auditExceedsCap(db, filter);
    const stamp = new Date().toISOString().replaceAll(/[:.]/g, "-");
    return new Response(auditCsvStream(db, filter), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="switchyard-audit-${stamp}.csv"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-row-cap": String(AUDIT_CSV_ROW_CAP),
        "x-truncated": truncated ? "true" : "false",
      },
    });
  }
  return jsonResponse(
    await listAuditEntries(db, filter, { before: q.before, after: q.after, limit: q.limit }),
  );
});
