// Query keys and fetchers for switchovers, shared by server components (prefetch) and client ones.
// Keys (the live-events provider, components/live/invalidation.ts, invalidates them by prefix):
// ["switchover", id] for one, ["switchovers", …] for lists, and ["cluster", clusterId, "preflight"]
// for the preflight, so any event about the cluster (a node's state changed) re-runs an open one.
import type { ClusterPreflight } from "@/server/switchover/preflight";
import type { SwitchoverDetail, SwitchoverView } from "@/server/switchover/queries";

export const switchoverKey = (id: string) => ["switchover", id] as const;

export async function fetchSwitchover(id: string): Promise<SwitchoverDetail> {
  const res = await fetch(`/api/v1/switchovers/${id}`, { cache: "no-store" });
  if (res.status === 404) throw new Error("This switchover does not exist (any more).");
  if (!res.ok) throw new Error(`Could not load the switchover (HTTP ${res.status})`);
  return (await res.json()) as SwitchoverDetail;
}

/** The history shows (and filters, and pages through) the newest this many, at most 500 (the API's cap). */
export const HISTORY_WINDOW = 500;

export const switchoversKey = (clusterId: string | null) =>
  ["switchovers", "list", { cluster: clusterId, limit: HISTORY_WINDOW }] as const;

export async function fetchSwitchovers(clusterId: string | null): Promise<SwitchoverView[]> {
  const params = new URLSearchParams({ limit: String(HISTORY_WINDOW) });
  if (clusterId) params.set("cluster", clusterId);
  const res = await fetch(`/api/v1/switchovers?${params}`, { cache: "no-store" });
  if (!res.ok) throw new Error(`Could not load the switchovers (HTTP ${res.status})`);
  return ((await res.json()) as { items: SwitchoverView[] }).items;
}

export const preflightKey = (clusterId: string) => ["cluster", clusterId, "preflight"] as const;

export async function fetchPreflight(clusterId: string): Promise<ClusterPreflight> {
  const res = await fetch(`/api/v1/clusters/${encodeURIComponent(clusterId)}/preflight`, {
    cache: "no-store",
  });
  if (!res.ok) throw new Error(`Could not run the preflight checks (HTTP ${res.status})`);
  return (await res.json()) as ClusterPreflight;
}
