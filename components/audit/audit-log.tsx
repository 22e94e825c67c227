"use client";
// The audit log page: filters kept in the URL, a page of entries (newest first) with each row
// expandable to its before/after JSON and hashes, keyset paging, a CSV export of the current
// filter, and whether the hash chain verifies.
import { keepPreviousData, useQuery, useSuspenseQuery } from "@tanstack/react-query";
import { useSearchParams } from "next/navigation";
import { type FormEvent, Fragment, Suspense, useState, useSyncExternalStore } from "react";
import { Time } from "@/components/ui/time";
import type { AuditEntryView } from "@/server/audit/queries";
import styles from "./audit.module.css";
import {
  type AuditParams,
  auditChainKey,
  auditCsvHref,
  auditFilterOnly,
  auditPageKey,
  auditParamsFrom,
  auditSearch,
  fetchAuditChain,
  fetchAuditPage,
} from "./query";

export type AuditClusterOption = { id: string; name: string };

/** Prefixes offered in the action filter; any other prefix can be typed. */
const ACTION_PREFIXES = [
  "auth.",
  "auth.login",
  "auth.login_failed",
  "user.",
  "token.",
  "switchover.",
  "switchover.request.",
  "switchover.abort",
  "pool.",
  "cluster.",
  "node.",
  "policy.",
  "credential.",
  "load_balancer.",
];

const noSubscribe = () => () => {};

/** False during the server render and hydration, true after: local-time inputs wait for it. */
function useHydrated(): boolean {
  return useSyncExternalStore(
    noSubscribe,
    () => true,
    () => false,
  );
}

/** ISO time → the value of a datetime-local input, in the reader's zone. */
function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (the reader's zone) → ISO in UTC. */
function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function navigate(p: AuditParams) {
  const search = auditSearch(p);
  // Next.js folds pushState into its router: useSearchParams follows, the back button works.
  window.history.pushState(null, "", search ? `?${search}` : window.location.pathname);
}

function ChainBadge() {
  const { data } = useSuspenseQuery({ queryKey: auditChainKey, queryFn: fetchAuditChain, staleTime: 60_000 });
  if ("error" in data) {
    return (
      <p className={styles.chain} data-testid="audit-chain">
        <span className="badge badge-warn">Chain not checked</span>
        <span className="muted small">{data.error}</span>
      </p>
    );
  }
  return (
    <p className={styles.chain} data-testid="audit-chain">
      {data.verified ? (
        <span className="badge badge-ok" title={`Head ${data.head ?? ""}`}>
          Verifies: {data.rows.toLocaleString("en-US")} rows
        </span>
      ) : (
        <span className="badge badge-bad" title={data.reason ?? undefined}>
          BROKEN at row {data.firstBadId}
        </span>
      )}
      <span className="muted small">
        hash chain checked <Time iso={data.checkedAt} />
      </span>
      {!data.verified && data.reason && <span className={`small ${styles.chainReason}`}>{data.reason}</span>}
    </p>
  );
}

function Filters({ params, clusters }: { params: AuditParams; clusters: AuditClusterOption[] }) {
  const hydrated = useHydrated();
  const onSubmit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => {
      const v = String(f.get(k) ?? "").trim();
      return v || undefined;
    };
    navigate({
      actor: text("actor"),
      action: text("action"),
      cluster: text("cluster"),
      from: fromLocalInput(String(f.get("from") ?? "")),
      to: fromLocalInput(String(f.get("to") ?? "")),
    });
  };
  const filtered = Object.keys(auditFilterOnly(params)).length > 0;
  const known = clusters.some((c) => c.id === params.cluster || c.name === params.cluster);
  return (
    // Re-mounted when the URL's filter changes (back button) and once hydrated (local times).
    <form
      key={`${JSON.stringify(auditFilterOnly(params))}${hydrated}`}
      className={`panel ${styles.filters}`}
      onSubmit={onSubmit}
      aria-label="Filter the audit log"
    >
      <div className={styles.field}>
        <label htmlFor="audit-actor">Actor</label>
        <input
          id="audit-actor"
          name="actor"
          defaultValue={params.actor ?? ""}
          placeholder="user, token:name, controller"
          autoComplete="off"
        />
      </div>
      <div className={styles.field}>
        <label htmlFor="audit-action">Action starts with</label>
        <input
          id="audit-action"
          name="action"
          defaultValue={params.action ?? ""}
          placeholder="e.g. switchover."
          list="audit-action-prefixes"
          autoComplete="off"
        />
        <datalist id="audit-action-prefixes">
          {ACTION_PREFIXES.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
      </div>
      <div className={styles.field}>
        <label htmlFor="audit-cluster">Cluster</label>
        <select id="audit-cluster" name="cluster" defaultValue={params.cluster ?? ""}>
          <option value="">All clusters</option>
          {clusters.map((c) => (
            <option key={c.id} value={c.name}>
              {c.name}
            </option>
          ))}
          {params.cluster && !known && <option value={params.cluster}>{params.cluster}</option>}
        </select>
      </div>
      <div className={styles.field}>
        <label htmlFor="audit-from">From (local time)</label>
        <input
          id="audit-from"
          name="from"
          type="datetime-local"
          defaultValue={hydrated ? toLocalInput(params.from) : ""}
        />
      </div>
      <div className={styles.field}>
        <label htmlFor="audit-to">To (local time)</label>
        <input
          id="audit-to"
          name="to"
          type="datetime-local"
          defaultValue={hydrated ? toLocalInput(params.to) : ""}
        />
      </div>
      <div className={styles.formActions}>
        <button type="submit" className="button">
          Apply filters
        </button>
        {filtered && (
          <button type="button" className="button button-quiet" onClick={() => navigate({})}>
            Clear
          </button>
        )}
      </div>
    </form>
  );
}

function pretty(value: unknown): string {
  if (value === null || value === undefined) return "—";
  return JSON.stringify(value, null, 2);
}

function EntryRow({
  entry,
  expanded,
  onToggle,
}: {
  entry: AuditEntryView;
  expanded: boolean;
  onToggle: () => void;
}) {
  const detailId = `audit-detail-${entry.id}`;
  const target = entry.targetId ? `${entry.targetType} ${entry.targetId}` : entry.targetType;
  return (
    <Fragment>
      <tr
        data-testid="audit-row"
        data-action={entry.action}
        className={expanded ? styles.openRow : undefined}
      >
        <td className="mono muted">{entry.id}</td>
        <td>
          <Time iso={entry.at} />
        </td>
        <td>
          <span className={styles.actor}>{entry.actorLabel}</span>{" "}
          <span className="muted small">{entry.actorRole}</span>
        </td>
        <th scope="row" className="mono">
          {entry.action}
        </th>
        <td className={styles.wrap}>{target}</td>
        <td>
          {entry.clusterName ??
            (entry.clusterId ? (
              <span className="muted mono small">{entry.clusterId.slice(0, 8)}…</span>
            ) : (
              <span className="muted">—</span>
            ))}
        </td>
        <td className={styles.reason}>{entry.reason ?? <span className="muted">—</span>}</td>
        <td className="mono">{entry.epoch ?? <span className="muted">—</span>}</td>
        <td className={styles.noPrint}>
          <button
            type="button"
            className="button button-quiet"
            aria-expanded={expanded}
            aria-controls={detailId}
            onClick={onToggle}
          >
            {expanded ? "Hide" : "Details"}
            <span className="sr-only"> of entry {entry.id}</span>
          </button>
        </td>
      </tr>
      {expanded && (
        <tr id={detailId} className={styles.detailRow}>
          <td colSpan={9}>
            <dl className={styles.meta}>
              <div>
                <dt>At</dt>
                <dd className="mono">{entry.at}</dd>
              </div>
              <div>
                <dt>Address</dt>
                <dd className="mono">{entry.address ?? "—"}</dd>
              </div>
              <div>
                <dt>Actor user id</dt>
                <dd className="mono">{entry.actorUserId ?? "—"}</dd>
              </div>
              <div>
                <dt>Cluster id</dt>
                <dd className="mono">{entry.clusterId ?? "—"}</dd>
              </div>
            </dl>
            <div className={styles.diff}>
              <section aria-label={`Before, entry ${entry.id}`}>
                <h3>Before</h3>
                <pre data-testid="audit-before">{pretty(entry.before)}</pre>
              </section>
              <section aria-label={`After, entry ${entry.id}`}>
                <h3>After</h3>
                <pre data-testid="audit-after">{pretty(entry.after)}</pre>
              </section>
            </div>
            <dl className={styles.hashes}>
              <div>
                <dt>Hash</dt>
                <dd className="mono">{entry.hash}</dd>
              </div>
              <div>
                <dt>Previous hash</dt>
                <dd className="mono">{entry.prevHash}</dd>
              </div>
            </dl>
          </td>
        </tr>
      )}
    </Fragment>
  );
}

export function AuditLogView({ clusters }: { clusters: AuditClusterOption[] }) {
  const searchParams = useSearchParams();
  const params = auditParamsFrom(searchParams);
  const filter = auditFilterOnly(params);
  const filtered = Object.keys(filter).length > 0;
  const paged = params.before !== undefined || params.after !== undefined;
  const { data, error, isFetching, isPlaceholderData, refetch } = useQuery({
    queryKey: auditPageKey(params),
    queryFn: () => fetchAuditPage(params),
    placeholderData: keepPreviousData,
  });
  const [expanded, setExpanded] = useState<ReadonlySet<number>>(new Set());
  const toggle = (id: number) =>
    setExpanded((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  return (
    <div className={styles.page}>
      <div className="page-head">
        <h1>Audit log</h1>
        <Suspense
          fallback={
            <p className={styles.chain} data-testid="audit-chain">
              <span className="badge badge-idle">Checking the hash chain…</span>
            </p>
          }
        >
          <ChainBadge />
        </Suspense>
      </div>
      <p className="muted">
        Every change, written in the same transaction as the change itself. Append-only in the database, and
        each row's hash covers the row before it.
      </p>
      <Filters params={params} clusters={clusters} />
      <div className={styles.toolbar}>
        <p className="muted small" aria-live="polite">
          {error && data
            ? "Refresh failed; showing the last page."
            : isFetching
              ? "Loading…"
              : data
                ? `${data.items.length} ${data.items.length === 1 ? "entry" : "entries"} on this page, newest first${filtered ? ", filtered" : ""}.`
                : ""}
        </p>
        <a className={`button ${styles.noPrint}`} href={auditCsvHref(params)} download>
          Export CSV
        </a>
      </div>
      {error && !data ? (
        <div className="panel error-panel" role="alert">
          <p className="error-text">{error.message}</p>
          <div className={styles.formActions}>
            <button type="button" className="button" onClick={() => void refetch()}>
              Try again
            </button>
            {filtered && (
              <button type="button" className="button button-quiet" onClick={() => navigate({})}>
                Clear filters
              </button>
            )}
          </div>
        </div>
      ) : !data ? (
        <p className="muted">Loading the audit log…</p>
      ) : data.items.length === 0 ? (
        <div className="panel empty">
          <h2>{filtered || paged ? "No entries match" : "The audit log is empty"}</h2>
          <p className="muted">
            {filtered
              ? "Nothing was recorded for these filters. Widen the time range or clear a filter."
              : paged
                ? "There is nothing beyond this page."
                : "Changes, sign-ins and switchovers will appear here as they happen."}
          </p>
          {(filtered || paged) && (
            <button type="button" className="button" onClick={() => navigate(paged ? filter : {})}>
              {paged ? "Back to the newest" : "Clear filters"}
            </button>
          )}
        </div>
      ) : (
        <section
          className={`panel ${styles.tablePanel}`}
          aria-label="Audit entries"
          aria-busy={isPlaceholderData}
        >
          <div className="table-wrap">
            <table className={styles.table}>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">When</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Cluster</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Epoch</th>
                  <th scope="col" className={styles.noPrint}>
                    <span className="sr-only">Details</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((e) => (
                  <EntryRow
                    key={e.id}
                    entry={e}
                    expanded={expanded.has(e.id)}
                    onToggle={() => toggle(e.id)}
                  />
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {data && (data.newer !== null || data.older !== null || paged) && (
        <nav className={`${styles.pager} ${styles.noPrint}`} aria-label="Audit log pages">
          <button type="button" className="button" disabled={!paged} onClick={() => navigate(filter)}>
            Newest
          </button>
          <button
            type="button"
            className="button"
            disabled={data.newer === null}
            onClick={() => data.newer !== null && navigate({ ...filter, after: String(data.newer) })}
          >
            ← Newer
          </button>
          <button
            type="button"
            className="button"
            disabled={data.older === null}
            onClick={() => data.older !== null && navigate({ ...filter, before: String(data.older) })}
          >
            Older →
          </button>
        </nav>
      )}
    </div>
  );
}
