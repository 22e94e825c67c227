import { getDb } from "@/db/client";
import { findClusterRef } from "@/server/api/clusters";
import { jsonResponse, notFound, parseQuery } from "@/server/api/http";
import { listNodes } from "@/server/api/nodes";
import { type NodeList, NodesQuerySchema } from "@/server/api/schemas";
import { withAuth } from "@/server/auth/guard";

export const dynamic = "force-dynamic";

/** Every node (optionally one cluster's, or in one state) with its cluster, endpoint and verdict. */
export const GET = withAuth("fleet.read", async (request) => {
  const query = parseQuery(request, NodesQuerySchema);
  if (!query.ok) return query.response;
  const db = getDb();
  let clusterId: string | undefined;
  if (query.data.cluster) {
    const ref = await findClusterRef(db, query.data.cluster);
    if (!ref) return notFound(`No cluster with id or name "${query.data.cluster}".`);
    clusterId = ref.id;
  }
  const body: NodeList = {
    items: await listNodes(db, { clusterId, state: query.data.state }),
    generatedAt: new Date().toISOString(),
  };
  return jsonResponse(body);
});
