"use client";
// One switchover, live: a headline that says how it ended (or where it is), the facts (who, when, how
// long, from → to, epoch, reason), the step journal as a Gantt timeline with each step's output on
// demand, and the evidence. Updates in place: the live-events provider invalidates
// ["switchover", id]; until it lands, a polling fallback runs while the switchover is in flight and
// stops at a terminal state.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { Time } from "@/components/ui/time";
import type { SwitchoverDetail } from "@/server/switchover/queries";
import { AbortSwitchoverButton } from "./abort-button";
import { Evidence } from "./evidence";
import { formatMs, isTerminal, kindLabel, label, stateTone } from "./format";
import { fetchSwitchover, switchoverKey } from "./query";
import { StepTimeline } from "./step-timeline";
import styles from "./switchover-detail.module.css";
import { useNow } from "./use-now";

/** The latest instant the data itself knows of: "now" until the browser's clock takes over. */
function dataNow(d: SwitchoverDetail): number {
  let t = Date.parse(d.finishedAt ?? d.startedAt ?? d.requestedAt);
  for (const s of d.steps) {
    if (!s.startedAt) continue;
    const end = Date.parse(s.finishedAt ?? s.startedAt) + (s.finishedAt ? 0 : (s.durationMs ?? 0));
    t = Math.max(t, end);
  }
  return t;
}

function Headline({ data, now }: { data: SwitchoverDetail; now: number }) {
  const took = formatMs((data.finishedAt ? Date.parse(data.finishedAt) : now) - Date.parse(data.requestedAt));
  const move = `${data.from ?? "?"} → ${data.to ?? "?"}`;
  let text: string;
  switch (data.state) {
    case "completed":
      text = `Completed in ${took}: ${data.to ?? "?"} is the primary`;
      break;
    case "rolled_back":
      text = `Rolled back after ${took}: ${data.from ?? "?"} is the primary again`;
      break;
    case "failed":
      text = `Failed after ${took}: check the nodes and nginx`;
      break;
    case "aborted":
      text = `Aborted after ${took}: steps already run were not undone`;
      break;
    default:
      text = `In progress: ${label(data.state)}, ${took} so far`;
  }
  return (
    <div className={styles.headline} data-tone={stateTone(data.state)} data-testid="switchover-headline">
      <p className={styles.headlineText}>{text}</p>
      {/* Announce state changes, not the ticking "so far" counter. */}
      <p className="sr-only" aria-live="polite">
        Switchover {label(data.state)}
      </p>
      <p className="small">
        {kindLabel(data.kind)} switchover {move}, requested by <strong>{data.requestedBy}</strong>{" "}
        <Time iso={data.requestedAt} />
        {data.startedAt && (
          <>
            , started <Time iso={data.startedAt} />
          </>
        )}
        {data.finishedAt && (
          <>
            , ended <Time iso={data.finishedAt} />
          </>
        )}
        .
      </p>
    </div>
  );
}

function DrillNote({ data }: { data: SwitchoverDetail }) {
  if (data.kind !== "drill") return null;
  const evidence = data.evidence as { drillOf?: unknown } | null;
  if (evidence && typeof evidence === "object" && typeof evidence.drillOf === "string") return null;
  return (
    <p className="small muted">
      A drill: once this leg completes, the controller switches back to {data.from ?? "the old primary"}.{" "}
      <Link href={`/switchovers?kind=drill&cluster=${encodeURIComponent(data.clusterName)}`}>
        Follow both legs in the history
      </Link>
      .
    </p>
  );
}

export function SwitchoverDetailView({ id }: { id: string }) {
  const { data, error, refetch, isFetching } = useQuery({
    queryKey: switchoverKey(id),
    queryFn: () => fetchSwitchover(id),
  });
  const live = !!data && !isTerminal(data.state);
  const clock = useNow(live ? 250 : null);
  if (error && !data) {
    return (
      <div className="panel error-panel" role="alert">
        <p>{error.message}</p>
        <button type="button" className="button" onClick={() => void refetch()} disabled={isFetching}>
          {isFetching ? "Retrying…" : "Try again"}
        </button>{" "}
        <Link href="/switchovers">All switchovers</Link>
      </div>
    );
  }
  if (!data) return <p className="muted">Loading the switchover…</p>;
  const now = live && clock !== null ? Math.max(clock, dataNow(data)) : dataNow(data);
  const done = !live;
  return (
    <div className={styles.page}>
      <div className="page-head">
        <h1>
          {data.clusterName}: {data.from ?? "?"} → {data.to ?? "?"}
        </h1>
        <p className="muted">
          <Link href="/">Fleet</Link> · <Link href="/switchovers">Switchovers</Link> · {kindLabel(data.kind)}{" "}
          switchover <span className="mono">{data.id.slice(0, 8)}</span>
        </p>
      </div>
      <section className="panel" aria-label="Summary">
        <Headline data={data} now={now} />
        <dl className="facts">
          <div>
            <dt>State</dt>
            <dd>
              <span className={`badge badge-${stateTone(data.state)}`} data-testid="switchover-state">
                {label(data.state)}
              </span>
            </dd>
          </div>
          <div>
            <dt>Kind</dt>
            <dd>{kindLabel(data.kind)}</dd>
          </div>
          <div>
            <dt>Requested by</dt>
            <dd>{data.requestedBy}</dd>
          </div>
          <div>
            <dt>Epoch</dt>
            <dd className="mono">{data.epoch ?? "—"}</dd>
          </div>
          <div>
            <dt>Took</dt>
            <dd>
              {data.finishedAt
                ? formatMs(Date.parse(data.finishedAt) - Date.parse(data.requestedAt))
                : `${formatMs(now - Date.parse(data.requestedAt))}…`}
            </dd>
          </div>
          {done && data.hasReport && (
            <div>
              <dt>Report</dt>
              <dd>
                <a href={`/api/v1/switchovers/${data.id}/report`} download data-testid="switchover-report">
                  Download JSON
                </a>
              </dd>
            </div>
          )}
          <div className={styles.reason}>
            <dt>Reason</dt>
            <dd>{data.reason}</dd>
          </div>
        </dl>
        <DrillNote data={data} />
        {data.error && (
          <p className={data.state === "failed" ? "error-text" : "warn-text"} role="status">
            {data.error}
          </p>
        )}
        {!done && <AbortSwitchoverButton id={data.id} />}
      </section>
      <section className="panel" aria-labelledby="steps-title">
        <div className={styles.sectionHead}>
          <h2 id="steps-title">Steps</h2>
          <span className="muted small">
            {data.steps.length} {data.steps.length === 1 ? "step" : "steps"}
            {live ? " · live" : ""}
          </span>
        </div>
        {data.steps.length === 0 ? (
          <p className="muted" role="status">
            {live ? "Waiting for the controller to pick it up…" : "No step ran."}
          </p>
        ) : (
          <StepTimeline data={data} now={now} />
        )}
      </section>
      <Evidence evidence={data.evidence} />
    </div>
  );
}
