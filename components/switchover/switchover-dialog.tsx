"use client";
// The switchover dialog: preflight checks first (cluster-wide, then per standby), the target (the
// best healthy standby by priority unless the operator picks another), a required reason, and a
// confirm button whose words are exactly what will happen. Blocking checks disable it and say why.
//
// A native modal <dialog>: the rest of the page is inert while it is open, Esc closes it (unless a
// request is on its way), Tab cycles inside it, and focus returns to the opener when it closes.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useId, useRef, useState, useTransition } from "react";
import { Time } from "@/components/ui/time";
import { requestSwitchoverAction } from "@/server/actions/switchover";
import type { FleetCluster } from "@/server/fleet/queries";
import type { ClusterPreflight, StandbyPreflight } from "@/server/switchover/preflight";
import { describeMove } from "./format";
import { LevelBadge, PreflightChecks } from "./preflight-checks";
import { fetchPreflight, preflightKey } from "./query";
import styles from "./switchover-dialog.module.css";

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Why the confirm button is disabled, if it is: the cluster's blockers, else the target's. */
function blockReasons(p: ClusterPreflight, target: StandbyPreflight | undefined): string[] {
  if (p.blockers.length > 0) return p.blockers;
  if (!target) return ["Pick a target."];
  return target.checks.filter((c) => c.level === "block").map((c) => `${target.name}: ${c.detail}`);
}

function StandbyChecks({ standby }: { standby: StandbyPreflight }) {
  return <PreflightChecks checks={standby.checks} testId={`preflight-standby-${standby.name}`} />;
}

export function SwitchoverDialog({ cluster, onClose }: { cluster: FleetCluster; onClose: () => void }) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const reasonRef = useRef<HTMLInputElement>(null);
  const id = useId();
  const [chosen, setChosen] = useState<string | null>(null);
  const [reason, setReason] = useState("");
  const [drill, setDrill] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const router = useRouter();
  const queryClient = useQueryClient();
  // Fresh every time it opens, and kept fresh while it is open: node states change under pressure.
  const preflight = useQuery({
    queryKey: preflightKey(cluster.id),
    queryFn: () => fetchPreflight(cluster.id),
    staleTime: 0,
  });

  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    if (!dialog.open) dialog.showModal();
    reasonRef.current?.focus();
    return () => {
      if (dialog.open) dialog.close();
    };
  }, []);

  const p = preflight.data;
  const targetId =
    (chosen && p?.standbys.some((s) => s.id === chosen) ? chosen : null) ??
    p?.recommendedTargetId ??
    p?.standbys[0]?.id ??
    null;
  const target = p?.standbys.find((s) => s.id === targetId);
  const blocked = p ? blockReasons(p, target) : [];
  const move = p ? describeMove(p, targetId, drill) : null;
  const canConfirm = !!p && !!move && blocked.length === 0 && !pending;

  const close = () => {
    if (!pending) onClose();
  };

  const trapTab = (e: React.KeyboardEvent<HTMLDialogElement>) => {
    if (e.key !== "Tab" || !dialogRef.current) return;
    const items = [...dialogRef.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
      (el) => el.getClientRects().length > 0,
    );
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) return;
    if (
      e.shiftKey &&
      (document.activeElement === first || !dialogRef.current.contains(document.activeElement))
    ) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (!p || !target) return;
    setError(null);
    startTransition(async () => {
      const res = await requestSwitchoverAction({ cluster: cluster.id, target: target.id, reason, drill });
      if (!res.ok) {
        setError(res.error);
        await queryClient.invalidateQueries({ queryKey: preflightKey(cluster.id) });
        return;
      }
      await queryClient.invalidateQueries({ queryKey: ["switchovers"] });
      router.push(`/switchovers/${res.data.id}`);
    });
  };

  return (
    <dialog
      ref={dialogRef}
      className={styles.dialog}
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-intro`}
      aria-busy={preflight.isPending}
      onCancel={(e) => {
        e.preventDefault();
        close();
      }}
      onKeyDown={trapTab}
      data-testid="switchover-dialog"
    >
      <header className={styles.head}>
        <div>
          <h2 id={`${id}-title`}>Switch over {cluster.name}</h2>
          <p id={`${id}-intro`} className="muted small">
            {p ? (
              <>
                Primary {p.primary?.name ?? "none"} · epoch <span className="mono">{p.cluster.epoch}</span> ·
                checked <Time iso={p.generatedAt} />
                {preflight.isFetching ? " · re-checking…" : ""}
              </>
            ) : (
              "Preflight checks before anything moves."
            )}
          </p>
        </div>
        <button
          type="button"
          className={`button button-quiet ${styles.close}`}
          onClick={close}
          aria-label="Close"
          disabled={pending}
        >
          ×
        </button>
      </header>

      <section aria-labelledby={`${id}-checks`} className={styles.section}>
        <h3 id={`${id}-checks`}>Preflight</h3>
        {preflight.isPending ? (
          <p className="muted" role="status">
            Running preflight checks…
          </p>
        ) : preflight.error && !p ? (
          <div className={styles.loadError}>
            <p className="error-text">{preflight.error.message}</p>
            <button type="button" className="button" onClick={() => void preflight.refetch()}>
              Try again
            </button>
          </div>
        ) : p ? (
          <PreflightChecks checks={p.checks} testId="preflight-checks" />
        ) : null}
      </section>

      {p && p.standbys.length > 0 && (
        <section aria-labelledby={`${id}-target`} className={styles.section}>
          {p.standbys.length > 1 ? (
            <fieldset className={styles.targets}>
              <legend id={`${id}-target`}>
                <h3>Target</h3>
                <span className="muted small">default: the best healthy standby by priority</span>
              </legend>
              {p.standbys.map((s) => (
                <div key={s.id} className={styles.target} data-selected={s.id === targetId}>
                  <label className={styles.targetLabel}>
                    <input
                      type="radio"
                      name={`${id}-target`}
                      value={s.id}
                      checked={s.id === targetId}
                      onChange={() => setChosen(s.id)}
                      disabled={pending}
                    />
                    <strong>{s.name}</strong>
                    <span className="muted small">priority {s.priority}</span>
                    <LevelBadge level={s.level} />
                    {s.recommended && <span className="badge badge-idle">best</span>}
                  </label>
                  <StandbyChecks standby={s} />
                </div>
              ))}
            </fieldset>
          ) : (
            <>
              <h3 id={`${id}-target`}>
                Target: {p.standbys[0]?.name} <LevelBadge level={p.standbys[0]?.level ?? "block"} />
              </h3>
              {p.standbys[0] && <StandbyChecks standby={p.standbys[0]} />}
            </>
          )}
        </section>
      )}

      <form
        className={`switchover-form ${styles.form}`}
        onSubmit={submit}
        aria-label={`Switch over ${cluster.name}`}
      >
        <label htmlFor={`${id}-reason`}>Reason (kept in the audit log)</label>
        <input
          ref={reasonRef}
          id={`${id}-reason`}
          name="reason"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          placeholder="e.g. GPU driver upgrade on the primary"
          maxLength={500}
          required
          disabled={pending}
        />
        <label className="checkbox">
          <input
            type="checkbox"
            checked={drill}
            onChange={(e) => setDrill(e.target.checked)}
            disabled={pending}
            data-testid="switchover-drill"
          />{" "}
          Drill: switch over and back (rehearse a failover; the primary ends where it started)
        </label>
        {p && blocked.length > 0 && (
          <div id={`${id}-blocked`} className={styles.blocked} data-testid="switchover-blocked">
            <strong>Cannot switch over now:</strong>
            <ul>
              {blocked.map((b) => (
                <li key={b}>{b}</li>
              ))}
            </ul>
            {p.inFlight && (
              <Link href={`/switchovers/${p.inFlight.id}`}>Follow the switchover in flight</Link>
            )}
          </div>
        )}
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <div className="form-actions">
          <button
            type="submit"
            className={`button button-danger ${styles.confirm}`}
            disabled={!canConfirm}
            aria-describedby={blocked.length > 0 ? `${id}-blocked` : undefined}
            data-testid="switchover-confirm"
          >
            {pending ? "Requesting…" : (move ?? (p ? "Nothing to switch to" : "Checking…"))}
          </button>
          <button type="button" className="button button-quiet" onClick={close} disabled={pending}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
