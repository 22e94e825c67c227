"use client";
// Settings → clusters, nodes and load balancers. Admins add, edit and remove them, test SSH and pin
// host keys; operators see the same page for the maintenance toggles. Every button is only a
// courtesy: the server checks the role, validates and audits each change again.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useCan } from "@/components/auth/actor";
import { deleteClusterAction, deleteLoadBalancerAction, deleteNodeAction } from "@/server/actions/settings";
import type {
  ClusterSettingsView,
  CredentialOption,
  InventorySettings,
  NodeSettingsView,
} from "@/server/settings/inventory";
import { ClusterForm } from "./cluster-form";
import { ConfirmButton } from "./confirm-button";
import { LoadBalancerForm } from "./load-balancer-form";
import { MaintenanceToggle } from "./maintenance-toggle";
import { NodeForm } from "./node-form";
import styles from "./settings.module.css";
import { fetchInventorySettings, settingsKeys } from "./settings-query";
import { TestConnection } from "./test-connection";

function Fingerprint({ value }: { value: string | null }) {
  if (!value) return <span className="badge badge-warn">not pinned</span>;
  return (
    <span className={styles.fingerprint} title={value}>
      {value.slice(0, 19)}…
    </span>
  );
}

type RowPanel = "edit" | "test" | "remove" | "maintenance";

function NodeRows({
  cluster,
  node,
  credentials,
  canEdit,
  refresh,
}: {
  cluster: ClusterSettingsView;
  node: NodeSettingsView;
  credentials: CredentialOption[];
  canEdit: boolean;
  refresh: () => void;
}) {
  const canMaintain = useCan("maintenance.set");
  const [open, setOpen] = useState<RowPanel | null>(null);
  const toggle = (what: RowPanel) => setOpen((o) => (o === what ? null : what));
  const close = () => setOpen(null);
  const opener = (what: RowPanel, text: string, label: string) => (
    <button
      type="button"
      className="button button-quiet"
      aria-expanded={open === what}
      aria-label={label}
      onClick={() => toggle(what)}
    >
      {text}
    </button>
  );
  return (
    <>
      <tr data-testid={`node-${node.name}`}>
        <th scope="row">
          {node.name}
          {node.isPrimary && <span className="badge badge-ok"> primary</span>}
        </th>
        <td className="mono">
          {node.host}:{node.servicePort}
          {node.healthPath}
        </td>
        <td>
          <span className="mono">
            {node.sshUser}@:{node.sshPort}
          </span>
          <br />
          <span className="small">
            {node.credentialName ?? <span className="warn-text">no credential</span>}
          </span>
        </td>
        <td>
          <Fingerprint value={node.hostKeyFingerprint} />
        </td>
        <td>{node.role}</td>
        <td>
          {node.priority} / {node.weight}
        </td>
        <td>
          {node.maintenance ? (
            <span className="badge badge-warn">maintenance</span>
          ) : (
            <span className="muted small">{node.state}</span>
          )}
        </td>
        <td>
          <div className={styles.rowActions}>
            {canMaintain &&
              opener(
                "maintenance",
                node.maintenance ? "End maintenance…" : "Maintenance…",
                `${node.maintenance ? "End" : "Start"} maintenance for ${node.name}`,
              )}
            {canEdit && (
              <>
                {opener("test", "Test…", `Test connection to ${node.name}`)}
                {opener("edit", "Edit", `Edit ${node.name}`)}
                {opener("remove", "Remove…", `Remove ${node.name}`)}
              </>
            )}
          </div>
        </td>
      </tr>
      {open && (
        <tr className={styles.detailRow}>
          <td colSpan={8}>
            {open === "edit" && (
              <NodeForm cluster={cluster} node={node} credentials={credentials} onDone={close} />
            )}
            {open === "test" && (
              <TestConnection
                kind="node"
                id={node.id}
                name={node.name}
                credentialId={node.credentialId}
                credentials={credentials}
                onPinned={refresh}
              />
            )}
            {open === "maintenance" && (
              <MaintenanceToggle
                kind="node"
                id={node.id}
                name={node.name}
                maintenance={node.maintenance}
                startOpen
                onCancel={close}
                onChanged={() => {
                  close();
                  refresh();
                }}
              />
            )}
            {open === "remove" && (
              <ConfirmButton
                label="Remove…"
                title={`Remove ${node.name}`}
                danger
                startOpen
                onCancel={close}
                question={
                  node.isPrimary ? (
                    <>
                      {node.name} is the current primary of {cluster.name}; the server will refuse until you
                      switch over to another node.
                    </>
                  ) : (
                    <>
                      Remove <strong>{node.name}</strong> ({node.host}:{node.servicePort}) from {cluster.name}
                      ? It stops being probed and can no longer be switched to.
                    </>
                  )
                }
                confirmLabel="Remove node"
                run={() => deleteNodeAction({ id: node.id })}
                onDone={() => {
                  close();
                  refresh();
                }}
              />
            )}
          </td>
        </tr>
      )}
    </>
  );
}

function LoadBalancerSection({
  cluster,
  credentials,
  canEdit,
  refresh,
}: {
  cluster: ClusterSettingsView;
  credentials: CredentialOption[];
  canEdit: boolean;
  refresh: () => void;
}) {
  const [open, setOpen] = useState<"edit" | "test" | null>(null);
  const lb = cluster.loadBalancer;
  return (
    <div data-testid={`lb-${cluster.name}`}>
      <h3 className={styles.subhead}>Load balancer</h3>
      {lb ? (
        <dl className={styles.facts}>
          <dt>Name</dt>
          <dd>{lb.name}</dd>
          <dt>SSH</dt>
          <dd className="mono">
            {lb.sshUser}@{lb.host}:{lb.sshPort} with {lb.credentialName ?? "no credential"}
          </dd>
          <dt>Host key</dt>
          <dd>
            <Fingerprint value={lb.hostKeyFingerprint} />
          </dd>
          <dt>Upstream file</dt>
          <dd className="mono">{lb.upstreamConfigPath}</dd>
          <dt>Endpoint</dt>
          <dd className="mono">{lb.endpointUrl}</dd>
          <dt>nginx</dt>
          <dd className="mono">
            {lb.nginxBin}
            {lb.nginxConfPath ? ` -c ${lb.nginxConfPath}` : ""}
          </dd>
        </dl>
      ) : (
        <p className="muted">No load balancer: switchovers of {cluster.name} skip the traffic step.</p>
      )}
      {canEdit && (
        <div className={styles.actions}>
          {lb && (
            <button
              type="button"
              className="button button-quiet"
              aria-expanded={open === "test"}
              aria-label={`Test connection to ${lb.name}`}
              onClick={() => setOpen((o) => (o === "test" ? null : "test"))}
            >
              Test…
            </button>
          )}
          <button
            type="button"
            className="button button-quiet"
            aria-expanded={open === "edit"}
            onClick={() => setOpen((o) => (o === "edit" ? null : "edit"))}
          >
            {lb ? "Edit load balancer" : "Add load balancer"}
          </button>
          {lb && (
            <ConfirmButton
              label="Remove…"
              ariaLabel={`Remove load balancer ${lb.name}`}
              title={`Remove ${lb.name}`}
              danger
              question={
                <>
                  Remove <strong>{lb.name}</strong> from {cluster.name}? Switchovers will then move no
                  traffic: they skip the nginx step, and {lb.upstreamConfigPath} stays as it was last written.
                </>
              }
              confirmLabel="Remove load balancer"
              run={() => deleteLoadBalancerAction({ clusterId: cluster.id })}
              onDone={refresh}
            />
          )}
        </div>
      )}
      {open === "edit" && (
        <LoadBalancerForm cluster={cluster} credentials={credentials} onDone={() => setOpen(null)} />
      )}
      {open === "test" && lb && (
        <TestConnection
          kind="load_balancer"
          id={lb.id}
          name={lb.name}
          credentialId={lb.credentialId}
          credentials={credentials}
          onPinned={refresh}
        />
      )}
    </div>
  );
}

function ClusterCard({
  cluster,
  credentials,
  canEdit,
  refresh,
}: {
  cluster: ClusterSettingsView;
  credentials: CredentialOption[];
  canEdit: boolean;
  refresh: () => void;
}) {
  const [editing, setEditing] = useState(false);
  const [adding, setAdding] = useState(false);
  const headingId = `cluster-${cluster.id}`;
  return (
    <section className="panel" aria-labelledby={headingId} data-testid={`cluster-${cluster.name}`}>
      <div className={styles.cardHead}>
        <div>
          <h2 id={headingId}>{cluster.name}</h2>
          <p className="muted small">
            {cluster.mode === "active_standby" ? "active-standby" : "active-active pool"} · SLA{" "}
            {cluster.slaTargetPct}% · epoch {cluster.epoch} · policy {cluster.policyPreset ?? "default"} (
            <Link href="/settings/policies">edit</Link>)
            {cluster.mode === "active_standby" && ` · primary ${cluster.primaryName ?? "none"}`}
          </p>
          {cluster.description && <p>{cluster.description}</p>}
        </div>
        <div className={styles.badges}>
          {cluster.maintenance && <span className="badge badge-warn">maintenance</span>}
          {cluster.inFlight && (
            <Link href={`/switchovers/${cluster.inFlight.id}`} className="badge badge-warn">
              switchover in flight ({cluster.inFlight.kind}, {cluster.inFlight.state})
            </Link>
          )}
        </div>
        <div className={styles.actions}>
          <MaintenanceToggle
            kind="cluster"
            id={cluster.id}
            name={cluster.name}
            maintenance={cluster.maintenance}
            onChanged={refresh}
          />
          {canEdit && (
            <>
              <button
                type="button"
                className="button button-quiet"
                aria-expanded={editing}
                aria-label={`Edit cluster ${cluster.name}`}
                onClick={() => setEditing((e) => !e)}
              >
                Edit
              </button>
              <ConfirmButton
                label="Remove…"
                ariaLabel={`Remove cluster ${cluster.name}`}
                title={`Remove cluster ${cluster.name}`}
                danger
                question={
                  <>
                    Remove <strong>{cluster.name}</strong>
                    {cluster.nodes.length > 0 && (
                      <>
                        {" "}
                        with its {cluster.nodes.length} nodes ({cluster.nodes.map((n) => n.name).join(", ")})
                      </>
                    )}
                    {cluster.loadBalancer && <> and its load balancer {cluster.loadBalancer.name}</>}?
                    Switchyard stops watching it, and its switchover and availability history is deleted. The
                    nodes and nginx keep running as they are. This cannot be undone.
                  </>
                }
                confirmLabel="Remove cluster"
                run={() => deleteClusterAction({ id: cluster.id })}
                onDone={refresh}
              />
            </>
          )}
        </div>
      </div>
      {editing && <ClusterForm cluster={cluster} onDone={() => setEditing(false)} />}

      <h3 className={styles.subhead}>Nodes</h3>
      {cluster.nodes.length === 0 ? (
        <p className="muted">No nodes yet.</p>
      ) : (
        <div className="table-wrap">
          <table className={styles.table} aria-label={`Nodes of ${cluster.name}`}>
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Service</th>
                <th scope="col">SSH / credential</th>
                <th scope="col">Host key</th>
                <th scope="col">Role</th>
                <th scope="col">Priority / weight</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {cluster.nodes.map((n) => (
                <NodeRows
                  key={n.id}
                  cluster={cluster}
                  node={n}
                  credentials={credentials}
                  canEdit={canEdit}
                  refresh={refresh}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canEdit &&
        (adding ? (
          <NodeForm cluster={cluster} node={null} credentials={credentials} onDone={() => setAdding(false)} />
        ) : (
          <div className={styles.actions}>
            <button
              type="button"
              className="button"
              onClick={() => setAdding(true)}
              aria-label={`Add a node to ${cluster.name}`}
            >
              Add node
            </button>
          </div>
        ))}
      <LoadBalancerSection cluster={cluster} credentials={credentials} canEdit={canEdit} refresh={refresh} />
    </section>
  );
}

export function InventorySettingsView() {
  const queryClient = useQueryClient();
  const { data, error } = useQuery<InventorySettings>({
    queryKey: settingsKeys.inventory,
    queryFn: fetchInventorySettings,
  });
  const canEdit = useCan("inventory.write");
  const [creating, setCreating] = useState(false);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: settingsKeys.inventory });

  return (
    <div className={styles.page}>
      <div className="page-head">
        <div>
          <h1>Clusters, nodes and load balancers</h1>
          <p className="muted">
            The inventory the controllers watch. Changes apply at once (controllers reload), are audited, and
            never move traffic: that happens only through a switchover.
          </p>
        </div>
        {canEdit && !creating && (
          <button type="button" className="button" onClick={() => setCreating(true)}>
            New cluster
          </button>
        )}
      </div>
      {creating && (
        <div className="panel">
          <ClusterForm cluster={null} onDone={() => setCreating(false)} />
        </div>
      )}
      {error && !data && (
        <div className="panel error-panel" role="alert">
          {error.message}
        </div>
      )}
      {data && canEdit && data.credentials.length === 0 && (
        <p className={styles.warning}>
          No SSH credentials yet: <Link href="/settings/credentials">add one</Link> before adding nodes.
        </p>
      )}
      {data?.clusters.length === 0 && (
        <div className="panel empty">
          <h2>No clusters yet</h2>
          <p className="muted">
            Create one, or apply an inventory file (npm run inventory -- apply fleet.json).
          </p>
        </div>
      )}
      {data?.clusters.map((c) => (
        <ClusterCard
          key={c.id}
          cluster={c}
          credentials={data.credentials}
          canEdit={canEdit}
          refresh={refresh}
        />
      ))}
      {!data && !error && <p className="muted">Loading the inventory…</p>}
    </div>
  );
}
