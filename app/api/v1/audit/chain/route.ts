import { getDb } from "@/db/client";
import { jsonResponse } from "@/server/api/http";
import { auditChainStatus } from "@/server/audit/queries";
import { withAuth } from "@/server/auth/guard";

export const dynamic = "force-dynamic";

/** Whether the audit log's hash chain verifies (walked at most once a minute per process). */
export const GET = withAuth("audit.read", async () => jsonResponse(await auditChainStatus(getDb())));
