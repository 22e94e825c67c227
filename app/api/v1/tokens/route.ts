import { getDb } from "@/db/client";
import { jsonResponse } from "@/server/api/http";
import type { TokenList } from "@/server/api/schemas";
import { listTokenViews } from "@/server/api/tokens";
import { withAuth } from "@/server/auth/guard";

export const dynamic = "force-dynamic";

/**
 * API tokens (admins): names, prefixes, roles and use — never a token or its hash. Tokens are
 * created and revoked on the settings page (server actions), not over this API.
 */
export const GET = withAuth("token.manage", async () => {
  const body: TokenList = { items: await listTokenViews(getDb()) };
  return jsonResponse(body);
});
