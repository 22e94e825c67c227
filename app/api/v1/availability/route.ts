import { getDb } from "@/db/client";
import { availabilityReport } from "@/server/api/availability";
import { findClusterRef } from "@/server/api/clusters";
import { jsonResponse, notFound, parseQuery } from "@/server/api/http";
import { AvailabilityQuerySchema } from "@/server/api/schemas";
import { withAuth } from "@/server/auth/guard";

export const dynamic = "force-dynamic";

/** Availability per cluster against its SLA over the last 7, 30 or 90 days (`?days=`, default 30). */
export const GET = withAuth("fleet.read", async (request) => {
  const query = parseQuery(request, AvailabilityQuerySchema);
  if (!query.ok) return query.response;
  const db = getDb();
  let clusterId: string | undefined;
  if (query.data.cluster) {
    const ref = await findClusterRef(db, query.data.cluster);
    if (!ref) return notFound(`No cluster with id or name "${query.data.cluster}".`);
    clusterId = ref.id;
  }
  return jsonResponse(await availabilityReport(db, { days: query.data.days, clusterId }));
});
