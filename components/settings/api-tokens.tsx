"use client";
// Settings → API tokens: create a token (its secret shown once, with a copy button), see every
// token's role and use, revoke one. Only admins reach this page; the server checks every action.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { Time } from "@/components/ui/time";
import type { CreatedToken } from "@/server/actions/tokens";
import type { TokenView } from "@/server/api/schemas";
import { CreateTokenForm } from "./create-token-form";
import { RevokeTokenButton } from "./revoke-token-button";
import { apiTokensKey, fetchApiTokens } from "./tokens-query";

const STATUS_TONE: Record<TokenView["status"], string> = {
  active: "badge-ok",
  expired: "badge-warn",
  revoked: "badge-idle",
};

/** A calendar date in UTC: the same on the server and in every browser (no hydration mismatch). */
function Day({ iso }: { iso: string | null }) {
  if (!iso) return <span className="muted">never</span>;
  return (
    <time dateTime={iso} title={iso.replace("T", " ").replace(/\.\d+Z$/, " UTC")}>
      {iso.slice(0, 10)}
    </time>
  );
}

function NewTokenNotice({ created, onDone }: { created: CreatedToken; onDone: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<"yes" | "manual" | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied("yes");
    } catch {
      // No clipboard access (plain http, or denied): select the text for Ctrl+C instead.
      input.current?.select();
      setCopied("manual");
    }
  };
  return (
    <section
      className="panel token-created"
      aria-labelledby="token-created-title"
      data-testid="token-created"
    >
      <h2 id="token-created-title">Token “{created.name}” created</h2>
      <p className="warn-text" role="alert">
        Copy it now: it is shown only this once. Switchyard keeps only a hash of it and cannot show it again.
        Anyone holding it acts as {created.role === "admin" ? "an" : "a"} {created.role}
        {created.expiresAt ? ` until ${created.expiresAt.slice(0, 10)}` : ", with no expiry"}.
      </p>
      <div className="token-secret">
        <input
          ref={input}
          readOnly
          value={created.token}
          aria-label="New API token"
          data-testid="new-token"
          className="mono"
          onFocus={(e) => e.currentTarget.select()}
          spellCheck={false}
        />
        <button type="button" className="button" onClick={copy}>
          {copied === "yes" ? "Copied" : "Copy"}
        </button>
      </div>
      {copied === "manual" && <p className="muted small">The browser refused the clipboard: press Ctrl+C.</p>}
      <p className="muted small">
        Use it as <span className="mono">Authorization: Bearer syd_…</span> against{" "}
        <a href="/api/v1/openapi.json">the REST API</a>.
      </p>
      <div className="form-actions">
        <button type="button" className="button button-quiet" onClick={onDone}>
          I have copied it
        </button>
      </div>
    </section>
  );
}

function TokenTable({ items, onRevoked }: { items: TokenView[]; onRevoked: () => void }) {
  if (items.length === 0) {
    return (
      <div className="panel empty">
        <h2>No API tokens yet</h2>
        <p className="muted">Create one for a CLI, a CI job or a dashboard that reads the REST API.</p>
      </div>
    );
  }
  return (
    <div className="panel table-wrap">
      <table aria-label="API tokens">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Token</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Expires</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((t) => (
            <tr key={t.id} data-testid={`token-${t.id}`} data-token-name={t.name}>
              <th scope="row">{t.name}</th>
              <td className="mono">syd_{t.prefix}_…</td>
              <td>{t.role}</td>
              <td>
                <Time iso={t.createdAt} />
                {t.createdBy && <span className="muted small"> by {t.createdBy}</span>}
              </td>
              <td>
                <Time iso={t.lastUsedAt} />
              </td>
              <td>
                <Day iso={t.expiresAt} />
              </td>
              <td>
                <span className={`badge ${STATUS_TONE[t.status]}`}>
                  {t.status}
                  {t.status === "revoked" && t.revokedAt ? ` ${t.revokedAt.slice(0, 10)}` : ""}
                </span>
              </td>
              <td>{t.status !== "revoked" && <RevokeTokenButton token={t} onRevoked={onRevoked} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ApiTokensView() {
  const queryClient = useQueryClient();
  const { data, error } = useQuery({ queryKey: apiTokensKey, queryFn: fetchApiTokens });
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: apiTokensKey });

  return (
    <div className="tokens-page">
      <div className="page-head">
        <h1>API tokens</h1>
        <p className="muted">
          For CLIs and automation: each token acts with one role until it expires or is revoked. See the{" "}
          <a href="/api/v1/openapi.json">OpenAPI document</a>.
        </p>
      </div>
      {created ? (
        <NewTokenNotice created={created} onDone={() => setCreated(null)} />
      ) : (
        <CreateTokenForm
          onCreated={(t) => {
            setCreated(t);
            void refresh();
          }}
        />
      )}
      {error && !data && (
        <div className="panel error-panel" role="alert">
          {error.message}
        </div>
      )}
      {data ? (
        <TokenTable items={data.items} onRevoked={() => void refresh()} />
      ) : (
        !error && <p className="muted">Loading API tokens…</p>
      )}
    </div>
  );
}
