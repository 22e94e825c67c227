import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { AvailabilityReportView } from "@/components/availability/availability-report";
import { availabilityReportKey } from "@/components/availability/query";
import { getDb } from "@/db/client";
import { requirePageActor } from "@/server/auth/guard";
import { buildAvailabilityReport } from "@/server/availability/report";

export const dynamic = "force-dynamic";
export const metadata = { title: "Availability" };

export default async function AvailabilityPage() {
  await requirePageActor("fleet.read");
  const queryClient = getQueryClient();
  await queryClient.prefetchQuery({
    queryKey: availabilityReportKey,
    queryFn: () => buildAvailabilityReport(getDb()),
  });
  return (
    <HydrationBoundary state={dehydrate(queryClient)}>
      <Suspense fallback={<p className="muted">Loading the availability report…</p>}>
        <AvailabilityReportView />
      </Suspense>
    </HydrationBoundary>
  );
}
