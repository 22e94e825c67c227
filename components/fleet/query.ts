// Query keys and fetchers shared by the server prefetch and the client components, so both sides
// use the same cache entry.
import type { FleetOverviewDetail } from "@/server/fleet/queries";

export const fleetOverviewKey = ["fleet", "overview"] as const;

export async function fetchFleetOverview(): Promise<FleetOverviewDetail> {
  const res = await fetch("/api/v1/fleet", { cache: "no-store" });
  if (!res.ok) throw new Error(`The fleet API answered ${res.status}`);
  return (await res.json()) as FleetOverviewDetail;
}
