import { getDb } from "@/db/client";
import { checkControlPlaneHealth } from "@/server/fleet/health";

export const dynamic = "force-dynamic";

export async function GET() {
  const health = await checkControlPlaneHealth(getDb());
  return Response.json(health, {
    status: health.status === "ok" ? 200 : 503,
    headers: { "cache-control": "no-store" },
  });
}
