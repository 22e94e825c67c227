import { getDb } from "@/db/client";
import { withAuth } from "@/server/auth/guard";
import { getSwitchover } from "@/server/switchover/queries";

export const dynamic = "force-dynamic";

export const GET = withAuth<{ id: string }>("fleet.read", async (_request, _actor, { params }) => {
  const { id } = await params;
  const detail = await getSwitchover(getDb(), id);
  if (!detail) return Response.json({ error: "not_found", message: "No such switchover." }, { status: 404 });
  return Response.json(detail, { headers: { "cache-control": "no-store" } });
});
