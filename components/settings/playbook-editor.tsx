"use client";
// Settings → playbooks. Per kind, the active version as JSON text: edit it, validate it (every
// problem with its line and column, next to the editor; click one to jump there), dry-run it against
// a cluster (every command rendered with that cluster's values — nothing runs), and save it as the
// next version, which the next switchover uses.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useId, useRef, useState, useTransition } from "react";
import { checkPlaybookAction, dryRunPlaybookAction, savePlaybookAction } from "@/server/actions/playbooks";
import type { FieldIssue } from "@/server/settings/errors";
import type { DryRunResult, PlaybookSettings, PlaybookVersionView } from "@/server/settings/playbooks";
import type { PlaybookKind } from "@/server/switchover/playbook";
import { ConfirmButton } from "./confirm-button";
import { errorsOf, SelectField } from "./form-fields";
import styles from "./settings.module.css";
import { fetchPlaybookSettings, settingsKeys } from "./settings-query";

const KIND_LABELS: Record<PlaybookKind, string> = {
  preflight: "Preflight",
  degrade: "Degrade (fence)",
  switch_traffic: "Switch traffic",
  activate: "Activate",
  verify: "Verify",
  rollback: "Rollback",
  drain: "Drain (pool)",
  readmit: "Readmit (pool)",
};

function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf("\n", offset);
    if (next < 0) return text.length;
    offset = next + 1;
  }
  return Math.min(text.length, offset + Math.max(0, column - 1));
}

function DryRunView({ result }: { result: DryRunResult }) {
  return (
    <section className="panel" aria-labelledby="dry-run-title" data-testid="dry-run">
      <h2 id="dry-run-title">
        Dry run: {KIND_LABELS[result.kind]} on {result.cluster}
      </h2>
      <p className="muted small">
        Nothing ran. Commands rendered as a switchover at epoch {result.epoch} would run them
        {result.roles.oldPrimary && ` · old_primary ${result.roles.oldPrimary}`}
        {result.roles.newPrimary && ` · new_primary ${result.roles.newPrimary}`}
        {result.roles.member && ` · member ${result.roles.member}`}
        {result.roles.loadBalancer && ` · lb ${result.roles.loadBalancer}`}.
      </p>
      {result.notes.length > 0 && (
        <ul className={styles.preview}>
          {result.notes.map((n) => (
            <li key={n} className="muted small">
              {n}
            </li>
          ))}
        </ul>
      )}
      <ol className={styles.steps}>
        {result.steps.map((s) => (
          <li
            key={s.index}
            className={`${styles.step} ${s.error ? styles.stepError : ""}`}
            data-testid="dry-run-step"
            aria-label={`Step ${s.index + 1}: ${s.name}`}
          >
            <strong>
              {s.index + 1}. {s.name}
            </strong>{" "}
            <span className="muted small">
              on {s.target}
              {s.on ? ` (${s.on})` : ""} · timeout {s.timeoutMs} ms · expects exit {s.expectExitCode} · on
              failure {s.onFailure}
            </span>
            {s.command !== null && <pre data-testid="rendered-command">{s.command}</pre>}
            {s.error && (
              <p className="error-text" role="alert">
                Cannot render: {s.error.message}
              </p>
            )}
            {s.skipped && <p className="muted">Skipped: {s.skipped}</p>}
          </li>
        ))}
      </ol>
      <details>
        <summary>Example values used</summary>
        <dl className={styles.facts}>
          {Object.entries(result.values)
            .filter(([k]) => k !== "upstream_config")
            .map(([k, v]) => (
              <Fragment key={k}>
                <dt className="mono">{`{{${k}}}`}</dt>
                <dd className="mono">{v}</dd>
              </Fragment>
            ))}
        </dl>
      </details>
    </section>
  );
}

function Editor({
  view,
  settings,
  draft,
  setDraft,
}: {
  view: PlaybookVersionView;
  settings: PlaybookSettings;
  draft: string | undefined;
  setDraft: (text: string | undefined) => void;
}) {
  const form = useId();
  const queryClient = useQueryClient();
  const textarea = useRef<HTMLTextAreaElement>(null);
  const text = draft ?? view.text;
  const dirty = draft !== undefined && draft !== view.text;
  const [problems, setProblems] = useState<FieldIssue[]>([]);
  const [status, setStatus] = useState<{ tone: "ok" | "bad"; text: string } | null>(null);
  const [dryRun, setDryRun] = useState<DryRunResult | null>(null);
  const [clusterId, setClusterId] = useState(settings.clusters[0]?.id ?? "");
  const [pending, startTransition] = useTransition();
  const problemsId = `${form}-problems`;

  const report = (res: Parameters<typeof errorsOf>[0]) => {
    const { issues, summary } = errorsOf(res);
    setProblems(issues.filter((i) => i.field === "text"));
    setStatus(summary ? { tone: "bad", text: summary } : null);
  };

  const validate = () =>
    startTransition(async () => {
      setStatus(null);
      const res = await checkPlaybookAction({ kind: view.kind, text });
      if (!res.ok) return report(res);
      setProblems([]);
      setStatus({ tone: "ok", text: `Valid: ${res.data.steps} ${res.data.steps === 1 ? "step" : "steps"}.` });
    });

  const runDry = () =>
    startTransition(async () => {
      setStatus(null);
      setDryRun(null);
      const res = await dryRunPlaybookAction({ kind: view.kind, text, clusterId });
      if (!res.ok) return report(res);
      setProblems([]);
      setDryRun(res.data);
    });

  const jump = (p: FieldIssue) => {
    const el = textarea.current;
    if (!el || !p.line) return;
    const at = offsetOf(text, p.line, p.column ?? 1);
    el.focus();
    el.setSelectionRange(at, at);
  };

  const nextVersion = (view.version ?? 0) + 1;
  return (
    <>
      <div className={styles.editorLayout}>
        <div className={`${styles.field}`}>
          <label htmlFor={`${form}-text`}>
            {view.name} — {view.version === null ? "built-in, not installed yet" : `version ${view.version}`}
            {view.version !== null &&
              (view.builtIn ? " (built-in)" : view.createdBy ? ` by ${view.createdBy}` : "")}
            {dirty && " · edited"}
          </label>
          <textarea
            id={`${form}-text`}
            ref={textarea}
            className={styles.editor}
            value={text}
            onChange={(e) => {
              setDraft(e.target.value);
              setStatus(null);
            }}
            spellCheck={false}
            autoComplete="off"
            autoCorrect="off"
            autoCapitalize="off"
            aria-invalid={problems.length > 0 || undefined}
            aria-describedby={problems.length > 0 ? problemsId : undefined}
            rows={28}
          />
        </div>
        <div className={styles.page}>
          <div className="panel">
            <h2>Problems</h2>
            {problems.length === 0 ? (
              <p className="muted small">
                {status?.tone === "ok" ? status.text : "Validate to check the text; saving checks it too."}
              </p>
            ) : (
              <ol
                id={problemsId}
                className={styles.problems}
                aria-label="Problems in the playbook"
                data-testid="problems"
              >
                {problems.map((p) => (
                  <li key={`${p.line}:${p.column}:${p.message}`}>
                    <button type="button" onClick={() => jump(p)}>
                      Line {p.line}, column {p.column}
                    </button>
                    : {p.message}
                  </li>
                ))}
              </ol>
            )}
            {status?.tone === "bad" && (
              <p className="error-text small" role="alert">
                {status.text}
              </p>
            )}
            {status?.tone === "ok" && problems.length === 0 && (
              <p className="sr-only" role="status">
                {status.text}
              </p>
            )}
          </div>
          <div className="panel">
            <h2>Targets and variables</h2>
            <p className="small">
              A {view.kind} step may run on: <span className="mono">{view.allowedTargets.join(", ")}</span>.
              Node variables are the target node's own; lb steps get the load balancer's.
            </p>
            <details>
              <summary className="small">Variables</summary>
              <ul className={styles.variables}>
                {settings.variables.map((v) => (
                  <li key={v.name}>
                    <span className="mono">{`{{${v.name}}}`}</span> ({v.scope}): {v.description}
                  </li>
                ))}
              </ul>
            </details>
          </div>
        </div>
      </div>
      <div className={styles.actions}>
        <button type="button" className="button" onClick={validate} disabled={pending}>
          Validate
        </button>
        {settings.clusters.length > 0 && (
          <>
            <SelectField
              form={form}
              name="dryRunCluster"
              label="Dry run on"
              value={clusterId}
              onChange={setClusterId}
              options={settings.clusters.map((c) => ({ value: c.id, label: c.name }))}
            />
            <button type="button" className="button" onClick={runDry} disabled={pending || !clusterId}>
              Dry run
            </button>
          </>
        )}
        <ConfirmButton
          label={`Save as version ${nextVersion}…`}
          title={`Save ${view.name} version ${nextVersion}`}
          question={
            <>
              The next {view.kind === "drain" || view.kind === "readmit" ? "pool change" : "switchover"} of
              every cluster runs version {nextVersion}. Version {view.version ?? "1"} stays in the history,
              and switchovers already running keep the version they started with.
            </>
          }
          confirmLabel={`Save version ${nextVersion}`}
          run={async () => {
            const res = await savePlaybookAction({ kind: view.kind, text, expectedVersion: view.version });
            if (!res.ok) report(res);
            else {
              setProblems([]);
              setStatus({ tone: "ok", text: `Saved ${res.data.name} version ${res.data.version}.` });
            }
            return res;
          }}
          onDone={() => {
            setDraft(undefined);
            void queryClient.invalidateQueries({ queryKey: settingsKeys.playbooks });
          }}
        />
        {dirty && (
          <button
            type="button"
            className="button button-quiet"
            onClick={() => {
              setDraft(undefined);
              setProblems([]);
              setStatus(null);
            }}
            disabled={pending}
          >
            Discard changes
          </button>
        )}
        {pending && <span className="muted small">Working…</span>}
      </div>
      {dryRun && <DryRunView result={dryRun} />}
    </>
  );
}

export function PlaybookEditorView() {
  const { data, error } = useQuery({ queryKey: settingsKeys.playbooks, queryFn: fetchPlaybookSettings });
  const [kind, setKind] = useState<PlaybookKind>("preflight");
  const [drafts, setDrafts] = useState<Partial<Record<PlaybookKind, string>>>({});
  const view = data?.playbooks.find((p) => p.kind === kind);
  return (
    <div className={styles.page}>
      <div className="page-head">
        <div>
          <h1>Playbooks</h1>
          <p className="muted">
            The commands each phase of a switchover runs over SSH. Values are validated and single-quoted for
            sh; templates may use only known variables.
          </p>
        </div>
      </div>
      {error && !data && (
        <div className="panel error-panel" role="alert">
          {error.message}
        </div>
      )}
      {data && (
        <fieldset className={styles.kinds} aria-label="Playbook kind">
          {data.playbooks.map((p) => (
            <button
              key={p.kind}
              type="button"
              className="button button-quiet"
              aria-pressed={p.kind === kind}
              onClick={() => setKind(p.kind)}
            >
              {KIND_LABELS[p.kind]}
              {drafts[p.kind] !== undefined && drafts[p.kind] !== p.text ? " •" : ""}
            </button>
          ))}
        </fieldset>
      )}
      {data && view && (
        <Editor
          key={view.kind}
          view={view}
          settings={data}
          draft={drafts[kind]}
          setDraft={(text) => setDrafts((d) => ({ ...d, [kind]: text }))}
        />
      )}
      {!data && !error && <p className="muted">Loading playbooks…</p>}
    </div>
  );
}
