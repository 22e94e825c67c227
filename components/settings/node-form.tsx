"use client";
// Adding or editing a node. The server validates with the inventory file's own rules and answers
// with one message per field, shown under that field; nothing is saved until every field is right.
// A node's name and role are fixed once it exists: traffic moves only through a switchover.
import { useQueryClient } from "@tanstack/react-query";
import { useId, useState, useTransition } from "react";
import { createNodeAction, updateNodeAction } from "@/server/actions/settings";
import type { ClusterSettingsView, CredentialOption, NodeSettingsView } from "@/server/settings/inventory";
import { errorsOf, type FieldErrors, FormStatus, SelectField, TextField } from "./form-fields";
import styles from "./settings.module.css";
import { settingsKeys } from "./settings-query";

type Values = {
  name: string;
  host: string;
  sshPort: string;
  sshUser: string;
  credential: string;
  hostKeyFingerprint: string;
  servicePort: string;
  healthPath: string;
  role: string;
  priority: string;
  weight: string;
};

function initialValues(
  cluster: ClusterSettingsView,
  node: NodeSettingsView | null,
  credentials: CredentialOption[],
): Values {
  if (node) {
    return {
      name: node.name,
      host: node.host,
      sshPort: String(node.sshPort),
      sshUser: node.sshUser,
      credential: node.credentialName ?? "",
      hostKeyFingerprint: node.hostKeyFingerprint ?? "",
      servicePort: String(node.servicePort),
      healthPath: node.healthPath,
      role: node.role,
      priority: String(node.priority),
      weight: String(node.weight),
    };
  }
  return {
    name: "",
    host: "",
    sshPort: "22",
    sshUser: "switchyard",
    credential: credentials[0]?.name ?? "",
    hostKeyFingerprint: "",
    servicePort: "8000",
    healthPath: "/health",
    role: cluster.mode === "active_active" ? "member" : cluster.primaryNodeId ? "standby" : "primary",
    priority: "100",
    weight: "1",
  };
}

function roleOptions(cluster: ClusterSettingsView) {
  if (cluster.mode === "active_active") return [{ value: "member", label: "member (pool)" }];
  return [
    ...(cluster.primaryNodeId ? [] : [{ value: "primary", label: "primary (the cluster has none yet)" }]),
    { value: "standby", label: "standby" },
  ];
}

export function NodeForm({
  cluster,
  node,
  credentials,
  onDone,
}: {
  cluster: ClusterSettingsView;
  /** null: a new node. */
  node: NodeSettingsView | null;
  credentials: CredentialOption[];
  onDone: () => void;
}) {
  const form = useId();
  const queryClient = useQueryClient();
  const [values, setValues] = useState<Values>(() => initialValues(cluster, node, credentials));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [summary, setSummary] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const set = (key: keyof Values) => (value: string) => setValues((v) => ({ ...v, [key]: value }));
  const field = (key: keyof Values) => ({
    form,
    name: key,
    value: values[key],
    onChange: set(key),
    error: errors[key],
  });

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setErrors({});
    setSummary(null);
    startTransition(async () => {
      const { name, role, ...editable } = values;
      const res = node
        ? await updateNodeAction({ id: node.id, ...editable })
        : await createNodeAction({ clusterId: cluster.id, name, role, ...editable });
      if (!res.ok) {
        const { fields, summary } = errorsOf(res);
        setErrors(fields);
        setSummary(summary);
        return;
      }
      await queryClient.invalidateQueries({ queryKey: settingsKeys.inventory });
      onDone();
    });
  };

  const title = node ? `Edit node ${node.name}` : `Add a node to ${cluster.name}`;
  return (
    <form className={styles.form} onSubmit={submit} noValidate aria-label={title}>
      <h3 className={styles.formTitle}>{title}</h3>
      <div className={styles.fields}>
        <TextField
          {...field("name")}
          label="Name"
          readOnly={!!node}
          placeholder="e.g. gpu-c"
          hint={
            node ? "Fixed once created." : "Lowercase letters, digits and '-'; unique across all clusters."
          }
          required
        />
        <TextField {...field("host")} label="Host" placeholder="10.0.0.13 or gpu-c.internal" required />
        <TextField {...field("servicePort")} label="Service port" inputMode="numeric" />
        <TextField {...field("healthPath")} label="Health path" />
        <TextField {...field("sshPort")} label="SSH port" inputMode="numeric" />
        <TextField {...field("sshUser")} label="SSH user" />
        <SelectField
          {...field("credential")}
          label="Credential"
          options={[
            ...(values.credential ? [] : [{ value: "", label: "— none yet: add one under Credentials —" }]),
            ...credentials.map((c) => ({ value: c.name, label: c.name })),
          ]}
        />
        {node ? (
          <TextField {...field("role")} label="Role" readOnly hint="Changes only through a switchover." />
        ) : (
          <SelectField {...field("role")} label="Role" options={roleOptions(cluster)} />
        )}
        <TextField
          {...field("priority")}
          label="Priority"
          inputMode="numeric"
          hint="Lower is preferred as a standby."
        />
        <TextField {...field("weight")} label="Weight" inputMode="numeric" hint="nginx weight in a pool." />
        <TextField
          {...field("hostKeyFingerprint")}
          label="Host key fingerprint"
          mono
          wide
          placeholder="SHA256:… (leave empty and pin it from Test connection)"
          hint="ssh-keyscan -t ed25519 HOST | ssh-keygen -lf - prints it. Empty: no SSH to this node until a key is pinned."
        />
      </div>
      <FormStatus error={summary} />
      <div className={styles.actions}>
        <button type="submit" className="button" disabled={pending}>
          {pending ? "Saving…" : node ? "Save node" : "Add node"}
        </button>
        <button type="button" className="button button-quiet" onClick={onDone} disabled={pending}>
          Cancel
        </button>
      </div>
    </form>
  );
}
