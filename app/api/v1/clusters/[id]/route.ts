import { getDb } from "@/db/client";
import { getClusterDetail } from "@/server/api/clusters";
import { errorResponse, jsonResponse, notFound } from "@/server/api/http";
import { withAuth } from "@/server/auth/guard";

export const dynamic = "force-dynamic";

/** One cluster, by id or by name, with its nodes, policy and load balancer (never credentials). */
export const GET = withAuth<{ id: string }>("fleet.read", async (_request, _actor, { params }) => {
  const { id } = await params;
  if (id.length > 200)
    return errorResponse(400, "invalid_path", "A cluster id or name is at most 200 characters.");
  const detail = await getClusterDetail(getDb(), id);
  if (!detail) return notFound(`No cluster with id or name "${id}".`);
  return jsonResponse(detail);
});
