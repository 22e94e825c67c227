import { getDb } from "@/db/client";
import { withAuth } from "@/server/auth/guard";
import { getSwitchoverReport } from "@/server/switchover/queries";

export const dynamic = "force-dynamic";

/** The finished switchover's JSON report, as a download. 404 while it is still running. */
export const GET = withAuth<{ id: string }>("fleet.read", async (_request, _actor, { params }) => {
  const { id } = await params;
  const report = await getSwitchoverReport(getDb(), id);
  if (!report) {
    return Response.json(
      { error: "not_found", message: "No report: the switchover does not exist or has not finished." },
      { status: 404 },
    );
  }
  return new Response(`${JSON.stringify(report, null, 2)}\n`, {
    headers: {
      "content-type": "application/json; charset=utf-8",
      "content-disposition": `attachment; filename="switchover-${id}.json"`,
      "cache-control": "no-store",
    },
  });
});
