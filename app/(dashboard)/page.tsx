import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { FleetOverviewView } from "@/components/fleet/fleet-overview";
import { fleetOverviewKey } from "@/components/fleet/query";
import { getDb } from "@/db/client";
import { requirePageActor } from "@/server/auth/guard";
import { listFleetOverview } from "@/server/fleet/queries";

export const dynamic = "force-dynamic";
export const metadata = { title: "Fleet" };

export default async function FleetPage() {
  await requirePageActor("fleet.read");
  const queryClient = getQueryClient();
  await queryClient.prefetchQuery({ queryKey: fleetOverviewKey, queryFn: () => listFleetOverview(getDb()) });
  return (
    <HydrationBoundary state={dehydrate(queryClient)}>
      <Suspense fallback={<p className="muted">Loading the fleet…</p>}>
        <FleetOverviewView />
      </Suspense>
    </HydrationBoundary>
  );
}
