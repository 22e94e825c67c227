// Query key and fetcher for the availability report, shared by the page's server prefetch and its
// client component so both use the same cache entry.
import type { AvailabilityReport } from "@/server/availability/schemas";

export const availabilityReportKey = ["availability", "report"] as const;

export type AvailabilityCsvTable = "summary" | "daily" | "incidents";

export function availabilityCsvHref(table: AvailabilityCsvTable): string {
  return `/api/v1/availability/report?format=csv&table=${table}`;
}

export async function fetchAvailabilityReport(): Promise<AvailabilityReport> {
  const res = await fetch("/api/v1/availability/report", { cache: "no-store" });
  if (!res.ok) throw new Error(`The availability report could not be loaded (HTTP ${res.status})`);
  return (await res.json()) as AvailabilityReport;
}
