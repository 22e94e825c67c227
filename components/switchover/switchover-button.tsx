"use client";
// "Switch over…" on an active-standby cluster: pick the target (default: best standby), say why,
// confirm. The request returns at once with the switchover's id; its page shows it live.
import { useRouter } from "next/navigation";
import { useId, useState, useTransition } from "react";
import { useCan } from "@/components/auth/actor";
import { requestSwitchoverAction } from "@/server/actions/switchover";
import type { FleetCluster } from "@/server/fleet/queries";

export function SwitchoverButton({ cluster }: { cluster: FleetCluster }) {
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState("");
  const [reason, setReason] = useState("");
  const [drill, setDrill] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const router = useRouter();
  const id = useId();
  const allowed = useCan("switchover.request");
  const standbys = cluster.nodes.filter((n) => n.id !== cluster.primaryNodeId);
  if (!allowed || cluster.mode !== "active_standby" || standbys.length === 0) return null;

  if (!open) {
    return (
      <button type="button" className="button" onClick={() => setOpen(true)} data-testid="switchover-open">
        Switch over…
      </button>
    );
  }
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    startTransition(async () => {
      const res = await requestSwitchoverAction({
        cluster: cluster.id,
        target: target || null,
        reason,
        drill,
      });
      if (!res.ok) {
        setError(res.error);
        return;
      }
      router.push(`/switchovers/${res.data.id}`);
    });
  };
  return (
    <form className="switchover-form" onSubmit={submit} aria-label={`Switch over ${cluster.name}`}>
      <label htmlFor={`${id}-target`}>Move the primary to</label>
      <select id={`${id}-target`} value={target} onChange={(e) => setTarget(e.target.value)} name="target">
        <option value="">best standby (healthy, by priority)</option>
        {standbys.map((n) => (
          <option key={n.id} value={n.id}>
            {n.name} ({n.state})
          </option>
        ))}
      </select>
      <label htmlFor={`${id}-reason`}>Reason (kept in the audit log)</label>
      <input
        id={`${id}-reason`}
        name="reason"
        value={reason}
        onChange={(e) => setReason(e.target.value)}
        placeholder="e.g. GPU driver upgrade on the primary"
        maxLength={500}
        required
      />
      <label className="checkbox">
        <input type="checkbox" checked={drill} onChange={(e) => setDrill(e.target.checked)} /> Drill: switch
        back afterwards
      </label>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button
          type="submit"
          className="button button-danger"
          disabled={pending}
          data-testid="switchover-confirm"
        >
          {pending ? "Requesting…" : drill ? "Run drill" : "Switch over now"}
        </button>
        <button
          type="button"
          className="button button-quiet"
          onClick={() => setOpen(false)}
          disabled={pending}
        >
          Cancel
        </button>
      </div>
    </form>
  );
}
