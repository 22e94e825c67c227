"use client";
// "Test connection" for a node or a load balancer: connects over SSH with the chosen credential
// (the server gives up after a few seconds), shows the host key the host presented next to the
// pinned one, and offers "Trust this key" when they differ — an audited action with a confirm step
// that says what to compare first. A changed key gets a louder warning: it is how an impostor
// looks, as well as a reinstall.
import { useId, useState, useTransition } from "react";
import { testConnectionAction, trustHostKeyAction } from "@/server/actions/settings";
import type { CredentialOption, SshTargetKind } from "@/server/settings/inventory";
import type { ConnectionTestResult } from "@/server/settings/test-connection";
import { ConfirmButton } from "./confirm-button";
import { SelectField } from "./form-fields";
import styles from "./settings.module.css";

const HOST_KEY_BADGE: Record<ConnectionTestResult["hostKey"], { tone: string; text: string }> = {
  matches: { tone: "badge-ok", text: "matches the pinned key" },
  not_pinned: { tone: "badge-warn", text: "no key pinned yet" },
  mismatch: { tone: "badge-bad", text: "DIFFERENT from the pinned key" },
  unknown: { tone: "badge-idle", text: "not seen" },
};

export function TestConnection({
  kind,
  id,
  name,
  credentialId,
  credentials,
  onPinned,
}: {
  kind: SshTargetKind;
  id: string;
  name: string;
  credentialId: string | null;
  credentials: CredentialOption[];
  onPinned: () => void;
}) {
  const form = useId();
  const [credential, setCredential] = useState(credentialId ?? credentials[0]?.id ?? "");
  const [result, setResult] = useState<ConnectionTestResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pinned, setPinned] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  const run = () => {
    setError(null);
    setResult(null);
    setPinned(null);
    startTransition(async () => {
      const res = await testConnectionAction({ kind, id, credentialId: credential || null });
      if (!res.ok) setError(res.error);
      else setResult(res.data);
    });
  };

  return (
    <section
      className={styles.testResult}
      aria-label={`Test connection to ${name}`}
      data-testid={`test-${name}`}
    >
      <div className={styles.actions}>
        <div className={styles.credentialPick}>
          <SelectField
            form={form}
            name="credential"
            label="Credential"
            value={credential}
            onChange={setCredential}
            options={[
              ...(credential ? [] : [{ value: "", label: "— pick a credential —" }]),
              ...credentials.map((c) => ({
                value: c.id,
                label: c.id === credentialId ? `${c.name} (stored)` : c.name,
              })),
            ]}
          />
        </div>
        <button type="button" className="button" onClick={run} disabled={pending || !credential}>
          {pending ? "Connecting…" : "Test connection"}
        </button>
        {pending && <span className="muted small">SSH handshake, gives up after a few seconds</span>}
      </div>
      {error && (
        <p className={styles.summary} role="alert">
          {error}
        </p>
      )}
      {result && (
        <div className={styles.testResult} data-testid="test-result">
          {result.error ? (
            <p className={styles.summary} role="alert">
              {result.error.message}
            </p>
          ) : (
            <p className={result.ok ? styles.success : styles.warning} role="status">
              Connected and authenticated as {result.user}@{result.host}:{result.port} with{" "}
              {result.credential}
              {result.ok
                ? "; the host key matches the pinned one."
                : "; no host key is pinned yet, so nothing else will connect until you trust it."}
            </p>
          )}
          <dl className={styles.facts}>
            <dt>Presented key</dt>
            <dd className={styles.fingerprint} data-testid="presented-fingerprint">
              {result.presentedFingerprint ?? "—"}
            </dd>
            <dt>Pinned key</dt>
            <dd className={styles.fingerprint}>{result.pinnedFingerprint ?? "none"}</dd>
            <dt>Host key</dt>
            <dd>
              <span className={`badge ${HOST_KEY_BADGE[result.hostKey].tone}`}>
                {HOST_KEY_BADGE[result.hostKey].text}
              </span>
            </dd>
            <dt>Took</dt>
            <dd>{result.durationMs} ms</dd>
          </dl>
          {pinned ? (
            <p className={styles.success} role="status">
              Pinned {pinned} for {result.name}. Test again to see it match.
            </p>
          ) : (
            result.presentedFingerprint &&
            result.presentedFingerprint !== result.pinnedFingerprint && (
              <ConfirmButton
                label="Trust this key…"
                title={`Pin the host key of ${result.name}`}
                danger={result.hostKey === "mismatch"}
                question={
                  <>
                    {result.hostKey === "mismatch" && (
                      <p className={styles.warning}>
                        {result.name} presents a different key from the one pinned. That is what a reinstall
                        looks like — and what an impostor looks like. Re-pin only if you know why it changed.
                      </p>
                    )}
                    <p>
                      Pin <span className={styles.fingerprint}>{result.presentedFingerprint}</span> for{" "}
                      {result.name}? Compare it first with the host's own, read over a path you trust (its
                      console: <span className="mono">ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</span>
                      ). From then on every SSH connection to {result.host}:{result.port} must present exactly
                      this key.
                    </p>
                  </>
                }
                confirmLabel="Trust this key"
                run={async () => {
                  const res = await trustHostKeyAction({
                    kind,
                    id,
                    fingerprint: result.presentedFingerprint,
                    previous: result.pinnedFingerprint,
                  });
                  if (res.ok) setPinned(res.data.fingerprint);
                  return res;
                }}
                onDone={onPinned}
              />
            )
          )}
        </div>
      )}
    </section>
  );
}
