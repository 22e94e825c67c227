import { getDb } from "@/db/client";
import { listClusters } from "@/server/api/clusters";
import { jsonResponse } from "@/server/api/http";
import type { ClusterList } from "@/server/api/schemas";
import { withAuth } from "@/server/auth/guard";

export const dynamic = "force-dynamic";

/** Every cluster with its status, primary and epoch. */
export const GET = withAuth("fleet.read", async () => {
  const body: ClusterList = { items: await listClusters(getDb()), generatedAt: new Date().toISOString() };
  return jsonResponse(body);
});
