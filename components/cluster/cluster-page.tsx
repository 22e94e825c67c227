"use client";
// The cluster page (`/clusters/[name]`): header and facts, the topology with live signals, charts,
// the event feed and the failover policy in words, plus the "Switch over…" control. Every query key
// starts with ["cluster", id] so the live-events provider refreshes the whole page with one
// invalidation; gentle polling keeps it current if the event stream drops.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { ClusterCharts } from "@/components/charts/cluster-charts";
import { fetchFleetOverview, fleetOverviewKey } from "@/components/fleet/query";
import { SwitchoverButton } from "@/components/switchover/switchover-button";
import { buildTopology } from "@/components/topology/model";
import { TopologyDiagram } from "@/components/topology/topology-diagram";
import type { ClusterDetail } from "@/server/api/schemas";
import { DEFAULT_POLICY } from "@/server/policy/presets";
import styles from "./cluster.module.css";
import { EventFeed } from "./event-feed";
import { LocalTime } from "./local-time";
import { PolicySummary } from "./policy-summary";
import { clusterDetailKey, clusterSeriesKey, fetchClusterDetail, fetchClusterSeries } from "./query";

const STATUS: Record<ClusterDetail["status"], { label: string; tone: "ok" | "warn" | "bad" | "idle" }> = {
  healthy: { label: "Healthy", tone: "ok" },
  degraded: { label: "Degraded", tone: "warn" },
  down: { label: "Down", tone: "bad" },
  maintenance: { label: "Maintenance", tone: "idle" },
  unprobed: { label: "Not yet probed", tone: "idle" },
  no_nodes: { label: "No nodes", tone: "idle" },
};

/** The topology's signals change every probe; without live events, look again every 10 s. */
const LIVE_REFRESH_MS = 10_000;

function SwitchoverControl({ clusterId }: { clusterId: string }) {
  // The button takes the fleet overview's cluster shape; reading it from the overview's own cache
  // entry keeps one source for that shape (and shares the entry with the overview page).
  const { data } = useQuery({
    queryKey: fleetOverviewKey,
    queryFn: fetchFleetOverview,
    refetchInterval: 30_000,
  });
  const cluster = data?.clusters.find((c) => c.id === clusterId);
  return cluster ? (
    <div className={styles.actions}>
      <SwitchoverButton cluster={cluster} />
    </div>
  ) : null;
}

function Header({ detail }: { detail: ClusterDetail }) {
  const status = STATUS[detail.status];
  const frozen =
    detail.frozenUntil && Date.parse(detail.frozenUntil) > Date.now() ? detail.frozenUntil : null;
  return (
    <header className={`panel ${styles.header}`}>
      <div className={styles.titleRow}>
        <div>
          <nav aria-label="Breadcrumb" className="small muted">
            <Link href="/">Fleet</Link> / cluster
          </nav>
          <h1 className={styles.h1}>{detail.name}</h1>
          {detail.description && <p className="muted">{detail.description}</p>}
        </div>
        <span className={`badge badge-${status.tone}`} data-testid="cluster-status">
          {status.label}
        </span>
      </div>
      <dl className="facts">
        <div>
          <dt>Mode</dt>
          <dd>{detail.mode === "active_standby" ? "Active–standby" : "Active–active pool"}</dd>
        </div>
        {detail.mode === "active_standby" && (
          <div>
            <dt>Primary</dt>
            <dd data-testid="cluster-primary">{detail.primary ?? "none"}</dd>
          </div>
        )}
        <div>
          <dt>Epoch</dt>
          <dd className="mono">{detail.epoch}</dd>
        </div>
        <div>
          <dt>Nodes</dt>
          <dd>
            {detail.healthyNodes} of {detail.nodeCount} healthy
          </dd>
        </div>
        <div>
          <dt>SLA target</dt>
          <dd>{detail.slaTargetPct}%</dd>
        </div>
        <div>
          <dt>Endpoint</dt>
          <dd className="mono">{detail.loadBalancer?.endpointUrl ?? "—"}</dd>
        </div>
        {frozen && (
          <div>
            <dt>Auto failover frozen until</dt>
            <dd>
              <LocalTime iso={frozen} />
            </dd>
          </div>
        )}
      </dl>
      {detail.inFlightSwitchover && (
        <p className={styles.inFlight} role="status">
          A {detail.inFlightSwitchover.kind} switchover is in flight (
          {detail.inFlightSwitchover.state.replaceAll("_", " ")}
          ). <Link href={`/switchovers/${detail.inFlightSwitchover.id}`}>Follow it</Link>
        </p>
      )}
      <SwitchoverControl clusterId={detail.id} />
    </header>
  );
}

export function ClusterPageView({ clusterId }: { clusterId: string }) {
  const detailQuery = useQuery({
    queryKey: clusterDetailKey(clusterId),
    queryFn: () => fetchClusterDetail(clusterId),
    refetchInterval: LIVE_REFRESH_MS,
  });
  const live = useQuery({
    queryKey: clusterSeriesKey(clusterId, "15m"),
    queryFn: () => fetchClusterSeries(clusterId, "15m"),
    refetchInterval: LIVE_REFRESH_MS,
  });
  const detail = detailQuery.data;
  if (detailQuery.error && !detail) {
    return (
      <div className="panel error-panel" role="alert">
        <h1>The cluster could not be loaded</h1>
        <p>{detailQuery.error.message}</p>
        <button type="button" className="button" onClick={() => detailQuery.refetch()}>
          Try again
        </button>
      </div>
    );
  }
  if (!detail) return <p className="muted">Loading the cluster…</p>;

  const model = buildTopology(detail, live.data ?? null);
  const policy = detail.policy ?? DEFAULT_POLICY;
  const step = live.data?.nodes[0]?.series.gpu_util.stepMs;
  const span =
    live.data && step
      ? { from: Date.parse(live.data.from), to: Date.parse(live.data.to), stepMs: step }
      : null;
  return (
    <div className={styles.page}>
      <Header detail={detail} />
      <section className="panel" aria-labelledby="cluster-topology-title">
        <header className={styles.sectionHead}>
          <h2 id="cluster-topology-title">Topology</h2>
          <span className="muted small" aria-live="polite">
            {live.error
              ? `Signals could not be refreshed: ${live.error.message}`
              : live.data
                ? "Signals from the latest probe and GPU sample"
                : "Loading signals…"}
          </span>
        </header>
        {detail.nodes.length === 0 ? (
          <p className="muted" data-testid="topology-empty">
            No nodes are enrolled in this cluster yet. Add them to the inventory (npm run inventory -- apply).
          </p>
        ) : (
          <TopologyDiagram
            model={model}
            thresholds={{
              latencyThresholdMs: policy.latencyThresholdMs,
              gpuTempAlertC: policy.gpuTempAlertC,
            }}
            span={span}
          />
        )}
      </section>
      <ClusterCharts clusterId={clusterId} />
      <div className={styles.columns}>
        <EventFeed clusterId={clusterId} />
        <PolicySummary policy={detail.policy} />
      </div>
    </div>
  );
}
