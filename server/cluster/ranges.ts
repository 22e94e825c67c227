// The cluster page's chart ranges. Pure constants, shared by the route handler's validation, the
// server read model and the range switch in the browser.
export const CLUSTER_SERIES_RANGES = ["15m", "1h", "24h", "7d"] as const;
export type ClusterSeriesRange = (typeof CLUSTER_SERIES_RANGES)[number];

export const DEFAULT_SERIES_RANGE: ClusterSeriesRange = "15m";

export const SERIES_RANGE_MS: Readonly<Record<ClusterSeriesRange, number>> = Object.freeze({
  "15m": 15 * 60_000,
  "1h": 60 * 60_000,
  "24h": 24 * 60 * 60_000,
  "7d": 7 * 24 * 60 * 60_000,
});

export const SERIES_RANGE_LABEL: Readonly<Record<ClusterSeriesRange, string>> = Object.freeze({
  "15m": "15 min",
  "1h": "1 h",
  "24h": "24 h",
  "7d": "7 d",
});

/** Points per series the server may send, whatever the range (CONVENTIONS.md "Charts"). */
export const MAX_SERIES_POINTS = 500;

/** Events the cluster page shows, and the most the API hands out in one answer. */
export const DEFAULT_EVENT_LIMIT = 50;
export const MAX_EVENT_LIMIT = 200;

export function isSeriesRange(value: string): value is ClusterSeriesRange {
  return (CLUSTER_SERIES_RANGES as readonly string[]).includes(value);
}
