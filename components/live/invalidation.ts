// Which React Query keys a live event makes stale. Keys are prefixes: invalidating
// ["cluster", id] also refreshes ["cluster", id, "history"] and the like.
import type { QueryKey } from "@tanstack/react-query";
import { fleetOverviewKey } from "@/components/fleet/query";
import { switchoverKey } from "@/components/switchover/query";

/** The part of a live event (server/notify/hub.ts HubEvent) the browser uses. */
export type LiveEventData = {
  id: number | null;
  kind: string;
  clusterId: string | null;
  nodeId: string | null;
  switchoverId: string | null;
};

/** Prefixes: every switchover list (components/switchover/query.ts switchoversKey), every event feed,
 * and everything about one cluster (components/cluster/query.ts clusterKey and the keys under it). */
export const switchoversPrefix = ["switchovers"] as const;
export const eventsPrefix = ["events"] as const;
export const clusterPrefix = (clusterId: string) => ["cluster", clusterId] as const;

/** Everything live data lives under: refreshed after a gap the stream cannot replay. */
export const ALL_LIVE_KEYS: readonly QueryKey[] = [
  fleetOverviewKey,
  ["switchover"],
  switchoversPrefix,
  ["cluster"],
  eventsPrefix,
];

export function invalidationKeys(e: LiveEventData): QueryKey[] {
  // Any event can move the overview: node states, alerts, switchovers, availability.
  const keys: QueryKey[] = [fleetOverviewKey, eventsPrefix];
  if (e.clusterId) keys.push(clusterPrefix(e.clusterId));
  if (e.switchoverId) keys.push(switchoverKey(e.switchoverId));
  if (e.switchoverId || e.kind.startsWith("switchover.")) keys.push(switchoversPrefix);
  return keys;
}

export function parseLiveEvent(data: string): LiveEventData | null {
  try {
    const v = JSON.parse(data) as Partial<LiveEventData> | null;
    if (!v || typeof v.kind !== "string") return null;
    const str = (x: unknown) => (typeof x === "string" ? x : null);
    return {
      id: typeof v.id === "number" ? v.id : null,
      kind: v.kind,
      clusterId: str(v.clusterId),
      nodeId: str(v.nodeId),
      switchoverId: str(v.switchoverId),
    };
  } catch {
    return null;
  }
}
