// Labels and tones for the overview, kept apart from the markup so they read as a table.
import type {
  ClusterAvailability,
  FleetCluster,
  FleetClusterStatus,
  FleetNode,
} from "@/server/fleet/queries";

export type Tone = "ok" | "warn" | "bad" | "idle";

export const NODE_STATE_LABEL: Record<FleetNode["state"], string> = {
  unknown: "Unknown",
  healthy: "Healthy",
  suspect: "Suspect",
  failed: "Failed",
  recovering: "Recovering",
};

export function statusBadge(c: Pick<FleetCluster, "status" | "maintenance" | "nodes">): {
  label: string;
  tone: Tone;
} {
  const byStatus: Record<FleetClusterStatus, { label: string; tone: Tone }> = {
    healthy: { label: "Healthy", tone: "ok" },
    degraded: { label: "Degraded", tone: "warn" },
    down: { label: "Down", tone: "bad" },
    failing_over: { label: "Failing over", tone: "warn" },
    frozen: { label: c.maintenance ? "Frozen: maintenance" : "Frozen", tone: "idle" },
    unknown: { label: c.nodes.length === 0 ? "No nodes" : "Not yet probed", tone: "idle" },
  };
  return byStatus[c.status];
}

/** 99.9871 → "99.987 %": enough digits to tell 99.99 from 99.95, never rounded up to a lie. */
export function formatPct(pct: number): string {
  if (pct >= 100) return "100 %";
  const digits = pct >= 99 ? 3 : pct >= 90 ? 2 : 1;
  const f = 10 ** digits;
  return `${(Math.floor(pct * f) / f).toFixed(digits)} %`;
}

export function availabilityTone(a: ClusterAvailability): Tone {
  if (a.pct === null) return "idle";
  return a.pct >= a.targetPct ? "ok" : "bad";
}

export function formatSpan(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m} min`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.round(h / 24)} d`;
}

const TERMINAL_TONE: Record<string, Tone> = {
  completed: "ok",
  rolled_back: "warn",
  failed: "bad",
  aborted: "bad",
};

export function switchoverResult(state: string): { label: string; tone: Tone; inFlight: boolean } {
  const tone = TERMINAL_TONE[state];
  const label = state.replaceAll("_", " ");
  return tone
    ? { label, tone, inFlight: false }
    : { label: `in progress: ${label}`, tone: "warn", inFlight: true };
}
