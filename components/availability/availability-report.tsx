"use client";
// The availability report for managers: every cluster against its SLA over 7, 30 and 90 days,
// error budget, outages with MTTR / MTBF, a 90-day heatmap and switchover counts; CSV exports and
// a print layout. Unknown time is never shown as available: no data reads "no data yet".
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Time } from "@/components/ui/time";
import type { AvailabilityWindow, ClusterAvailabilityReport } from "@/server/availability/schemas";
import styles from "./availability.module.css";
import { formatDuration, formatPct, NO_DATA } from "./format";
import { DayHeatmap } from "./heatmap";
import { availabilityCsvHref, availabilityReportKey, fetchAvailabilityReport } from "./query";

const INCIDENTS_SHOWN = 10;

function tone(w: AvailabilityWindow | undefined): "ok" | "bad" | "idle" {
  if (!w || w.meetsSla === null) return "idle";
  return w.meetsSla ? "ok" : "bad";
}

function PctBadge({ w, label }: { w: AvailabilityWindow | undefined; label?: string }) {
  const met =
    w?.meetsSla === null || w === undefined ? "" : w.meetsSla ? ", meets the SLA" : ", below the SLA";
  return (
    <span
      className={`badge badge-${tone(w)}`}
      data-testid="availability-pct"
      title={w ? `${w.days} days${met}` : undefined}
    >
      {label ? `${label}: ` : ""}
      {w ? formatPct(w.availabilityPct) : NO_DATA}
    </span>
  );
}

function BudgetLeft({ w }: { w: AvailabilityWindow }) {
  if (w.availabilityPct === null) return <span className="muted">{NO_DATA}</span>;
  if (w.errorBudgetRemainingMs < 0) {
    return <span className={styles.badText}>overspent by {formatDuration(-w.errorBudgetRemainingMs)}</span>;
  }
  return (
    <span>
      {formatDuration(w.errorBudgetRemainingMs)}
      {w.errorBudgetRemainingPct !== null && (
        <span className="muted"> ({Math.floor(w.errorBudgetRemainingPct)}%)</span>
      )}
    </span>
  );
}

function WindowRow({ w }: { w: AvailabilityWindow }) {
  const none = w.availabilityPct === null;
  return (
    <tr>
      <th scope="row">{w.days} days</th>
      <td>
        <PctBadge w={w} />
      </td>
      <td>{none ? "—" : formatDuration(w.downtimeMs)}</td>
      <td>{none ? "—" : formatDuration(w.errorBudgetMs)}</td>
      <td>
        <BudgetLeft w={w} />
      </td>
      <td>{w.incidents}</td>
      <td>{formatDuration(w.mttrMs)}</td>
      <td>{formatDuration(w.mtbfMs)}</td>
      <td
        title={w.failovers.byKind.map((k) => `${k.kind}: ${k.completed} of ${k.total} completed`).join("\n")}
      >
        {w.failovers.completed} / {w.failovers.total}
      </td>
      <td className="muted">{w.unknownMs > 0 ? formatDuration(w.unknownMs) : "—"}</td>
    </tr>
  );
}

function Incidents({ cluster }: { cluster: ClusterAvailabilityReport }) {
  const [all, setAll] = useState(false);
  if (cluster.incidents.length === 0) {
    return (
      <p className="muted">
        No outages in the last 90 days{cluster.firstRecordedAt ? "" : " (no data yet)"}.
      </p>
    );
  }
  const shown = all ? cluster.incidents : cluster.incidents.slice(0, INCIDENTS_SHOWN);
  return (
    <>
      <div className="table-wrap">
        <table className={styles.incidents}>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Ended</th>
              <th scope="col">Duration</th>
              <th scope="col">Cause</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i) => (
              <tr key={i.start}>
                <td>
                  <Time iso={i.start} />
                </td>
                <td>{i.end ? <Time iso={i.end} /> : <span className="badge badge-bad">ongoing</span>}</td>
                <td>{formatDuration(i.durationMs)}</td>
                <td className={styles.cause}>{i.cause ?? <span className="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cluster.incidents.length > INCIDENTS_SHOWN && (
        <button
          type="button"
          className={`button button-quiet ${styles.noPrint}`}
          onClick={() => setAll((v) => !v)}
        >
          {all ? "Show the newest 10" : `Show all ${cluster.incidents.length}`}
        </button>
      )}
      {cluster.incidentsTotal > cluster.incidents.length && (
        <p className="muted small">
          The newest {cluster.incidents.length} of {cluster.incidentsTotal} outages; the incidents CSV has
          every one.
        </p>
      )}
    </>
  );
}

function ClusterReport({ cluster }: { cluster: ClusterAvailabilityReport }) {
  const headingId = `availability-${cluster.id}`;
  const longest = cluster.windows.at(-1);
  const byKind = longest?.failovers.byKind ?? [];
  return (
    <section
      className={`panel ${styles.cluster}`}
      aria-labelledby={headingId}
      data-testid="availability-cluster"
    >
      <header className={styles.clusterHead}>
        <h2 id={headingId}>{cluster.name}</h2>
        <PctBadge w={cluster.windows.find((w) => w.days === 30)} label="30 days" />
      </header>
      <dl className="facts">
        <div>
          <dt>SLA target</dt>
          <dd>{cluster.slaTargetPct}%</dd>
        </div>
        <div>
          <dt>Mode</dt>
          <dd>{cluster.mode === "active_standby" ? "Active–standby" : "Active–active pool"}</dd>
        </div>
        <div>
          <dt>Data since</dt>
          <dd>
            {cluster.firstRecordedAt ? (
              <Time iso={cluster.firstRecordedAt} />
            ) : (
              <span className="muted">{NO_DATA}</span>
            )}
          </dd>
        </div>
      </dl>
      {!cluster.firstRecordedAt && (
        <p className="muted">
          No availability recorded yet: the controller records the endpoint's first state once it has probed
          this cluster's nodes.
        </p>
      )}
      <div className="table-wrap">
        <table className={styles.windows}>
          <caption className="sr-only">
            Availability of {cluster.name} against {cluster.slaTargetPct}%
          </caption>
          <thead>
            <tr>
              <th scope="col">Window</th>
              <th scope="col">Availability</th>
              <th scope="col">Downtime</th>
              <th scope="col">Error budget</th>
              <th scope="col">Budget left</th>
              <th scope="col">Incidents</th>
              <th scope="col">MTTR</th>
              <th scope="col">MTBF</th>
              <th scope="col">
                <abbr title="Switchovers completed / requested">Failovers</abbr>
              </th>
              <th scope="col">Without data</th>
            </tr>
          </thead>
          <tbody>
            {cluster.windows.map((w) => (
              <WindowRow key={w.days} w={w} />
            ))}
          </tbody>
        </table>
      </div>
      <h3 className={styles.subhead}>Last {cluster.days.length} days</h3>
      <DayHeatmap cluster={cluster.name} days={cluster.days} slaTargetPct={cluster.slaTargetPct} />
      <h3 className={styles.subhead}>Switchovers, last {longest?.days ?? 90} days</h3>
      {byKind.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <ul className={styles.kinds} data-testid="availability-failovers">
          {byKind.map((k) => (
            <li key={k.kind}>
              <strong>{k.kind}</strong> {k.total} <span className="muted">({k.completed} completed)</span>
            </li>
          ))}
        </ul>
      )}
      <h3 className={styles.subhead}>Outages, last {longest?.days ?? 90} days</h3>
      <Incidents cluster={cluster} />
    </section>
  );
}

function Overview({ clusters }: { clusters: ClusterAvailabilityReport[] }) {
  return (
    <section className={`panel ${styles.overview}`} aria-labelledby="availability-overview">
      <h2 id="availability-overview">All clusters</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Cluster</th>
              <th scope="col">SLA target</th>
              <th scope="col">7 days</th>
              <th scope="col">30 days</th>
              <th scope="col">90 days</th>
              <th scope="col">Budget left, 30 days</th>
            </tr>
          </thead>
          <tbody>
            {clusters.map((c) => {
              const w30 = c.windows.find((w) => w.days === 30);
              return (
                <tr key={c.id}>
                  <th scope="row">
                    <a href={`#availability-${c.id}`}>{c.name}</a>
                  </th>
                  <td>{c.slaTargetPct}%</td>
                  {[7, 30, 90].map((d) => (
                    <td key={d}>
                      <PctBadge w={c.windows.find((w) => w.days === d)} />
                    </td>
                  ))}
                  <td>{w30 ? <BudgetLeft w={w30} /> : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function AvailabilityReportView() {
  const { data, error, isFetching, refetch } = useQuery({
    queryKey: availabilityReportKey,
    queryFn: fetchAvailabilityReport,
    staleTime: 60_000,
  });
  if (error && !data) {
    return (
      <div className="panel error-panel" role="alert">
        <h1>Availability</h1>
        <p className="error-text">{error.message}</p>
        <button type="button" className="button" onClick={() => void refetch()}>
          Try again
        </button>
      </div>
    );
  }
  if (!data) return <p className="muted">Loading the availability report…</p>;
  return (
    <div className={styles.page}>
      <div className="page-head">
        <h1>Availability</h1>
        <div className={`${styles.actions} ${styles.noPrint}`}>
          <button type="button" className="button" onClick={() => window.print()}>
            Print
          </button>
          <a className="button" href={availabilityCsvHref("summary")} download>
            Summary CSV
          </a>
          <a className="button" href={availabilityCsvHref("daily")} download>
            Daily CSV
          </a>
          <a className="button" href={availabilityCsvHref("incidents")} download>
            Incidents CSV
          </a>
        </div>
      </div>
      <p className="muted">
        The share of time each cluster's endpoint had a healthy active node, from recorded state changes. Time
        before a cluster's first recorded state is not counted, and the error budget is taken over the time
        with data. Generated <Time iso={data.generatedAt} />
        <span aria-live="polite">
          {error ? " · refresh failed, showing the last report" : isFetching ? " · refreshing" : ""}
        </span>
      </p>
      {data.clusters.length === 0 ? (
        <div className="panel empty">
          <h2>No clusters yet</h2>
          <p className="muted">Enrol a cluster to start recording its availability.</p>
        </div>
      ) : (
        <>
          <Overview clusters={data.clusters} />
          {data.clusters.map((c) => (
            <ClusterReport key={c.id} cluster={c} />
          ))}
        </>
      )}
    </div>
  );
}
