"use client";

import { useQuery } from "@tanstack/react-query";
import { SwitchoverButton } from "@/components/switchover/switchover-button";
import { Time } from "@/components/ui/time";
import type { FleetCluster, FleetNode } from "@/server/fleet/queries";
import { fetchFleetOverview, fleetOverviewKey } from "./query";

const STATE_LABEL: Record<FleetNode["state"], string> = {
  unknown: "Unknown",
  healthy: "Healthy",
  suspect: "Suspect",
  failed: "Failed",
  recovering: "Recovering",
};

function clusterStatus(c: FleetCluster): { label: string; tone: "ok" | "warn" | "bad" | "idle" } {
  if (c.maintenance) return { label: "Maintenance", tone: "idle" };
  const states = c.nodes.map((n) => n.state);
  if (states.length === 0) return { label: "No nodes", tone: "idle" };
  if (states.every((s) => s === "unknown")) return { label: "Not yet probed", tone: "idle" };
  const active = c.nodes.filter((n) =>
    c.mode === "active_standby" ? n.id === c.primaryNodeId : n.role === "member",
  );
  if (active.length > 0 && active.every((n) => n.state === "failed")) return { label: "Down", tone: "bad" };
  if (states.some((s) => s !== "healthy")) return { label: "Degraded", tone: "warn" };
  return { label: "Healthy", tone: "ok" };
}

function NodeRow({ node, cluster }: { node: FleetNode; cluster: FleetCluster }) {
  const isPrimary = cluster.mode === "active_standby" && node.id === cluster.primaryNodeId;
  return (
    <tr data-testid={`node-${node.name}`}>
      <th scope="row">
        <span className="node-name">{node.name}</span>
        {node.maintenance && <span className="badge badge-idle">maintenance</span>}
      </th>
      <td className="mono">
        {node.host}:{node.servicePort}
      </td>
      <td>
        <span className={`role ${isPrimary ? "role-primary" : ""}`}>{isPrimary ? "primary" : node.role}</span>
        {cluster.mode === "active_standby" && node.role === "standby" && (
          <span className="muted small"> · priority {node.priority}</span>
        )}
        {cluster.mode === "active_active" && <span className="muted small"> · weight {node.weight}</span>}
      </td>
      <td>
        <span className={`state state-${node.state}`} data-state={node.state}>
          {STATE_LABEL[node.state]}
        </span>
      </td>
      <td>{node.reportedRole ?? <span className="muted">—</span>}</td>
      <td>{node.hostKeyPinned ? "pinned" : <span className="warn-text">not pinned</span>}</td>
      <td>
        <Time iso={node.lastSeenAt} />
      </td>
    </tr>
  );
}

function ClusterCard({ cluster }: { cluster: FleetCluster }) {
  const status = clusterStatus(cluster);
  const primary = cluster.nodes.find((n) => n.id === cluster.primaryNodeId);
  return (
    <section className="panel cluster" aria-labelledby={`cluster-${cluster.id}`} data-testid="cluster-card">
      <header className="cluster-head">
        <div>
          <h2 id={`cluster-${cluster.id}`}>{cluster.name}</h2>
          {cluster.description && <p className="muted">{cluster.description}</p>}
        </div>
        <span className={`badge badge-${status.tone}`}>{status.label}</span>
      </header>
      <dl className="facts">
        <div>
          <dt>Mode</dt>
          <dd>{cluster.mode === "active_standby" ? "Active–standby" : "Active–active pool"}</dd>
        </div>
        {cluster.mode === "active_standby" && (
          <div>
            <dt>Primary</dt>
            <dd>{primary?.name ?? "none"}</dd>
          </div>
        )}
        <div>
          <dt>SLA target</dt>
          <dd>{cluster.slaTargetPct}%</dd>
        </div>
        <div>
          <dt>Epoch</dt>
          <dd className="mono">{cluster.epoch}</dd>
        </div>
      </dl>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Reports</th>
              <th scope="col">Host key</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {cluster.nodes.map((n) => (
              <NodeRow key={n.id} node={n} cluster={cluster} />
            ))}
          </tbody>
        </table>
      </div>
      <SwitchoverButton cluster={cluster} />
    </section>
  );
}

export function FleetOverviewView() {
  // Until the live event stream exists, refresh gently; the server prefetch makes the first paint.
  const { data, error, isFetching } = useQuery({
    queryKey: fleetOverviewKey,
    queryFn: fetchFleetOverview,
    refetchInterval: 5_000,
  });
  if (error && !data) {
    return (
      <div className="panel error-panel" role="alert">
        {error.message}
      </div>
    );
  }
  if (!data) return <p className="muted">Loading the fleet…</p>;
  const nodes = data.clusters.flatMap((c) => c.nodes);
  const healthy = nodes.filter((n) => n.state === "healthy").length;
  return (
    <>
      <div className="page-head">
        <h1>Fleet</h1>
        <p className="muted" aria-live="polite">
          {data.clusters.length} clusters · {nodes.length} nodes · {healthy} healthy
          {error ? " · refresh failed, showing the last data" : isFetching ? " · refreshing" : ""}
        </p>
      </div>
      {data.clusters.length === 0 ? (
        <div className="panel empty">
          <h2>No clusters yet</h2>
          <p className="muted">Enrol a cluster and its nodes to start watching them.</p>
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
