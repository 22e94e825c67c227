"use client";
// Settings → failover policy, per cluster. Picking a preset fills its values in (alert thresholds
// and failover settings it does not mention stay as they are) and shows its warning; every field can
// then be adjusted. The server validates with the one policy schema and saves the next version; the
// policy is also shown in plain words, so an operator reads what it will do before saving.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, useTransition } from "react";
import { savePolicyAction } from "@/server/actions/settings";
import {
  applyPreset,
  describePolicy,
  isPolicyPresetId,
  POLICY_FIELD_LABELS,
  POLICY_PRESET_IDS,
  POLICY_PRESETS,
  type Policy,
  TRIPLE_CHECK_WARNING,
} from "@/server/policy/presets";
import type { PolicySettingsView } from "@/server/settings/policy";
import { CheckboxField, errorsOf, type FieldErrors, FormStatus, SelectField, TextField } from "./form-fields";
import styles from "./settings.module.css";
import { fetchPolicySettings, settingsKeys } from "./settings-query";

type NumericKey = Exclude<keyof Policy, "preset" | "signalsRequired" | "autoFailover">;
type FormValues = Record<NumericKey, string> & {
  preset: string;
  signalsRequired: Policy["signalsRequired"];
  autoFailover: boolean;
};

const UNITS: Record<NumericKey, string> = {
  probeIntervalMs: "ms",
  tcpTimeoutMs: "ms",
  httpTimeoutMs: "ms",
  latencyThresholdMs: "ms",
  failuresToFail: "probes",
  successesToRecover: "probes",
  gpuTempAlertC: "°C",
  gpuMemoryAlertPct: "%",
  gpuUtilSaturationPct: "%",
  gpuSaturationSustainS: "s",
  cooldownS: "s",
  freezeAfterFailoversPerHour: "failovers",
  verifyDeadlineMs: "ms",
};

const GROUPS: ReadonlyArray<{ title: string; fields: NumericKey[] }> = [
  { title: "Probing", fields: ["probeIntervalMs", "tcpTimeoutMs", "httpTimeoutMs", "latencyThresholdMs"] },
  { title: "Detection", fields: ["failuresToFail", "successesToRecover"] },
  {
    title: "GPU alerts",
    fields: ["gpuTempAlertC", "gpuMemoryAlertPct", "gpuUtilSaturationPct", "gpuSaturationSustainS"],
  },
  { title: "Failover", fields: ["cooldownS", "freezeAfterFailoversPerHour", "verifyDeadlineMs"] },
];

const SIGNALS = [
  { value: "any", label: "any signal (TCP or HTTP)" },
  { value: "tcp_and_http", label: "TCP and HTTP must both fail" },
  { value: "all", label: "TCP, HTTP and GPU saturation must all agree" },
];

function toForm(p: Policy): FormValues {
  const out = {
    preset: p.preset,
    signalsRequired: p.signalsRequired,
    autoFailover: p.autoFailover,
  } as FormValues;
  for (const k of Object.keys(UNITS) as NumericKey[]) out[k] = String(p[k]);
  return out;
}

/** The form as a policy, or null while a number field does not hold a number. */
function fromForm(v: FormValues): Policy | null {
  const out = {
    preset: v.preset,
    signalsRequired: v.signalsRequired,
    autoFailover: v.autoFailover,
  } as Policy;
  for (const k of Object.keys(UNITS) as NumericKey[]) {
    const n = Number(v[k].trim());
    if (v[k].trim() === "" || !Number.isFinite(n)) return null;
    out[k] = n;
  }
  return out;
}

function PolicyForm({ view }: { view: PolicySettingsView }) {
  const form = useId();
  const queryClient = useQueryClient();
  const [values, setValues] = useState<FormValues>(() => toForm(view.policy));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [summary, setSummary] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const preset = isPolicyPresetId(values.preset) ? POLICY_PRESETS[values.preset] : null;
  const parsed = fromForm(values);

  const pickPreset = (id: string) => {
    if (!isPolicyPresetId(id)) return;
    // Over the values on screen, so thresholds the preset does not mention keep what was typed.
    const base = fromForm(values) ?? view.policy;
    setValues(toForm(applyPreset(id, base)));
    setSaved(null);
  };

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setErrors({});
    setSummary(null);
    setSaved(null);
    startTransition(async () => {
      const res = await savePolicyAction({
        clusterId: view.clusterId,
        expectedVersion: view.version,
        ...values,
      });
      if (!res.ok) {
        const { fields, summary } = errorsOf(res);
        setErrors(fields);
        setSummary(summary);
        return;
      }
      setSaved(
        res.data.changed.length === 0
          ? "Nothing changed."
          : `Saved as version ${res.data.version} (${res.data.changed.map((k) => POLICY_FIELD_LABELS[k as keyof Policy] ?? k).join(", ")}). Controllers use it from now on.`,
      );
      await queryClient.invalidateQueries({ queryKey: settingsKeys.policies });
    });
  };

  return (
    <form
      className={`panel ${styles.form}`}
      onSubmit={submit}
      noValidate
      aria-label={`Policy of ${view.clusterName}`}
    >
      <div className={styles.cardHead}>
        <h2>{view.clusterName}</h2>
        <p className="muted small">
          {view.version === null ? "defaults (never saved)" : `version ${view.version}`}
          {view.mode === "active_active" ? " · active-active pool" : ""}
        </p>
      </div>
      <div className={styles.fields}>
        <SelectField
          form={form}
          name="preset"
          label="Preset"
          value={values.preset}
          onChange={pickPreset}
          error={errors.preset}
          options={[
            ...(preset ? [] : [{ value: values.preset, label: `${values.preset} (unknown)` }]),
            ...POLICY_PRESET_IDS.map((id) => ({ value: id, label: POLICY_PRESETS[id].label })),
          ]}
          hint={preset?.description}
          wide
        />
      </div>
      {preset?.warning && (
        <p className={styles.warning} role="note" data-testid="preset-warning">
          {preset.warning}
        </p>
      )}
      {values.signalsRequired === "all" && preset?.id !== "triple_check" && (
        <p className={styles.warning} role="note">
          {TRIPLE_CHECK_WARNING}
        </p>
      )}
      {GROUPS.map((g) => (
        <fieldset key={g.title} className={styles.group}>
          <legend>{g.title}</legend>
          <div className={styles.fields}>
            {g.title === "Detection" && (
              <SelectField
                form={form}
                name="signalsRequired"
                label={POLICY_FIELD_LABELS.signalsRequired}
                value={values.signalsRequired}
                onChange={(v) =>
                  setValues((s) => ({ ...s, signalsRequired: v as Policy["signalsRequired"] }))
                }
                error={errors.signalsRequired}
                options={SIGNALS}
              />
            )}
            {g.title === "Failover" && (
              <CheckboxField
                form={form}
                name="autoFailover"
                label={POLICY_FIELD_LABELS.autoFailover}
                checked={values.autoFailover}
                onChange={(checked) => setValues((s) => ({ ...s, autoFailover: checked }))}
                error={errors.autoFailover}
              />
            )}
            {g.fields.map((k) => (
              <TextField
                key={k}
                form={form}
                name={k}
                label={`${POLICY_FIELD_LABELS[k]} (${UNITS[k]})`}
                value={values[k]}
                onChange={(v) => setValues((s) => ({ ...s, [k]: v }))}
                error={errors[k]}
                inputMode="numeric"
              />
            ))}
          </div>
        </fieldset>
      ))}
      {parsed && (
        <details>
          <summary>In plain words</summary>
          <ul className={styles.preview}>
            {describePolicy(parsed).map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        </details>
      )}
      <FormStatus error={summary} success={saved} />
      <div className={styles.actions}>
        <button type="submit" className="button" disabled={pending}>
          {pending ? "Saving…" : "Save policy"}
        </button>
        <button
          type="button"
          className="button button-quiet"
          disabled={pending}
          onClick={() => {
            setValues(toForm(view.policy));
            setErrors({});
            setSummary(null);
            setSaved(null);
          }}
        >
          Reset
        </button>
      </div>
    </form>
  );
}

export function PolicyEditorView() {
  const { data, error } = useQuery({ queryKey: settingsKeys.policies, queryFn: fetchPolicySettings });
  const form = useId();
  const [clusterId, setClusterId] = useState<string | null>(null);
  const selected = data?.find((p) => p.clusterId === clusterId) ?? data?.[0] ?? null;
  return (
    <div className={styles.page}>
      <div className="page-head">
        <div>
          <h1>Failover policy</h1>
          <p className="muted">
            How each cluster's nodes are judged and when it fails over by itself. High GPU utilisation alone
            never fails a node, under any preset.
          </p>
        </div>
        {data && data.length > 0 && (
          <SelectField
            form={form}
            name="cluster"
            label="Cluster"
            value={selected?.clusterId ?? ""}
            onChange={setClusterId}
            options={data.map((p) => ({ value: p.clusterId, label: p.clusterName }))}
          />
        )}
      </div>
      {error && !data && (
        <div className="panel error-panel" role="alert">
          {error.message}
        </div>
      )}
      {data?.length === 0 && <p className="muted">No clusters yet.</p>}
      {selected && <PolicyForm key={selected.clusterId} view={selected} />}
      {!data && !error && <p className="muted">Loading policies…</p>}
    </div>
  );
}
