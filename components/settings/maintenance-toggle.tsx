"use client";
// Maintenance on a cluster or a node (operators and admins): a cluster in maintenance gets no
// automatic failover; a node in maintenance is never a switchover target. A confirm step says so
// and takes an optional reason for the audit log.
import { useId, useState } from "react";
import { useCan } from "@/components/auth/actor";
import { setClusterMaintenanceAction, setNodeMaintenanceAction } from "@/server/actions/settings";
import { ConfirmButton } from "./confirm-button";
import styles from "./settings.module.css";

export function MaintenanceToggle({
  kind,
  id,
  name,
  maintenance,
  onChanged,
  startOpen,
  onCancel,
}: {
  kind: "cluster" | "node";
  id: string;
  name: string;
  maintenance: boolean;
  onChanged: () => void;
  /** See ConfirmButton: the confirm box straight away, opened from elsewhere. */
  startOpen?: boolean;
  onCancel?: () => void;
}) {
  const allowed = useCan("maintenance.set");
  const [reason, setReason] = useState("");
  const formId = useId();
  if (!allowed) return null;
  const entering = !maintenance;
  const effect =
    kind === "cluster"
      ? entering
        ? "Automatic failover is paused for this cluster until maintenance ends; manual switchovers still work."
        : "Automatic failover resumes for this cluster (when its policy has it on)."
      : entering
        ? "The node is no longer picked as a switchover target (in a pool, the next upstream rewrite marks it down)."
        : "The node can be a switchover target again.";
  return (
    <ConfirmButton
      label={entering ? "Maintenance…" : "End maintenance…"}
      ariaLabel={`${entering ? "Start" : "End"} maintenance for ${name}`}
      title={`${entering ? "Start" : "End"} maintenance: ${name}`}
      question={effect}
      confirmLabel={entering ? "Start maintenance" : "End maintenance"}
      startOpen={startOpen}
      onCancel={onCancel}
      run={() =>
        (kind === "cluster" ? setClusterMaintenanceAction : setNodeMaintenanceAction)({
          id,
          maintenance: entering,
          reason: reason || undefined,
        })
      }
      onDone={() => {
        setReason("");
        onChanged();
      }}
    >
      <div className={styles.field}>
        <label htmlFor={`${formId}-reason`}>Reason (optional, kept in the audit log)</label>
        <input
          id={`${formId}-reason`}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          maxLength={500}
          placeholder={entering ? "e.g. driver upgrade" : ""}
        />
      </div>
    </ConfirmButton>
  );
}
