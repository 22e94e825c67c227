"use client";
// "Switch over…" on an active-standby cluster: opens the switchover dialog (preflight checks, target,
// reason, drill, a confirm that names the move). The request returns at once with the switchover's
// id; its page shows it live.
import { useEffect, useRef, useState } from "react";
import { useCan } from "@/components/auth/actor";
import type { FleetCluster } from "@/server/fleet/queries";
import { SwitchoverDialog } from "./switchover-dialog";

export function SwitchoverButton({ cluster }: { cluster: FleetCluster }) {
  const [open, setOpen] = useState(false);
  const opener = useRef<HTMLButtonElement>(null);
  const allowed = useCan("switchover.request");
  // Back to the opener once the dialog has closed (while it is open, the rest of the page is inert).
  const wasOpen = useRef(false);
  useEffect(() => {
    if (wasOpen.current && !open) opener.current?.focus();
    wasOpen.current = open;
  }, [open]);
  const hasStandby = cluster.nodes.some((n) => n.id !== cluster.primaryNodeId);
  if (!allowed || cluster.mode !== "active_standby" || !hasStandby) return null;
  return (
    <>
      <button
        ref={opener}
        type="button"
        className="button"
        onClick={() => setOpen(true)}
        aria-haspopup="dialog"
        aria-expanded={open}
        data-testid="switchover-open"
      >
        Switch over…
      </button>
      {open && <SwitchoverDialog cluster={cluster} onClose={() => setOpen(false)} />}
    </>
  );
}
