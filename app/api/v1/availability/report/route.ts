import { getDb } from "@/db/client";
import { findClusterRef } from "@/server/api/clusters";
import { jsonResponse, notFound, parseQuery } from "@/server/api/http";
import { withAuth } from "@/server/auth/guard";
import { availabilityCsv } from "@/server/availability/csv";
import { buildAvailabilityReport } from "@/server/availability/report";
import { AvailabilityReportQuerySchema } from "@/server/availability/schemas";

export const dynamic = "force-dynamic";

/**
 * The availability report (7 / 30 / 90 days per cluster, daily cells, incidents, failovers), as
 * JSON or as one CSV table to download.
 */
export const GET = withAuth("fleet.read", async (request) => {
  const query = parseQuery(request, AvailabilityReportQuerySchema);
  if (!query.ok) return query.response;
  const db = getDb();
  let clusterId: string | undefined;
  if (query.data.cluster) {
    const ref = await findClusterRef(db, query.data.cluster);
    if (!ref) return notFound(`No cluster with id or name "${query.data.cluster}".`);
    clusterId = ref.id;
  }
  if (query.data.format === "json") return jsonResponse(await buildAvailabilityReport(db, { clusterId }));
  const report = await buildAvailabilityReport(db, { clusterId, maxIncidents: Number.POSITIVE_INFINITY });
  const day = report.generatedAt.slice(0, 10);
  return new Response(availabilityCsv(report, query.data.table), {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="switchyard-availability-${query.data.table}-${day}.csv"`,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
});
