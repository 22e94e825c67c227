import { getDb } from "@/db/client";
import { jsonResponse } from "@/server/api/http";
import { fleetStatus } from "@/server/api/status";
import { withAuth } from "@/server/auth/guard";

export const dynamic = "force-dynamic";

/** The compact summary a `switchyard status` CLI prints. */
export const GET = withAuth("fleet.read", async () => jsonResponse(await fleetStatus(getDb())));
