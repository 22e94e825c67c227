"use client";
// The journal as a Gantt chart: one row per step, its bar placed by when it started and sized by how
// long it took, relative to the switchover's start; a running step's bar grows while you watch.
// Every bar's meaning is in the row's text too (state, phase, duration, exit code): colour is a
// second cue, not the only one. The command and output open on demand.
import { useState } from "react";
import type { SwitchoverDetail, SwitchoverStepView } from "@/server/switchover/queries";
import { type BarLayout, formatMs, label, layoutTimeline } from "./format";
import styles from "./step-timeline.module.css";

const STATE_CLASS: Record<string, string> = {
  succeeded: "state-healthy",
  failed: "state-failed",
  running: "state-recovering",
  skipped: "state-unknown",
  pending: "state-unknown",
};

function StepRow({
  step,
  bar,
  expanded,
  onToggle,
  switchoverId,
}: {
  step: SwitchoverStepView;
  bar: BarLayout;
  expanded: boolean;
  onToggle: () => void;
  switchoverId: string;
}) {
  const outputId = `step-output-${switchoverId}-${step.seq}`;
  const rollback = step.phase === "rolling_back";
  return (
    <li className={styles.step} data-state={step.state} data-phase={step.phase}>
      <div className={styles.row}>
        <div className={styles.what}>
          <span className={`state ${STATE_CLASS[step.state] ?? "state-unknown"}`}>{step.state}</span>{" "}
          <strong>{label(step.phase)}</strong> · {step.name} <span className="muted">on {step.target}</span>
        </div>
        <div className={styles.track} aria-hidden="true">
          {bar.offsetMs !== null && (
            <div
              className={`${styles.bar} ${rollback ? styles.rollback : ""}`}
              data-state={step.state}
              data-testid="step-bar"
              style={{ left: `${bar.leftPct}%`, width: `${bar.widthPct}%` }}
            />
          )}
        </div>
        <div className={`${styles.when} small`}>
          {bar.offsetMs === null ? (
            <span className="muted">pending</span>
          ) : (
            <>
              <span className="sr-only">started at +{formatMs(bar.offsetMs)}, </span>
              <span className={styles.duration}>
                {step.state === "running" ? `${formatMs(bar.elapsedMs)}…` : formatMs(bar.elapsedMs)}
              </span>
              {step.exitCode !== null && <span className="muted"> · exit {step.exitCode}</span>}
            </>
          )}
        </div>
        <button
          type="button"
          className={`button button-quiet ${styles.toggle}`}
          aria-expanded={expanded}
          aria-controls={outputId}
          onClick={onToggle}
        >
          {expanded ? "Hide output" : "Output"}
          <span className="sr-only"> of step {step.seq}</span>
        </button>
      </div>
      {expanded && (
        <div id={outputId} className={styles.output}>
          <p className="muted small">
            Step {step.seq}
            {bar.offsetMs !== null ? ` · started at +${formatMs(bar.offsetMs)}` : ""}
            {step.exitCode !== null ? ` · exit code ${step.exitCode}` : ""}
            {step.outputTruncated ? " · output truncated" : ""}
          </p>
          <h4 className={styles.outputHead}>Command</h4>
          <pre className="mono small">{step.command}</pre>
          <h4 className={styles.outputHead}>stdout</h4>
          {step.stdout ? (
            <pre className="mono small">{step.stdout}</pre>
          ) : (
            <p className="muted small">(empty)</p>
          )}
          {step.stderr && (
            <>
              <h4 className={styles.outputHead}>stderr</h4>
              <pre className={`mono small ${styles.stderr}`}>{step.stderr}</pre>
            </>
          )}
        </div>
      )}
    </li>
  );
}

export function StepTimeline({ data, now }: { data: SwitchoverDetail; now: number }) {
  // Failed steps open by default (that is what one came to read); the operator's choice wins.
  const [toggled, setToggled] = useState<Map<number, boolean>>(() => new Map());
  const { spanMs, bars } = layoutTimeline(data, data.steps, now);
  return (
    <div className={styles.timeline}>
      <div className={`${styles.row} ${styles.axisRow}`} aria-hidden="true">
        <span />
        <div className={styles.axis}>
          <span>0</span>
          <span>{formatMs(spanMs / 2)}</span>
          <span>{formatMs(spanMs)}</span>
        </div>
        <span />
        <span />
      </div>
      <ol className={styles.steps} data-testid="switchover-steps" aria-label="Steps">
        {data.steps.map((s, i) => {
          const expanded = toggled.get(s.seq) ?? s.state === "failed";
          return (
            <StepRow
              key={s.seq}
              step={s}
              bar={bars[i] ?? { leftPct: 0, widthPct: 0, offsetMs: null, elapsedMs: null }}
              expanded={expanded}
              switchoverId={data.id}
              onToggle={() => setToggled((m) => new Map(m).set(s.seq, !expanded))}
            />
          );
        })}
      </ol>
    </div>
  );
}
