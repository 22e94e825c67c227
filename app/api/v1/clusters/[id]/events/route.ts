import { getDb } from "@/db/client";
import { errorResponse, jsonResponse, notFound, parseQuery } from "@/server/api/http";
import { withAuth } from "@/server/auth/guard";
import { listClusterEvents } from "@/server/cluster/queries";
import { ClusterEventsQuerySchema } from "@/server/cluster/schemas";

export const dynamic = "force-dynamic";

/** A cluster's latest events (state changes, switchovers, alerts), newest first. */
export const GET = withAuth<{ id: string }>("fleet.read", async (request, _actor, { params }) => {
  const { id } = await params;
  if (id.length > 200)
    return errorResponse(400, "invalid_path", "A cluster id or name is at most 200 characters.");
  const query = parseQuery(request, ClusterEventsQuerySchema);
  if (!query.ok) return query.response;
  const list = await listClusterEvents(getDb(), id, query.data.limit);
  if (!list) return notFound(`No cluster with id or name "${id}".`);
  return jsonResponse(list);
});
