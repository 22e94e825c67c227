import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { ClusterPageView } from "@/components/cluster/cluster-page";
import { clusterDetailKey, clusterEventsKey, clusterSeriesKey } from "@/components/cluster/query";
import { fleetOverviewKey } from "@/components/fleet/query";
import { getDb } from "@/db/client";
import { getClusterDetail } from "@/server/api/clusters";
import { requirePageActor } from "@/server/auth/guard";
import { getClusterSeries, listClusterEvents } from "@/server/cluster/queries";
import { DEFAULT_EVENT_LIMIT } from "@/server/cluster/ranges";
import { listFleetOverview } from "@/server/fleet/queries";

export const dynamic = "force-dynamic";

type Props = { params: Promise<{ name: string }> };

/** Next hands the segment over percent-encoded or not depending on the path taken; accept both. */
function segment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { name } = await params;
  return { title: segment(name).slice(0, 200) };
}

/** One cluster by name (or id): the topology, charts, events and policy, prefetched and hydrated. */
export default async function ClusterPage({ params }: Props) {
  await requirePageActor("fleet.read");
  const { name } = await params;
  const ref = segment(name);
  if (ref.length > 200) notFound();
  const db = getDb();
  const detail = await getClusterDetail(db, ref);
  if (!detail) notFound();
  const id = detail.id;
  const queryClient = getQueryClient();
  queryClient.setQueryData(clusterDetailKey(id), detail);
  // The first paint needs the topology's signals and the feed; the fleet entry feeds the
  // "Switch over…" button. Longer chart ranges load when the reader asks for them.
  await Promise.all([
    queryClient.prefetchQuery({
      queryKey: clusterSeriesKey(id, "15m"),
      queryFn: () => getClusterSeries(db, id, "15m"),
    }),
    queryClient.prefetchQuery({
      queryKey: clusterEventsKey(id, DEFAULT_EVENT_LIMIT),
      queryFn: () => listClusterEvents(db, id, DEFAULT_EVENT_LIMIT),
    }),
    queryClient.prefetchQuery({ queryKey: fleetOverviewKey, queryFn: () => listFleetOverview(db) }),
  ]);
  return (
    <HydrationBoundary state={dehydrate(queryClient)}>
      <Suspense fallback={<p className="muted">Loading the cluster…</p>}>
        <ClusterPageView clusterId={id} />
      </Suspense>
    </HydrationBoundary>
  );
}
