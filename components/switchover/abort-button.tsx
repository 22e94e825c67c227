"use client";
// The way out of a stuck switchover: marks it aborted (audited, with a reason). The controller stops
// at its next step; nothing is rolled back automatically, so the page says what to check.
import { useQueryClient } from "@tanstack/react-query";
import { useState, useTransition } from "react";
import { useCan } from "@/components/auth/actor";
import { abortSwitchoverAction } from "@/server/actions/switchover";
import { switchoverKey } from "./query";

export function AbortSwitchoverButton({ id }: { id: string }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const queryClient = useQueryClient();
  if (!useCan("switchover.abort")) return null;
  if (!open) {
    return (
      <button type="button" className="button button-quiet" onClick={() => setOpen(true)}>
        Abort…
      </button>
    );
  }
  return (
    <form
      className="switchover-form"
      onSubmit={(e) => {
        e.preventDefault();
        startTransition(async () => {
          const res = await abortSwitchoverAction({ id, reason });
          if (!res.ok) setError(res.error);
          else {
            setOpen(false);
            await queryClient.invalidateQueries({ queryKey: switchoverKey(id) });
          }
        });
      }}
    >
      <label htmlFor={`abort-${id}`}>
        Why abort? Steps already run are not undone: check the nodes and nginx.
      </label>
      <input
        id={`abort-${id}`}
        value={reason}
        onChange={(e) => setReason(e.target.value)}
        required
        maxLength={500}
      />
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="button button-danger" disabled={pending}>
          {pending ? "Aborting…" : "Abort switchover"}
        </button>
        <button type="button" className="button button-quiet" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
