"use client";
// Revoking a token, with a confirm step that says what happens: anything using it is refused at
// once. There is no undo: create a new token instead.
import { useState, useTransition } from "react";
import { revokeTokenAction } from "@/server/actions/tokens";
import type { TokenView } from "@/server/api/schemas";

export function RevokeTokenButton({ token, onRevoked }: { token: TokenView; onRevoked: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  if (!confirming) {
    return (
      <button
        type="button"
        className="button button-quiet"
        onClick={() => setConfirming(true)}
        aria-label={`Revoke ${token.name}`}
      >
        Revoke…
      </button>
    );
  }
  const revoke = () => {
    setError(null);
    startTransition(async () => {
      const res = await revokeTokenAction({ id: token.id });
      if (!res.ok) {
        setError(res.error);
        return;
      }
      setConfirming(false);
      onRevoked();
    });
  };
  return (
    <fieldset className="token-confirm">
      <legend className="sr-only">Confirm revoking {token.name}</legend>
      <span>
        Revoke <strong>{token.name}</strong> (<span className="mono">syd_{token.prefix}_…</span>)? Anything
        using it gets 401 from now on. This cannot be undone.
      </span>
      {error && (
        <span className="error-text" role="alert">
          {error}
        </span>
      )}
      <span className="form-actions">
        <button type="button" className="button button-danger" onClick={revoke} disabled={pending}>
          {pending ? "Revoking…" : "Revoke token"}
        </button>
        <button
          type="button"
          className="button button-quiet"
          onClick={() => setConfirming(false)}
          disabled={pending}
        >
          Cancel
        </button>
      </span>
    </fieldset>
  );
}
