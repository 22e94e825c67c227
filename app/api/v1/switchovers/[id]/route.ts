import { getDb } from "@/db/client";
import { getSwitchover } from "@/server/switchover/queries";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const detail = await getSwitchover(getDb(), id);
  if (!detail) return Response.json({ error: "not_found", message: "No such switchover." }, { status: 404 });
  return Response.json(detail, { headers: { "cache-control": "no-store" } });
}
