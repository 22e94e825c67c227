import { getDb } from "@/db/client";
import { listSwitchovers } from "@/server/switchover/queries";

export const dynamic = "force-dynamic";

export async function GET(request: Request) {
  const url = new URL(request.url);
  const limit = Number(url.searchParams.get("limit") ?? 50);
  const items = await listSwitchovers(getDb(), {
    clusterId: url.searchParams.get("cluster") ?? undefined,
    limit: Number.isFinite(limit) ? limit : 50,
  });
  return Response.json({ items }, { headers: { "cache-control": "no-store" } });
}
