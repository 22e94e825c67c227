"use client";
// One switchover, live: its state, and the journal of steps with their commands, exit codes,
// output and timings. Polls quickly while in flight and stops once it ended.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { Time } from "@/components/ui/time";
import { AbortSwitchoverButton } from "./abort-button";
import { fetchSwitchover, switchoverKey } from "./query";

const TERMINAL = new Set(["completed", "rolled_back", "failed", "aborted"]);
const TONE: Record<string, string> = {
  completed: "ok",
  rolled_back: "warn",
  failed: "bad",
  aborted: "bad",
};

export function SwitchoverDetailView({ id }: { id: string }) {
  const { data, error } = useQuery({
    queryKey: switchoverKey(id),
    queryFn: () => fetchSwitchover(id),
    refetchInterval: (q) => (q.state.data && TERMINAL.has(q.state.data.state) ? false : 500),
  });
  if (error && !data) {
    return (
      <div className="panel error-panel" role="alert">
        {error.message}
      </div>
    );
  }
  if (!data) return <p className="muted">Loading…</p>;
  const done = TERMINAL.has(data.state);
  const total =
    data.finishedAt && data.requestedAt
      ? new Date(data.finishedAt).getTime() - new Date(data.requestedAt).getTime()
      : null;
  return (
    <>
      <div className="page-head">
        <h1>
          {data.clusterName}: {data.from ?? "?"} → {data.to ?? "?"}
        </h1>
        <p className="muted">
          <Link href="/">Fleet</Link> · {data.kind} switchover · requested by {data.requestedBy}{" "}
          <Time iso={data.requestedAt} />
        </p>
      </div>
      <section className="panel">
        <dl className="facts">
          <div>
            <dt>State</dt>
            <dd>
              <span className={`badge badge-${TONE[data.state] ?? "idle"}`} data-testid="switchover-state">
                {data.state.replaceAll("_", " ")}
              </span>
            </dd>
          </div>
          <div>
            <dt>Epoch</dt>
            <dd className="mono">{data.epoch ?? "—"}</dd>
          </div>
          <div>
            <dt>Reason</dt>
            <dd>{data.reason}</dd>
          </div>
          <div>
            <dt>Took</dt>
            <dd>{total !== null ? `${(total / 1000).toFixed(2)} s` : "running…"}</dd>
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
        </dl>
        {!done && <AbortSwitchoverButton id={data.id} />}
        {data.error && (
          <p className={data.state === "failed" ? "error-text" : "warn-text"} role="status">
            {data.error}
          </p>
        )}
      </section>
      <section className="panel">
        <h2>Steps</h2>
        {data.steps.length === 0 ? (
          <p className="muted">Waiting for the controller to pick it up…</p>
        ) : (
          <ol className="timeline" data-testid="switchover-steps">
            {data.steps.map((s) => (
              <li key={s.seq} className={`step step-${s.state}`}>
                <div className="step-head">
                  <span
                    className={`state state-${s.state === "succeeded" ? "healthy" : s.state === "failed" ? "failed" : "unknown"}`}
                  >
                    {s.state}
                  </span>{" "}
                  <strong>{s.phase.replaceAll("_", " ")}</strong> · {s.name}{" "}
                  <span className="muted">on {s.target}</span>
                  <span className="muted small">
                    {" "}
                    · {s.durationMs !== null ? `${s.durationMs} ms` : "running"}
                    {s.exitCode !== null ? ` · exit ${s.exitCode}` : ""}
                  </span>
                </div>
                <details>
                  <summary>command and output</summary>
                  <pre className="mono small">{s.command}</pre>
                  {s.stdout && <pre className="mono small">{s.stdout}</pre>}
                  {s.stderr && <pre className="mono small warn-text">{s.stderr}</pre>}
                </details>
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
