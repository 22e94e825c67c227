import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { HISTORY_WINDOW, switchoversKey } from "@/components/switchover/query";
import { SwitchoverHistoryView } from "@/components/switchover/switchover-history";
import { getDb } from "@/db/client";
import { requirePageActor } from "@/server/auth/guard";
import { listClusterOptions, listSwitchovers } from "@/server/switchover/queries";

export const dynamic = "force-dynamic";
export const metadata = { title: "Switchovers" };

export default async function SwitchoversPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  await requirePageActor("fleet.read");
  const { cluster } = await searchParams;
  const db = getDb();
  const clusters = await listClusterOptions(db);
  const clusterId = clusters.find((c) => c.name === cluster)?.id ?? null;
  const queryClient = getQueryClient();
  await queryClient.prefetchQuery({
    queryKey: switchoversKey(clusterId),
    queryFn: () => listSwitchovers(db, { clusterId: clusterId ?? undefined, limit: HISTORY_WINDOW }),
  });
  return (
    <HydrationBoundary state={dehydrate(queryClient)}>
      <Suspense fallback={<p className="muted">Loading switchovers…</p>}>
        <SwitchoverHistoryView clusters={clusters} />
      </Suspense>
    </HydrationBoundary>
  );
}
