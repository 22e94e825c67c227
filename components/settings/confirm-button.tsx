"use client";
// A button whose action needs a second, explicit click that names exactly what will happen (removals,
// trusting a host key, entering maintenance). The server still refuses what it must; its reason is
// shown in place.
import { type ReactNode, useState, useTransition } from "react";
import type { ActionResult } from "@/server/auth/guard";
import styles from "./settings.module.css";

export function ConfirmButton({
  label,
  ariaLabel,
  title,
  question,
  confirmLabel,
  danger,
  children,
  run,
  onDone,
  startOpen = false,
  onCancel,
}: {
  /** The first button. */
  label: string;
  ariaLabel?: string;
  /** The confirm box's legend. */
  title: string;
  question: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  /** Extra inputs inside the confirm box (e.g. a reason). */
  children?: ReactNode;
  run: () => Promise<ActionResult<unknown>>;
  onDone?: () => void;
  /** Render the confirm box straight away (its opener lives elsewhere, e.g. in a table row). */
  startOpen?: boolean;
  onCancel?: () => void;
}) {
  const [open, setOpen] = useState(startOpen);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  if (!open) {
    return (
      <button
        type="button"
        className="button button-quiet"
        onClick={() => {
          setError(null);
          setOpen(true);
        }}
        aria-label={ariaLabel}
      >
        {label}
      </button>
    );
  }
  const confirm = () => {
    setError(null);
    startTransition(async () => {
      const res = await run();
      if (!res.ok) {
        setError(res.error);
        return;
      }
      setOpen(false);
      onDone?.();
    });
  };
  return (
    <fieldset className={`${styles.confirm} ${danger ? styles.confirmDanger : ""}`}>
      <legend>{title}</legend>
      <div>{question}</div>
      {children}
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      <div className={styles.actions}>
        <button
          type="button"
          className={danger ? "button button-danger" : "button"}
          onClick={confirm}
          disabled={pending}
        >
          {pending ? "Working…" : confirmLabel}
        </button>
        <button
          type="button"
          className="button button-quiet"
          onClick={() => {
            setOpen(false);
            onCancel?.();
          }}
          disabled={pending}
        >
          Cancel
        </button>
      </div>
    </fieldset>
  );
}
