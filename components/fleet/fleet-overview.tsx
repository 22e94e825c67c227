"use client";
// The fleet overview: every cluster with its status, availability, alerts and latest switchovers.
// The server prefetches the query (app/(dashboard)/page.tsx); after that it is refreshed only when
// a live event says something changed (components/live/live-events.tsx) — it never polls.
import { useQuery } from "@tanstack/react-query";
import type { FleetCluster } from "@/server/fleet/queries";
import { ClusterCard } from "./cluster-card";
import styles from "./fleet.module.css";
import { fetchFleetOverview, fleetOverviewKey } from "./query";

function summary(clusters: FleetCluster[]): string {
  const counts = new Map<string, number>();
  for (const c of clusters) {
    if (c.status === "healthy" || c.status === "unknown") continue;
    const label = c.status === "failing_over" ? "failing over" : c.status;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].map(([label, n]) => ` · ${n} ${label}`).join("");
}

export function FleetOverviewView() {
  const { data, error, isFetching, refetch } = useQuery({
    queryKey: fleetOverviewKey,
    queryFn: fetchFleetOverview,
  });
  if (error && !data) {
    return (
      <div className="panel error-panel" role="alert">
        <p>Could not load the fleet: {error.message}</p>
        <button type="button" className="button" onClick={() => void refetch()}>
          Try again
        </button>
      </div>
    );
  }
  if (!data) return <FleetOverviewLoading />;
  const nodes = data.clusters.flatMap((c) => c.nodes);
  const healthy = nodes.filter((n) => n.state === "healthy").length;
  return (
    <>
      <div className="page-head">
        <h1>Fleet</h1>
        <p className="muted" aria-live="polite">
          {data.clusters.length} clusters · {nodes.length} nodes · {healthy} healthy
          {summary(data.clusters)}
          {error ? " · refresh failed, showing the last data" : isFetching ? " · refreshing" : ""}
        </p>
      </div>
      {data.clusters.length === 0 ? (
        <div className="panel empty">
          <h2>No clusters yet</h2>
          <p className="muted">
            Enrol a cluster and its nodes to start watching them:{" "}
            <code>npm run inventory -- apply fleet.json</code>.
          </p>
        </div>
      ) : (
        <div className="clusters">
          {data.clusters.map((c) => (
            <ClusterCard key={c.id} cluster={c} />
          ))}
        </div>
      )}
    </>
  );
}

/** Shown while the first copy of the overview loads (normally the server's prefetch makes it instant). */
export function FleetOverviewLoading() {
  return (
    <div aria-busy="true">
      <div className="page-head">
        <h1>Fleet</h1>
        <p className="muted">Loading the fleet…</p>
      </div>
      <div className="clusters">
        {[0, 1].map((i) => (
          <div key={i} className={`panel ${styles.skeleton}`} aria-hidden="true" />
        ))}
      </div>
    </div>
  );
}
