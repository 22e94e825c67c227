"use client";
// A cluster's load balancer: the nginx host Switchyard reaches over SSH to rewrite the cluster's
// upstream include file. Its paths and URL pass the very checks the switch templates apply when
// they render them, so what saves here is what a switchover can use.
import { useQueryClient } from "@tanstack/react-query";
import { useId, useState, useTransition } from "react";
import { saveLoadBalancerAction } from "@/server/actions/settings";
import type { ClusterSettingsView, CredentialOption } from "@/server/settings/inventory";
import { errorsOf, type FieldErrors, FormStatus, SelectField, TextField } from "./form-fields";
import styles from "./settings.module.css";
import { settingsKeys } from "./settings-query";

export function LoadBalancerForm({
  cluster,
  credentials,
  onDone,
}: {
  cluster: ClusterSettingsView;
  credentials: CredentialOption[];
  onDone: () => void;
}) {
  const form = useId();
  const queryClient = useQueryClient();
  const lb = cluster.loadBalancer;
  const [values, setValues] = useState({
    name: lb?.name ?? "",
    host: lb?.host ?? "",
    sshPort: String(lb?.sshPort ?? 22),
    sshUser: lb?.sshUser ?? "switchyard",
    credential: lb?.credentialName ?? credentials[0]?.name ?? "",
    hostKeyFingerprint: lb?.hostKeyFingerprint ?? "",
    upstreamConfigPath: lb?.upstreamConfigPath ?? "",
    endpointUrl: lb?.endpointUrl ?? "",
    nginxBin: lb?.nginxBin ?? "nginx",
    nginxConfPath: lb?.nginxConfPath ?? "",
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

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setErrors({});
    setSummary(null);
    startTransition(async () => {
      const res = await saveLoadBalancerAction({ clusterId: cluster.id, ...values });
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

  const title = lb ? `Edit load balancer ${lb.name}` : `Add a load balancer to ${cluster.name}`;
  return (
    <form className={styles.form} onSubmit={submit} noValidate aria-label={title}>
      <h3 className={styles.formTitle}>{title}</h3>
      <div className={styles.fields}>
        <TextField
          {...field("name")}
          label="Name"
          placeholder={`lb-${cluster.name}`}
          hint="Empty: lb-<cluster>."
        />
        <TextField {...field("host")} label="Host" placeholder="lb1.internal" />
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
        <TextField
          {...field("upstreamConfigPath")}
          label="Upstream file"
          mono
          placeholder={`/etc/nginx/switchyard/${cluster.name}.conf`}
          hint="The include file Switchyard owns and rewrites (one upstream block)."
        />
        <TextField
          {...field("endpointUrl")}
          label="Endpoint URL"
          inputMode="url"
          placeholder="http://search.internal/"
          hint="What clients use; verify checks it answers after a switch."
        />
        <TextField
          {...field("nginxBin")}
          label="nginx binary"
          mono
          hint="A command name or an absolute path."
        />
        <TextField
          {...field("nginxConfPath")}
          label="nginx config"
          mono
          placeholder="nginx's default"
          hint="The main config for nginx -t -c; empty for nginx's default."
        />
        <TextField
          {...field("hostKeyFingerprint")}
          label="Host key fingerprint"
          mono
          wide
          placeholder="SHA256:… (leave empty and pin it from Test connection)"
        />
      </div>
      <FormStatus error={summary} />
      <div className={styles.actions}>
        <button type="submit" className="button" disabled={pending}>
          {pending ? "Saving…" : lb ? "Save load balancer" : "Add load balancer"}
        </button>
        <button type="button" className="button button-quiet" onClick={onDone} disabled={pending}>
          Cancel
        </button>
      </div>
    </form>
  );
}
