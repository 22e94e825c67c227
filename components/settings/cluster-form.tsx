"use client";
// Creating a cluster (name, mode, SLA, the policy preset it starts with) or editing one (description
// and SLA: a cluster's name and mode are fixed once it exists). Messages come back per field.
import { useQueryClient } from "@tanstack/react-query";
import { useId, useState, useTransition } from "react";
import { createClusterAction, updateClusterAction } from "@/server/actions/settings";
import { POLICY_PRESET_IDS, POLICY_PRESETS } from "@/server/policy/presets";
import type { ClusterSettingsView } from "@/server/settings/inventory";
import { errorsOf, type FieldErrors, FormStatus, SelectField, TextField } from "./form-fields";
import styles from "./settings.module.css";
import { settingsKeys } from "./settings-query";

const MODES = [
  { value: "active_standby", label: "active-standby (one primary, warm standbys)" },
  { value: "active_active", label: "active-active (a weighted pool)" },
];

export function ClusterForm({
  cluster,
  onDone,
}: {
  /** null: a new cluster. */
  cluster: ClusterSettingsView | null;
  onDone: (created?: { id: string; name: string }) => void;
}) {
  const form = useId();
  const queryClient = useQueryClient();
  const [values, setValues] = useState({
    name: cluster?.name ?? "",
    description: cluster?.description ?? "",
    mode: cluster?.mode ?? "active_standby",
    slaTargetPct: String(cluster?.slaTargetPct ?? "99.9"),
    preset: "default",
  });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [summary, setSummary] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  type Key = keyof typeof values;
  const field = (key: Key) => ({
    form,
    name: key,
    value: values[key],
    onChange: (value: string) => setValues((v) => ({ ...v, [key]: value })),
    error: errors[key],
  });
  const preset = POLICY_PRESETS[values.preset as keyof typeof POLICY_PRESETS];

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setErrors({});
    setSummary(null);
    startTransition(async () => {
      const res = cluster
        ? await updateClusterAction({
            id: cluster.id,
            description: values.description,
            slaTargetPct: values.slaTargetPct,
          })
        : await createClusterAction(values);
      if (!res.ok) {
        const { fields, summary } = errorsOf(res);
        setErrors(fields);
        setSummary(summary);
        return;
      }
      await queryClient.invalidateQueries({ queryKey: settingsKeys.inventory });
      onDone("name" in res.data ? res.data : undefined);
    });
  };

  const title = cluster ? `Edit cluster ${cluster.name}` : "New cluster";
  return (
    <form className={styles.form} onSubmit={submit} noValidate aria-label={title}>
      <h3 className={styles.formTitle}>{title}</h3>
      <div className={styles.fields}>
        <TextField
          {...field("name")}
          label="Name"
          readOnly={!!cluster}
          placeholder="e.g. gte-pro-search"
          hint={cluster ? "Fixed once created." : "Lowercase letters, digits and '-'."}
        />
        {cluster ? (
          <TextField {...field("mode")} label="Mode" readOnly hint="Fixed once created." />
        ) : (
          <SelectField {...field("mode")} label="Mode" options={MODES} />
        )}
        <TextField
          {...field("slaTargetPct")}
          label="SLA target (%)"
          inputMode="decimal"
          hint="e.g. 99.99: the availability reports measure against it."
        />
        {!cluster && (
          <SelectField
            {...field("preset")}
            label="Failover policy"
            options={POLICY_PRESET_IDS.map((id) => ({ value: id, label: POLICY_PRESETS[id].label }))}
            hint={preset?.description}
          />
        )}
        <TextField
          {...field("description")}
          label="Description"
          wide
          placeholder="What this cluster serves"
        />
      </div>
      {!cluster && preset?.warning && (
        <p className={styles.warning} role="note">
          {preset.warning}
        </p>
      )}
      <FormStatus error={summary} />
      <div className={styles.actions}>
        <button type="submit" className="button" disabled={pending}>
          {pending ? "Saving…" : cluster ? "Save cluster" : "Create cluster"}
        </button>
        <button type="button" className="button button-quiet" onClick={() => onDone()} disabled={pending}>
          Cancel
        </button>
      </div>
    </form>
  );
}
