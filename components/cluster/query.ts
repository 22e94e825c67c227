// Query keys and fetchers for the cluster page, shared by the server prefetch (app/(dashboard)/
// clusters/[name]/page.tsx) and the client components, so both sides use the same cache entries.
// Every key starts with ["cluster", clusterId] (the cluster's uuid, never its name): the live-events
// provider invalidates `clusterKey(id)` when an event names the cluster, which refreshes all of them.
import type { ClusterDetail } from "@/server/api/schemas";
import type { ClusterSeriesRange } from "@/server/cluster/ranges";
import type { ClusterEventList, ClusterSeries } from "@/server/cluster/schemas";

export const clusterKey = (clusterId: string) => ["cluster", clusterId] as const;
export const clusterDetailKey = (clusterId: string) => ["cluster", clusterId, "detail"] as const;
export const clusterSeriesKey = (clusterId: string, range: ClusterSeriesRange) =>
  ["cluster", clusterId, "series", range] as const;
export const clusterEventsKey = (clusterId: string, limit: number) =>
  ["cluster", clusterId, "events", limit] as const;

async function getJson<T>(url: string, what: string): Promise<T> {
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) {
    if (res.status === 404) throw new Error(`This cluster no longer exists (${what}: HTTP 404).`);
    throw new Error(`Could not load ${what} (HTTP ${res.status}).`);
  }
  return (await res.json()) as T;
}

export function fetchClusterDetail(clusterId: string): Promise<ClusterDetail> {
  return getJson(`/api/v1/clusters/${encodeURIComponent(clusterId)}`, "the cluster");
}

export function fetchClusterSeries(clusterId: string, range: ClusterSeriesRange): Promise<ClusterSeries> {
  return getJson(
    `/api/v1/clusters/${encodeURIComponent(clusterId)}/series?range=${encodeURIComponent(range)}`,
    "the charts",
  );
}

export function fetchClusterEvents(clusterId: string, limit: number): Promise<ClusterEventList> {
  return getJson(`/api/v1/clusters/${encodeURIComponent(clusterId)}/events?limit=${limit}`, "the events");
}
