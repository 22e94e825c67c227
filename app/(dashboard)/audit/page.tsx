import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { AuditLogView } from "@/components/audit/audit-log";
import {
  type AuditChainBadgeData,
  auditChainKey,
  auditPageKey,
  auditParamsFrom,
} from "@/components/audit/query";
import { getDb } from "@/db/client";
import {
  AuditQuerySchema,
  auditChainStatus,
  auditClusterOptions,
  listAuditEntries,
  resolveAuditFilter,
} from "@/server/audit/queries";
import { requirePageActor } from "@/server/auth/guard";

export const dynamic = "force-dynamic";
export const metadata = { title: "Audit log" };

export default async function AuditPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  await requirePageActor("audit.read");
  const params = auditParamsFrom(await searchParams);
  const db = getDb();
  const queryClient = getQueryClient();
  // The chain walk can take a while on a long log: it is not awaited, so the page streams and the
  // badge fills in when it is done (the pending query is dehydrated with its promise).
  void queryClient.prefetchQuery({
    queryKey: auditChainKey,
    queryFn: async (): Promise<AuditChainBadgeData> => {
      try {
        return await auditChainStatus(db);
      } catch (err) {
        console.error("audit chain check failed:", err);
        return { error: "Could not check the chain: the database did not answer." };
      }
    },
  });
  const parsed = AuditQuerySchema.safeParse(params);
  const [clusters] = await Promise.all([
    auditClusterOptions(db),
    // A bad filter is left to the client, which shows the API's explanation.
    parsed.success && !(parsed.data.before !== undefined && parsed.data.after !== undefined)
      ? queryClient.prefetchQuery({
          queryKey: auditPageKey(params),
          queryFn: async () =>
            listAuditEntries(db, await resolveAuditFilter(db, parsed.data), {
              before: parsed.data.before,
              after: parsed.data.after,
            }),
        })
      : Promise.resolve(),
  ]);
  return (
    <HydrationBoundary state={dehydrate(queryClient)}>
      <Suspense fallback={<p className="muted">Loading the audit log…</p>}>
        <AuditLogView clusters={clusters} />
      </Suspense>
    </HydrationBoundary>
  );
}
