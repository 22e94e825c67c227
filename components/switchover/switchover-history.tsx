"use client";
// Every switchover, newest first: kind, who or what triggered it, from → to, how long it took, how it
// ended, when. Filters (cluster, kind, result) and the page live in the URL, so a filtered view can
// be shared and Back works; changing them does not reload the page. The list is ["switchovers", …]:
// the live-events provider invalidates it; until then it refreshes itself only while a listed
// switchover is in flight.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";
import { useId } from "react";
import { Time } from "@/components/ui/time";
import type { ClusterOption, SwitchoverView } from "@/server/switchover/queries";
import { formatMs, isTerminal, KIND_LABEL, kindLabel, label, moveLabel, stateTone, totalMs } from "./format";
import { fetchSwitchovers, HISTORY_WINDOW, switchoversKey } from "./query";
import styles from "./switchover-history.module.css";

export const PAGE_SIZE = 25;

const RESULTS = [
  { value: "completed", label: "completed" },
  { value: "rolled_back", label: "rolled back" },
  { value: "failed", label: "failed" },
  { value: "aborted", label: "aborted" },
  { value: "in_flight", label: "in flight" },
] as const;

export type HistoryFilters = {
  cluster: string | null;
  kind: string | null;
  result: string | null;
  page: number;
};

export function parseHistoryFilters(params: { get(name: string): string | null }): HistoryFilters {
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  const kind = params.get("kind");
  const result = params.get("result");
  return {
    cluster: params.get("cluster") || null,
    kind: kind && Object.hasOwn(KIND_LABEL, kind) ? kind : null,
    result: RESULTS.some((r) => r.value === result) ? result : null,
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

function matches(sw: SwitchoverView, f: HistoryFilters): boolean {
  if (f.kind && sw.kind !== f.kind) return false;
  if (f.result === "in_flight") return !isTerminal(sw.state);
  if (f.result && sw.state !== f.result) return false;
  return true;
}

function toSearch(f: HistoryFilters): string {
  const p = new URLSearchParams();
  if (f.cluster) p.set("cluster", f.cluster);
  if (f.kind) p.set("kind", f.kind);
  if (f.result) p.set("result", f.result);
  if (f.page > 1) p.set("page", String(f.page));
  const s = p.toString();
  return s ? `?${s}` : "";
}

function Row({ sw }: { sw: SwitchoverView }) {
  const took = totalMs(sw);
  const ended = isTerminal(sw.state);
  return (
    <tr data-testid="switchover-row" data-id={sw.id} data-state={sw.state}>
      <td>
        <Time iso={sw.requestedAt} />
      </td>
      <td>{sw.clusterName}</td>
      <td>{kindLabel(sw.kind)}</td>
      <td>
        {sw.requestedBy}
        {sw.kind === "auto" && <span className="muted small"> (automatic)</span>}
      </td>
      <td>
        <Link href={`/switchovers/${sw.id}`} className={styles.move}>
          {moveLabel(sw)}
          <span className="sr-only">
            {" "}
            ({sw.clusterName}, {label(sw.state)})
          </span>
        </Link>
      </td>
      <td className={styles.num}>
        {took !== null ? formatMs(took) : <span className="muted">running…</span>}
      </td>
      <td>
        <span className={`badge badge-${stateTone(sw.state)}`}>
          {ended ? label(sw.state) : `in flight: ${label(sw.state)}`}
        </span>
      </td>
    </tr>
  );
}

export function SwitchoverHistoryView({ clusters }: { clusters: ClusterOption[] }) {
  const params = useSearchParams();
  const pathname = usePathname();
  const id = useId();
  const filters = parseHistoryFilters(params);
  const cluster = filters.cluster ? (clusters.find((c) => c.name === filters.cluster) ?? null) : null;
  const unknownCluster = filters.cluster !== null && cluster === null;
  const { data, error, isPending, isFetching, refetch } = useQuery({
    queryKey: switchoversKey(cluster?.id ?? null),
    queryFn: () => fetchSwitchovers(cluster?.id ?? null),
  });

  // Shallow navigation: Next.js keeps useSearchParams in step with history.pushState.
  const go = (next: Partial<HistoryFilters>) => {
    const merged = { ...filters, page: 1, ...next };
    window.history.pushState(null, "", `${pathname}${toSearch(merged)}`);
  };

  const rows = unknownCluster ? [] : (data ?? []).filter((s) => matches(s, filters));
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  const page = Math.min(filters.page, pages);
  const shown = rows.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  const filtered = !!(filters.cluster || filters.kind || filters.result);

  return (
    <div className={styles.page}>
      <div className="page-head">
        <h1>Switchovers</h1>
        <p className="muted" aria-live="polite">
          {data
            ? `${rows.length} ${rows.length === 1 ? "switchover" : "switchovers"}${filtered ? " match" : ""}`
            : ""}
          {error && data
            ? " · refresh failed, showing the last data"
            : isFetching && data
              ? " · refreshing"
              : ""}
        </p>
      </div>
      <search className={`panel ${styles.filters}`} aria-label="Filter switchovers">
        <div className={styles.field}>
          <label htmlFor={`${id}-cluster`}>Cluster</label>
          <select
            id={`${id}-cluster`}
            value={filters.cluster ?? ""}
            onChange={(e) => go({ cluster: e.target.value || null })}
          >
            <option value="">All clusters</option>
            {clusters.map((c) => (
              <option key={c.id} value={c.name}>
                {c.name}
              </option>
            ))}
            {unknownCluster && <option value={filters.cluster ?? ""}>{filters.cluster} (unknown)</option>}
          </select>
        </div>
        <div className={styles.field}>
          <label htmlFor={`${id}-kind`}>Kind</label>
          <select
            id={`${id}-kind`}
            value={filters.kind ?? ""}
            onChange={(e) => go({ kind: e.target.value || null })}
          >
            <option value="">All kinds</option>
            {Object.entries(KIND_LABEL).map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </div>
        <div className={styles.field}>
          <label htmlFor={`${id}-result`}>Result</label>
          <select
            id={`${id}-result`}
            value={filters.result ?? ""}
            onChange={(e) => go({ result: e.target.value || null })}
          >
            <option value="">All results</option>
            {RESULTS.map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </select>
        </div>
        {filtered && (
          <button
            type="button"
            className="button button-quiet"
            onClick={() => go({ cluster: null, kind: null, result: null })}
          >
            Clear filters
          </button>
        )}
      </search>

      {unknownCluster && (
        <p className="warn-text" role="status">
          There is no cluster named {JSON.stringify(filters.cluster)}.
        </p>
      )}

      {error && !data ? (
        <div className="panel error-panel" role="alert">
          <p>{error.message}</p>
          <button type="button" className="button" onClick={() => void refetch()}>
            Try again
          </button>
        </div>
      ) : isPending ? (
        <p className="panel muted" role="status">
          Loading switchovers…
        </p>
      ) : rows.length === 0 ? (
        <div className="panel empty" data-testid="switchovers-empty">
          {filtered ? (
            <>
              <h2>No switchover matches these filters</h2>
              <button
                type="button"
                className="button"
                onClick={() => go({ cluster: null, kind: null, result: null })}
              >
                Clear filters
              </button>
            </>
          ) : (
            <>
              <h2>No switchovers yet</h2>
              <p className="muted">
                They appear here when someone switches over from the <Link href="/">Fleet</Link> page, runs a
                drill, or the controller fails a primary over.
              </p>
            </>
          )}
        </div>
      ) : (
        <section className="panel" aria-labelledby={`${id}-table`}>
          <h2 id={`${id}-table`} className="sr-only">
            Switchover history
          </h2>
          <div className="table-wrap">
            <table className={styles.table} data-testid="switchover-history">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Cluster</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Triggered by</th>
                  <th scope="col">Move</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((sw) => (
                  <Row key={sw.id} sw={sw} />
                ))}
              </tbody>
            </table>
          </div>
          <nav className={styles.pager} aria-label="Pages">
            <button
              type="button"
              className="button"
              onClick={() => go({ page: page - 1 })}
              disabled={page <= 1}
            >
              ← Newer
            </button>
            <span className="muted small">
              Page {page} of {pages} · {(page - 1) * PAGE_SIZE + 1}–{(page - 1) * PAGE_SIZE + shown.length} of{" "}
              {rows.length}
            </span>
            <button
              type="button"
              className="button"
              onClick={() => go({ page: page + 1 })}
              disabled={page >= pages}
            >
              Older →
            </button>
          </nav>
          {data && data.length >= HISTORY_WINDOW && (
            <p className="muted small">
              Only the newest {HISTORY_WINDOW} switchovers{cluster ? ` of ${cluster.name}` : ""} are listed
              here; older ones are in their reports and the audit log.
            </p>
          )}
        </section>
      )}
    </div>
  );
}
