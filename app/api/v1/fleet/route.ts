import { getDb } from "@/db/client";
import { listFleetOverview } from "@/server/fleet/queries";

export const dynamic = "force-dynamic";

export async function GET() {
  const overview = await listFleetOverview(getDb());
  return Response.json(overview, { headers: { "cache-control": "no-store" } });
}
