"use client";
// One cluster on the overview: its status, primary, 30-day availability against the SLA, firing
// alerts, the latest switchovers and the node table. Everything comes from the fleet overview
// query; live events refresh it (components/live/live-events.tsx).
import Link from "next/link";
import { SwitchoverButton } from "@/components/switchover/switchover-button";
import { Time } from "@/components/ui/time";
import type { FleetCluster, FleetNode, RecentSwitchover } from "@/server/fleet/queries";
import styles from "./fleet.module.css";
import {
  availabilityTone,
  formatPct,
  formatSpan,
  NODE_STATE_LABEL,
  statusBadge,
  switchoverResult,
} from "./format";

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
          {NODE_STATE_LABEL[node.state]}
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

function Availability({ cluster }: { cluster: FleetCluster }) {
  const a = cluster.availability;
  if (a.pct === null) {
    return (
      <span className="muted" data-testid="cluster-availability">
        no data yet
      </span>
    );
  }
  const partial = a.knownMs < a.windowDays * 86_400_000 - 60_000;
  const tone = availabilityTone(a);
  return (
    <span data-testid="cluster-availability">
      <span className={`${styles.pct} ${styles[tone]}`}>{formatPct(a.pct)}</span>
      <span className="muted small">
        {tone === "ok" ? " meets" : " below"} {a.targetPct} %
        {partial ? ` · over ${formatSpan(a.knownMs)}` : ""}
      </span>
    </span>
  );
}

function Alerts({ cluster }: { cluster: FleetCluster }) {
  const { firing, worst } = cluster.alerts;
  if (firing === 0 || !worst) {
    return (
      <p className={`${styles.alerts} muted small`} data-testid="cluster-alerts" data-firing={0}>
        No alerts firing
      </p>
    );
  }
  const tone = worst.severity === "critical" ? "bad" : worst.severity === "warning" ? "warn" : "idle";
  return (
    <p
      className={`${styles.alerts} ${styles.alertsFiring}`}
      data-testid="cluster-alerts"
      data-firing={firing}
    >
      <span className={`badge badge-${tone}`}>
        {firing} {firing === 1 ? "alert" : "alerts"} firing
      </span>
      <span className={styles.alertMessage} title={worst.message}>
        {worst.message}
      </span>
      <Time iso={worst.firedAt} />
    </p>
  );
}

/** Pool changes concern one member: "readmit llm-2", not "llm-2 → llm-2". */
const POOL_KINDS = new Set(["eject", "readmit", "drain"]);

function RecentSwitchovers({ items }: { items: RecentSwitchover[] }) {
  if (items.length === 0) return <p className="muted small">No switchovers yet</p>;
  return (
    <ol className={styles.recentList} data-testid="recent-switchovers">
      {items.map((s) => {
        const result = switchoverResult(s.state);
        return (
          <li
            key={s.id}
            data-testid="recent-switchover"
            data-kind={s.kind}
            data-state={s.state}
            data-id={s.id}
          >
            <Link href={`/switchovers/${s.id}`} className={styles.recentLink}>
              <span className={styles.kind}>{s.kind}</span>{" "}
              {POOL_KINDS.has(s.kind) ? (s.to ?? s.from ?? "?") : `${s.from ?? "?"} → ${s.to ?? "?"}`}
            </Link>
            <span className={`badge badge-${result.tone}`}>{result.label}</span>
            <span className="muted small">
              <Time iso={s.finishedAt ?? s.requestedAt} />
            </span>
          </li>
        );
      })}
    </ol>
  );
}

export function ClusterCard({ cluster }: { cluster: FleetCluster }) {
  const badge = statusBadge(cluster);
  const primary = cluster.nodes.find((n) => n.id === cluster.primaryNodeId);
  const serving = cluster.nodes.filter((n) => n.role === "member" && n.state === "healthy" && !n.maintenance);
  const members = cluster.nodes.filter((n) => n.role === "member");
  return (
    <section
      className="panel cluster"
      aria-labelledby={`cluster-${cluster.id}`}
      data-testid="cluster-card"
      data-status={cluster.status}
    >
      <header className="cluster-head">
        <div>
          <h2 id={`cluster-${cluster.id}`}>
            <Link href={`/clusters/${encodeURIComponent(cluster.name)}`} className={styles.clusterLink}>
              {cluster.name}
            </Link>
          </h2>
          {cluster.description && <p className="muted">{cluster.description}</p>}
        </div>
        <div className={styles.statusBox}>
          <span className={`badge badge-${badge.tone}`} data-testid="cluster-status">
            {badge.label}
          </span>
          {cluster.inFlightSwitchoverId && (
            <Link href={`/switchovers/${cluster.inFlightSwitchoverId}`} className="small">
              watch it
            </Link>
          )}
          {cluster.frozen && cluster.status !== "frozen" && (
            <span className="muted small">
              {cluster.maintenance ? "in maintenance" : "automatic failover frozen"}
            </span>
          )}
        </div>
      </header>
      <dl className="facts">
        <div>
          <dt>Mode</dt>
          <dd>{cluster.mode === "active_standby" ? "Active–standby" : "Active–active pool"}</dd>
        </div>
        {cluster.mode === "active_standby" ? (
          <div>
            <dt>Primary</dt>
            <dd>{primary?.name ?? "none"}</dd>
          </div>
        ) : (
          <div>
            <dt>Serving</dt>
            <dd>
              {serving.length} of {members.length}
            </dd>
          </div>
        )}
        <div>
          <dt>Availability, {cluster.availability.windowDays} d</dt>
          <dd>
            <Availability cluster={cluster} />
          </dd>
        </div>
        <div>
          <dt>SLA target</dt>
          <dd>{cluster.slaTargetPct} %</dd>
        </div>
        <div>
          <dt>Epoch</dt>
          <dd className="mono">{cluster.epoch}</dd>
        </div>
      </dl>
      <Alerts cluster={cluster} />
      <div className={styles.recent}>
        <h3 className={styles.subhead}>Latest switchovers</h3>
        <RecentSwitchovers items={cluster.recentSwitchovers} />
      </div>
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
