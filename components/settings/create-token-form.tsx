"use client";
// Creating an API token: a name (what uses it), the role it acts with, and when it expires. The
// secret comes back once, in the action's result; the parent shows it and forgets it.
import { useId, useState, useTransition } from "react";
import { type CreatedToken, createTokenAction } from "@/server/actions/tokens";
import type { Role } from "@/server/auth/roles";

const ROLE_HINT: Record<Role, string> = {
  viewer: "viewer: read the fleet, switchovers and history",
  operator: "operator: also switch over, set maintenance, acknowledge alerts",
  admin: "admin: everything, including inventory, credentials and tokens",
};

const EXPIRY_OPTIONS = [
  { value: "30", label: "in 30 days" },
  { value: "90", label: "in 90 days" },
  { value: "365", label: "in 1 year" },
  { value: "", label: "never" },
] as const;

export function CreateTokenForm({ onCreated }: { onCreated: (token: CreatedToken) => void }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [expiry, setExpiry] = useState<string>("90");
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const [pending, startTransition] = useTransition();
  const id = useId();

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    startTransition(async () => {
      const res = await createTokenAction({
        name,
        role,
        expiresInDays: expiry ? Number(expiry) : null,
      });
      if (!res.ok) {
        setError({ message: res.error, field: res.field });
        return;
      }
      setName("");
      onCreated(res.data);
    });
  };

  return (
    <form className="panel token-form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>New token</h2>
      <div className="token-form-fields">
        <div>
          <label htmlFor={`${id}-name`}>Name</label>
          <input
            id={`${id}-name`}
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="e.g. ci-deploy, grafana"
            maxLength={64}
            required
            aria-invalid={error?.field === "name" || undefined}
          />
        </div>
        <div>
          <label htmlFor={`${id}-role`}>Role</label>
          <select
            id={`${id}-role`}
            name="role"
            value={role}
            onChange={(e) => setRole(e.target.value as Role)}
          >
            {(Object.keys(ROLE_HINT) as Role[]).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-expiry`}>Expires</label>
          <select
            id={`${id}-expiry`}
            name="expiry"
            value={expiry}
            onChange={(e) => setExpiry(e.target.value)}
          >
            {EXPIRY_OPTIONS.map((o) => (
              <option key={o.label} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <p className="muted small">
        The token acts as a {ROLE_HINT[role]}. Give it the least role that does the job.
      </p>
      {error && (
        <p className="error-text" role="alert">
          {error.message}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="button" disabled={pending}>
          {pending ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}
