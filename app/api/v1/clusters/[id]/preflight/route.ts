import { getDb } from "@/db/client";
import { errorResponse, jsonResponse, notFound } from "@/server/api/http";
import { withAuth } from "@/server/auth/guard";
import { computePreflight } from "@/server/switchover/preflight";

export const dynamic = "force-dynamic";

/** What to know before a manual switchover of one cluster (by id or name): checks, ok / warn / block. */
export const GET = withAuth<{ id: string }>("fleet.read", async (_request, _actor, { params }) => {
  const { id } = await params;
  if (id.length > 200)
    return errorResponse(400, "invalid_path", "A cluster id or name is at most 200 characters.");
  const preflight = await computePreflight(getDb(), id);
  if (!preflight) return notFound(`No cluster with id or name "${id}".`);
  return jsonResponse(preflight);
});
