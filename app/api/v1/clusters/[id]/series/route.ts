import { getDb } from "@/db/client";
import { errorResponse, jsonResponse, notFound, parseQuery } from "@/server/api/http";
import { withAuth } from "@/server/auth/guard";
import { getClusterSeries } from "@/server/cluster/queries";
import { ClusterSeriesQuerySchema } from "@/server/cluster/schemas";

export const dynamic = "force-dynamic";

/** A cluster's per-node latency and GPU series over 15m | 1h | 24h | 7d, downsampled in SQL. */
export const GET = withAuth<{ id: string }>("fleet.read", async (request, _actor, { params }) => {
  const { id } = await params;
  if (id.length > 200)
    return errorResponse(400, "invalid_path", "A cluster id or name is at most 200 characters.");
  const query = parseQuery(request, ClusterSeriesQuerySchema);
  if (!query.ok) return query.response;
  const series = await getClusterSeries(getDb(), id, query.data.range);
  if (!series) return notFound(`No cluster with id or name "${id}".`);
  return jsonResponse(series);
});
