import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { ApiTokensView } from "@/components/settings/api-tokens";
import { apiTokensKey } from "@/components/settings/tokens-query";
import { getDb } from "@/db/client";
import type { TokenList } from "@/server/api/schemas";
import { listTokenViews } from "@/server/api/tokens";
import { AuthError, requirePageActor } from "@/server/auth/guard";
import { PERMISSIONS } from "@/server/auth/roles";

export const dynamic = "force-dynamic";
export const metadata = { title: "API tokens" };

export default async function ApiTokensPage() {
  try {
    await requirePageActor("token.manage");
  } catch (err) {
    // A signed-in user without the role gets a plain answer, not the dashboard's error page.
    // (No session: requirePageActor redirects to sign in, and that must propagate.)
    if (err instanceof AuthError && err.status === 403) {
      return (
        <div className="panel error-panel" role="alert">
          <h1>API tokens</h1>
          <p>Only an {PERMISSIONS["token.manage"]} can see and manage API tokens.</p>
        </div>
      );
    }
    throw err;
  }
  const queryClient = getQueryClient();
  await queryClient.prefetchQuery({
    queryKey: apiTokensKey,
    queryFn: async (): Promise<TokenList> => ({ items: await listTokenViews(getDb()) }),
  });
  return (
    <HydrationBoundary state={dehydrate(queryClient)}>
      <Suspense fallback={<p className="muted">Loading API tokens…</p>}>
        <ApiTokensView />
      </Suspense>
    </HydrationBoundary>
  );
}
