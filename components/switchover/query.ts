// Query keys and fetchers for switchovers, shared by server components (prefetch) and client ones.
import type { SwitchoverDetail } from "@/server/switchover/queries";

export const switchoverKey = (id: string) => ["switchover", id] as const;

export async function fetchSwitchover(id: string): Promise<SwitchoverDetail> {
  const res = await fetch(`/api/v1/switchovers/${id}`, { cache: "no-store" });
  if (!res.ok) throw new Error(`Could not load the switchover (HTTP ${res.status})`);
  return (await res.json()) as SwitchoverDetail;
}
