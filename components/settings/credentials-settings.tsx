"use client";
// Settings → SSH credentials, write-only: paste a private key once; from then on only its name,
// public half and fingerprint are shown. Rotating replaces the key in place, so every node and load
// balancer using it switches at once. The pasted text is dropped from the form as soon as it is saved.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, useTransition } from "react";
import { Time } from "@/components/ui/time";
import { createCredentialAction, rotateCredentialAction } from "@/server/actions/settings";
import type { CredentialView } from "@/server/settings/credentials";
import { errorsOf, type FieldErrors, FormStatus, TextAreaField, TextField } from "./form-fields";
import styles from "./settings.module.css";
import { fetchCredentials, settingsKeys } from "./settings-query";

const KEY_PLACEHOLDER = "-----BEGIN OPENSSH PRIVATE KEY-----\n…\n-----END OPENSSH PRIVATE KEY-----";
const KEY_HINT =
  'An unencrypted OpenSSH or PEM private key (ssh-keygen -t ed25519 -N "" -f switchyard). It is encrypted with the server\'s key and can never be shown again.';

function CreateCredentialForm() {
  const form = useId();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [privateKey, setPrivateKey] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [summary, setSummary] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setErrors({});
    setSummary(null);
    setSaved(null);
    startTransition(async () => {
      const res = await createCredentialAction({ name, privateKey });
      if (!res.ok) {
        const { fields, summary } = errorsOf(res);
        setErrors(fields);
        setSummary(summary);
        return;
      }
      setName("");
      setPrivateKey("");
      setSaved(
        `Stored ${res.data.name} (${res.data.fingerprint}). Add its public key to authorized_keys on each host.`,
      );
      await queryClient.invalidateQueries({ queryKey: settingsKeys.credentials });
    });
  };

  return (
    <form className={`panel ${styles.form}`} onSubmit={submit} noValidate aria-label="New credential">
      <h2>New credential</h2>
      <div className={styles.fields}>
        <TextField
          form={form}
          name="name"
          label="Name"
          value={name}
          onChange={setName}
          error={errors.name}
          placeholder="e.g. fleet-key"
          hint="Nodes and load balancers refer to it by this name."
        />
        <TextAreaField
          form={form}
          name="privateKey"
          label="Private key"
          value={privateKey}
          onChange={setPrivateKey}
          error={errors.privateKey}
          rows={7}
          placeholder={KEY_PLACEHOLDER}
          hint={KEY_HINT}
        />
      </div>
      <FormStatus error={summary} success={saved} />
      <div className={styles.actions}>
        <button type="submit" className="button" disabled={pending}>
          {pending ? "Storing…" : "Store credential"}
        </button>
      </div>
    </form>
  );
}

function RotateForm({ credential, onDone }: { credential: CredentialView; onDone: () => void }) {
  const form = useId();
  const queryClient = useQueryClient();
  const [privateKey, setPrivateKey] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [summary, setSummary] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const users = credential.usedBy.length;

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setErrors({});
    setSummary(null);
    startTransition(async () => {
      const res = await rotateCredentialAction({ id: credential.id, privateKey });
      if (!res.ok) {
        const { fields, summary } = errorsOf(res);
        setErrors(fields);
        setSummary(summary);
        return;
      }
      setPrivateKey("");
      await queryClient.invalidateQueries({ queryKey: settingsKeys.credentials });
      onDone();
    });
  };

  return (
    <form className={styles.form} onSubmit={submit} noValidate aria-label={`Rotate ${credential.name}`}>
      <p className={styles.warning}>
        {users > 0
          ? `${users} ${users === 1 ? "host uses" : "hosts use"} ${credential.name} (${credential.usedBy.join(", ")}): `
          : ""}
        add the new public key to their authorized_keys before rotating, or Switchyard loses SSH to them at
        once.
      </p>
      <TextAreaField
        form={form}
        name="privateKey"
        label="New private key"
        value={privateKey}
        onChange={setPrivateKey}
        error={errors.privateKey}
        rows={7}
        placeholder={KEY_PLACEHOLDER}
        hint={KEY_HINT}
      />
      <FormStatus error={summary} />
      <div className={styles.actions}>
        <button type="submit" className="button button-danger" disabled={pending}>
          {pending ? "Rotating…" : `Rotate ${credential.name}`}
        </button>
        <button type="button" className="button button-quiet" onClick={onDone} disabled={pending}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function CredentialRow({ credential }: { credential: CredentialView }) {
  const [rotating, setRotating] = useState(false);
  return (
    <>
      <tr data-testid={`credential-${credential.name}`}>
        <th scope="row">{credential.name}</th>
        <td>
          <span className={styles.fingerprint}>{credential.fingerprint ?? "—"}</span>
        </td>
        <td className={styles.wrap}>
          <code className={styles.fingerprint} title="Public key: add it to authorized_keys">
            {credential.publicKey ?? "—"}
          </code>
        </td>
        <td>
          <Time iso={credential.createdAt} />
        </td>
        <td>
          <Time iso={credential.rotatedAt} />
        </td>
        <td className={styles.wrap}>
          {credential.usedBy.length > 0 ? (
            credential.usedBy.join(", ")
          ) : (
            <span className="muted">unused</span>
          )}
        </td>
        <td>
          <button
            type="button"
            className="button button-quiet"
            aria-expanded={rotating}
            aria-label={`Rotate ${credential.name}`}
            onClick={() => setRotating((r) => !r)}
          >
            Rotate…
          </button>
        </td>
      </tr>
      {rotating && (
        <tr className={styles.detailRow}>
          <td colSpan={7}>
            <RotateForm credential={credential} onDone={() => setRotating(false)} />
          </td>
        </tr>
      )}
    </>
  );
}

export function CredentialsSettingsView() {
  const { data, error } = useQuery({ queryKey: settingsKeys.credentials, queryFn: fetchCredentials });
  return (
    <div className={styles.page}>
      <div className="page-head">
        <div>
          <h1>SSH credentials</h1>
          <p className="muted">
            Write-only: private keys are sealed with AES-256-GCM under the server's secret key and never leave
            it — not to this page, not to the API, not to logs.
          </p>
        </div>
      </div>
      <CreateCredentialForm />
      {error && !data && (
        <div className="panel error-panel" role="alert">
          {error.message}
        </div>
      )}
      {data &&
        (data.length === 0 ? (
          <div className="panel empty">
            <h2>No credentials yet</h2>
            <p className="muted">Store the key Switchyard uses to reach your nodes and load balancers.</p>
          </div>
        ) : (
          <div className="panel table-wrap">
            <table className={styles.table} aria-label="SSH credentials">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Fingerprint</th>
                  <th scope="col">Public key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Rotated</th>
                  <th scope="col">Used by</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.map((c) => (
                  <CredentialRow key={c.id} credential={c} />
                ))}
              </tbody>
            </table>
          </div>
        ))}
      {!data && !error && <p className="muted">Loading credentials…</p>}
    </div>
  );
}
