import { getDb } from "@/db/client";
import { withAuth } from "@/server/auth/guard";
import { listFleetOverview } from "@/server/fleet/queries";

export const dynamic = "force-dynamic";

export const GET = withAuth("fleet.read", async () => {
  const overview = await listFleetOverview(getDb());
  return Response.json(overview, { headers: { "cache-control": "no-store" } });
});
