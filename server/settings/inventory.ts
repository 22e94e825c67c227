/**
 * Settings → clusters, nodes and load balancers: the same inventory the file-based `inventory apply`
 * manages (server/inventory/apply.ts), one row at a time from a form.
 *
 * The rules are the inventory file's: every field goes through the very schemas of
 * server/inventory/schema.ts (names, hosts, ports, SSH users, fingerprints, the load balancer's
 * template-checked paths and URL), and what only the database can tell is checked here with messages
 * aimed at one field (a name or endpoint taken, a credential that does not exist, a second primary).
 * Bad input throws SettingsError("invalid") before anything is written.
 *
 * What a form will not do, for the same reasons apply will not:
 * - move traffic. A node's role and a cluster's primary change only through a switchover; a node
 *   becomes primary here only as the first primary of a cluster that has none (at epoch ≥ 1).
 * - change a cluster's name or mode, or a node's name (they are baked into upstream names, the
 *   journal and the history); create a new one instead.
 * - touch a cluster with a switchover in flight (nodes, load balancer, removal): the engine is
 *   driving it. The cluster row is locked first, as requestSwitchover does, so the check holds.
 * - remove a cluster's current primary.
 *
 * Every change writes its audit row and NOTIFYs the controllers in the same transaction.
 */
import { and, asc, eq, ne, notInArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx, Tx } from "@/db/client";
import {
  clusters,
  credentials,
  loadBalancers,
  nodes,
  policies,
  switchovers,
  TERMINAL_SWITCHOVER_STATES,
} from "@/db/schema";
import { type AuditEntry, appendAudit } from "@/server/audit/append";
import {
  defaultLoadBalancerName,
  endpointKey,
  inventoryClusterSchema,
  inventoryLoadBalancerSchema,
  inventoryNodeSchema,
  LOAD_BALANCER_DEFAULTS,
  NAME_RE,
  NODE_DEFAULTS,
  upstreamPathKey,
} from "@/server/inventory/schema";
import { notifyInventoryChanged } from "@/server/notify/events";
import {
  applyPreset,
  isPolicyPresetId,
  POLICY_PRESET_IDS,
  type PolicyPresetId,
} from "@/server/policy/presets";
import { type FieldIssue, invalidInput, notFound, parseInput, SettingsError } from "./errors";
import { normalizeForm } from "./form";

/** Who is acting, as the audit log records them (guard.ts `auditActor`). */
export type AuditWho = Pick<AuditEntry, "actorUserId" | "actorLabel" | "actorRole" | "address">;

// ---------------------------------------------------------------------------------------------
// Views

export type NodeSettingsView = {
  id: string;
  name: string;
  host: string;
  sshPort: number;
  sshUser: string;
  credentialId: string | null;
  credentialName: string | null;
  hostKeyFingerprint: string | null;
  servicePort: number;
  healthPath: string;
  role: "primary" | "standby" | "member";
  priority: number;
  weight: number;
  maintenance: boolean;
  state: string;
  /** The cluster's target primary. */
  isPrimary: boolean;
};

export type LoadBalancerSettingsView = {
  id: string;
  name: string;
  host: string;
  sshPort: number;
  sshUser: string;
  credentialId: string | null;
  credentialName: string | null;
  hostKeyFingerprint: string | null;
  upstreamConfigPath: string;
  endpointUrl: string;
  nginxBin: string;
  nginxConfPath: string | null;
};

export type InFlightView = { id: string; kind: string; state: string };

export type ClusterSettingsView = {
  id: string;
  name: string;
  description: string;
  mode: "active_standby" | "active_active";
  slaTargetPct: number;
  maintenance: boolean;
  epoch: number;
  primaryNodeId: string | null;
  primaryName: string | null;
  policyPreset: string | null;
  inFlight: InFlightView | null;
  loadBalancer: LoadBalancerSettingsView | null;
  nodes: NodeSettingsView[];
};

export type CredentialOption = { id: string; name: string; fingerprint: string | null };

export type InventorySettings = { clusters: ClusterSettingsView[]; credentials: CredentialOption[] };

async function inFlightByCluster(db: DbOrTx): Promise<Map<string, InFlightView>> {
  const rows = await db
    .select({
      id: switchovers.id,
      clusterId: switchovers.clusterId,
      kind: switchovers.kind,
      state: switchovers.state,
    })
    .from(switchovers)
    .where(notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]));
  return new Map(rows.map((r) => [r.clusterId, { id: r.id, kind: r.kind, state: r.state }]));
}

export async function listInventorySettings(db: DbOrTx): Promise<InventorySettings> {
  const [clusterRows, lbRows, credentialRows, inFlight] = await Promise.all([
    db.query.clusters.findMany({
      with: { nodes: { orderBy: [asc(nodes.priority), asc(nodes.name)] }, policy: true },
      orderBy: asc(clusters.name),
    }),
    db.select().from(loadBalancers),
    db
      .select({ id: credentials.id, name: credentials.name, fingerprint: credentials.fingerprint })
      .from(credentials)
      .orderBy(asc(credentials.name)),
    inFlightByCluster(db),
  ]);
  const credentialName = new Map(credentialRows.map((c) => [c.id, c.name]));
  const nameOf = (id: string | null) => (id ? (credentialName.get(id) ?? null) : null);
  const lbById = new Map(lbRows.map((l) => [l.id, l]));
  return {
    credentials: credentialRows,
    clusters: clusterRows.map((c) => {
      const lb = c.loadBalancerId ? lbById.get(c.loadBalancerId) : undefined;
      return {
        id: c.id,
        name: c.name,
        description: c.description,
        mode: c.mode,
        slaTargetPct: c.slaTargetPct,
        maintenance: c.maintenance,
        epoch: c.epoch,
        primaryNodeId: c.primaryNodeId,
        primaryName: c.nodes.find((n) => n.id === c.primaryNodeId)?.name ?? null,
        policyPreset: c.policy?.preset ?? null,
        inFlight: inFlight.get(c.id) ?? null,
        loadBalancer: lb
          ? {
              id: lb.id,
              name: lb.name,
              host: lb.host,
              sshPort: lb.sshPort,
              sshUser: lb.sshUser,
              credentialId: lb.credentialId,
              credentialName: nameOf(lb.credentialId),
              hostKeyFingerprint: lb.hostKeyFingerprint,
              upstreamConfigPath: lb.upstreamConfigPath,
              endpointUrl: lb.endpointUrl,
              nginxBin: lb.nginxBin,
              nginxConfPath: lb.nginxConfPath,
            }
          : null,
        nodes: c.nodes.map((n) => ({
          id: n.id,
          name: n.name,
          host: n.host,
          sshPort: n.sshPort,
          sshUser: n.sshUser,
          credentialId: n.credentialId,
          credentialName: nameOf(n.credentialId),
          hostKeyFingerprint: n.hostKeyFingerprint,
          servicePort: n.servicePort,
          healthPath: n.healthPath,
          role: n.role,
          priority: n.priority,
          weight: n.weight,
          maintenance: n.maintenance,
          state: n.state,
          isPrimary: n.id === c.primaryNodeId,
        })),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Shared checks

type ClusterRow = typeof clusters.$inferSelect;

/** Locks the cluster row (as requestSwitchover does), so "no switchover in flight" stays true. */
async function lockCluster(tx: Tx, id: string): Promise<ClusterRow> {
  const [row] = await tx.select().from(clusters).where(eq(clusters.id, id)).for("update");
  if (!row) throw notFound("This cluster");
  return row;
}

async function refuseInFlight(tx: Tx, cluster: ClusterRow, what: string): Promise<void> {
  const [running] = await tx
    .select({ kind: switchovers.kind, state: switchovers.state })
    .from(switchovers)
    .where(
      and(
        eq(switchovers.clusterId, cluster.id),
        notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]),
      ),
    )
    .limit(1);
  if (running) {
    throw new SettingsError(
      "refused",
      `${cluster.name} has a switchover in flight (${running.kind}, ${running.state}); ${what} must wait until it finishes.`,
    );
  }
}

async function credentialIdByName(tx: Tx, name: string, issues: FieldIssue[]): Promise<string | null> {
  const [row] = await tx.select({ id: credentials.id }).from(credentials).where(eq(credentials.name, name));
  if (!row) {
    issues.push({
      field: "credential",
      message: `There is no credential named "${name}": add it under Credentials first.`,
    });
    return null;
  }
  return row.id;
}

function changed<T extends Record<string, unknown>>(before: T, after: T): (keyof T & string)[] {
  return (Object.keys(after) as (keyof T & string)[]).filter((k) => before[k] !== after[k]);
}

function pick<T extends Record<string, unknown>>(obj: T, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, obj[k]]));
}

const uuid = (label: string) => z.uuid({ error: `${label} is not a valid id.` });

// ---------------------------------------------------------------------------------------------
// Clusters

const C = inventoryClusterSchema.shape;

export const CLUSTER_LABELS = {
  name: "Name",
  description: "Description",
  mode: "Mode",
  slaTargetPct: "SLA target",
  preset: "Policy preset",
} as const;

const presetSchema = z
  .string({ error: `must be one of: ${POLICY_PRESET_IDS.join(", ")}` })
  .refine(isPolicyPresetId, { error: `must be one of: ${POLICY_PRESET_IDS.join(", ")}` })
  .transform((v) => v as PolicyPresetId);

const createClusterSchema = z.object({
  name: C.name,
  description: C.description,
  mode: C.mode,
  slaTargetPct: C.slaTargetPct,
  preset: presetSchema.optional(),
});

const updateClusterSchema = z.object({
  id: uuid("Cluster"),
  description: C.description,
  slaTargetPct: C.slaTargetPct,
});

const CLUSTER_NUMERIC = ["slaTargetPct"] as const;

export async function createCluster(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; name: string }> {
  const v = parseInput(
    createClusterSchema,
    normalizeForm(input, { numeric: CLUSTER_NUMERIC, raw: ["description"] }),
    CLUSTER_LABELS,
  );
  const description = (v.description ?? "").trim();
  const preset = v.preset ?? "default";
  return await db.transaction(async (tx) => {
    const [taken] = await tx.select({ id: clusters.id }).from(clusters).where(eq(clusters.name, v.name));
    if (taken) {
      throw invalidInput([{ field: "name", message: `A cluster named ${v.name} already exists.` }]);
    }
    const [row] = await tx
      .insert(clusters)
      .values({ name: v.name, description, mode: v.mode, slaTargetPct: v.slaTargetPct })
      .returning({ id: clusters.id });
    if (!row) throw new Error("cluster insert returned no row");
    const policy = applyPreset(preset);
    const [policyRow] = await tx
      .insert(policies)
      .values({ clusterId: row.id, ...policy })
      .returning({ id: policies.id });
    await appendAudit(tx, {
      ...who,
      action: "cluster.create",
      targetType: "cluster",
      targetId: row.id,
      clusterId: row.id,
      after: { name: v.name, description, mode: v.mode, slaTargetPct: v.slaTargetPct, preset },
    });
    await appendAudit(tx, {
      ...who,
      action: "policy.create",
      targetType: "policy",
      targetId: policyRow?.id ?? null,
      clusterId: row.id,
      after: { ...policy },
    });
    await notifyInventoryChanged(tx, row.id);
    return { id: row.id, name: v.name };
  });
}

export async function updateCluster(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; changed: string[] }> {
  const v = parseInput(
    updateClusterSchema,
    normalizeForm(input, { numeric: CLUSTER_NUMERIC, raw: ["description"] }),
    CLUSTER_LABELS,
  );
  return await db.transaction(async (tx) => {
    const cluster = await lockCluster(tx, v.id);
    const before = { description: cluster.description, slaTargetPct: cluster.slaTargetPct };
    const after = { description: (v.description ?? "").trim(), slaTargetPct: v.slaTargetPct };
    const fields = changed(before, after);
    if (fields.length === 0) return { id: cluster.id, changed: [] };
    await tx
      .update(clusters)
      .set({ ...after, updatedAt: new Date() })
      .where(eq(clusters.id, cluster.id));
    await appendAudit(tx, {
      ...who,
      action: "cluster.update",
      targetType: "cluster",
      targetId: cluster.id,
      clusterId: cluster.id,
      before: pick(before, fields),
      after: pick(after, fields),
    });
    await notifyInventoryChanged(tx, cluster.id);
    return { id: cluster.id, changed: fields };
  });
}

/** Removes a cluster with its nodes and its load balancer. Refused while a switchover is in flight. */
export async function deleteCluster(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; name: string; nodes: string[] }> {
  const v = parseInput(z.object({ id: uuid("Cluster") }), input);
  return await db.transaction(async (tx) => {
    const cluster = await lockCluster(tx, v.id);
    await refuseInFlight(tx, cluster, "removing it");
    const members = await tx.select().from(nodes).where(eq(nodes.clusterId, cluster.id));
    const [lb] = cluster.loadBalancerId
      ? await tx.select().from(loadBalancers).where(eq(loadBalancers.id, cluster.loadBalancerId))
      : [];
    await tx.delete(clusters).where(eq(clusters.id, cluster.id));
    for (const n of members) {
      await appendAudit(tx, {
        ...who,
        action: "node.delete",
        targetType: "node",
        targetId: n.id,
        clusterId: cluster.id,
        before: { name: n.name, role: n.role, host: n.host, servicePort: n.servicePort },
      });
    }
    await appendAudit(tx, {
      ...who,
      action: "cluster.delete",
      targetType: "cluster",
      targetId: cluster.id,
      clusterId: cluster.id,
      before: {
        name: cluster.name,
        description: cluster.description,
        mode: cluster.mode,
        slaTargetPct: cluster.slaTargetPct,
        epoch: cluster.epoch,
        nodes: members.map((n) => n.name),
      },
    });
    if (lb) {
      const [stillLinked] = await tx
        .select({ id: clusters.id })
        .from(clusters)
        .where(eq(clusters.loadBalancerId, lb.id))
        .limit(1);
      if (!stillLinked) {
        await tx.delete(loadBalancers).where(eq(loadBalancers.id, lb.id));
        await appendAudit(tx, {
          ...who,
          action: "load_balancer.delete",
          targetType: "load_balancer",
          targetId: lb.id,
          clusterId: cluster.id,
          before: { name: lb.name, host: lb.host, endpointUrl: lb.endpointUrl },
        });
      }
    }
    await notifyInventoryChanged(tx, cluster.id);
    return { id: cluster.id, name: cluster.name, nodes: members.map((n) => n.name) };
  });
}

const maintenanceSchema = z.object({
  id: uuid("Target"),
  maintenance: z.boolean({ error: "Maintenance must be on or off." }),
  reason: z.string().trim().max(500, { error: "Reason must be at most 500 characters." }).optional(),
});

export async function setClusterMaintenance(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; maintenance: boolean }> {
  const v = parseInput(maintenanceSchema, input);
  return await db.transaction(async (tx) => {
    const cluster = await lockCluster(tx, v.id);
    return await applyMaintenance(tx, who, v, { type: "cluster", row: cluster, clusterId: cluster.id });
  });
}

/** Sets a cluster's or a node's maintenance flag, audited and announced; a no-op when unchanged. */
async function applyMaintenance(
  tx: DbOrTx,
  who: AuditWho,
  v: { maintenance: boolean; reason?: string | null },
  target: { type: "cluster" | "node"; row: { id: string; maintenance: boolean }; clusterId: string },
): Promise<{ id: string; maintenance: boolean }> {
  const { row } = target;
  if (row.maintenance === v.maintenance) return { id: row.id, maintenance: v.maintenance };
  const table = target.type === "cluster" ? clusters : nodes;
  await tx
    .update(table)
    .set({ maintenance: v.maintenance, updatedAt: new Date() })
    .where(eq(table.id, row.id));
  await appendAudit(tx, {
    ...who,
    action: `${target.type}.maintenance`,
    targetType: target.type,
    targetId: row.id,
    clusterId: target.clusterId,
    reason: v.reason || null,
    before: { maintenance: row.maintenance },
    after: { maintenance: v.maintenance },
  });
  await notifyInventoryChanged(tx, target.clusterId);
  return { id: row.id, maintenance: v.maintenance };
}

// ---------------------------------------------------------------------------------------------
// Nodes

const N = inventoryNodeSchema.shape;

export const NODE_LABELS = {
  clusterId: "Cluster",
  name: "Name",
  host: "Host",
  sshPort: "SSH port",
  sshUser: "SSH user",
  credential: "Credential",
  hostKeyFingerprint: "Host key fingerprint",
  servicePort: "Service port",
  healthPath: "Health path",
  role: "Role",
  priority: "Priority",
  weight: "Weight",
} as const;

const nodeFields = {
  host: N.host,
  sshPort: N.sshPort,
  sshUser: N.sshUser,
  credential: N.credential,
  // Optional here (unlike the inventory file): a node can be added first and its key pinned after a
  // test connection. Until then it gets no SSH at all.
  hostKeyFingerprint: N.hostKeyFingerprint.nullable().optional(),
  servicePort: N.servicePort,
  healthPath: N.healthPath,
  priority: N.priority,
  weight: N.weight,
};

const createNodeSchema = z.object({
  clusterId: uuid("Cluster"),
  name: N.name,
  role: N.role,
  ...nodeFields,
});
const updateNodeSchema = z.object({ id: uuid("Node"), ...nodeFields });

const NODE_FORM = {
  numeric: ["sshPort", "servicePort", "priority", "weight"],
  nullable: ["hostKeyFingerprint"],
} as const;

type NodeFieldValues = z.output<z.ZodObject<typeof nodeFields>>;

function nodeColumns(v: NodeFieldValues, credentialId: string | null) {
  return {
    host: v.host,
    sshPort: v.sshPort ?? NODE_DEFAULTS.sshPort,
    sshUser: v.sshUser ?? NODE_DEFAULTS.sshUser,
    credentialId,
    hostKeyFingerprint: v.hostKeyFingerprint ?? null,
    servicePort: v.servicePort ?? NODE_DEFAULTS.servicePort,
    healthPath: v.healthPath ?? NODE_DEFAULTS.healthPath,
    priority: v.priority ?? NODE_DEFAULTS.priority,
    weight: v.weight ?? NODE_DEFAULTS.weight,
  };
}

async function checkEndpoint(
  tx: Tx,
  host: string,
  servicePort: number,
  exceptId: string | null,
  issues: FieldIssue[],
): Promise<void> {
  const [other] = await tx
    .select({ name: nodes.name, cluster: clusters.name })
    .from(nodes)
    .innerJoin(clusters, eq(clusters.id, nodes.clusterId))
    .where(
      and(
        sql`lower(${nodes.host}) = ${host.toLowerCase()}`,
        eq(nodes.servicePort, servicePort),
        exceptId ? ne(nodes.id, exceptId) : undefined,
      ),
    )
    .limit(1);
  if (other) {
    issues.push({
      field: "host",
      message: `${endpointKey(host, servicePort)} is already node ${other.name} (cluster ${other.cluster}); host and service port together must be unique.`,
    });
  }
}

export async function createNode(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; name: string; primary: boolean }> {
  const v = parseInput(createNodeSchema, normalizeForm(input, NODE_FORM), NODE_LABELS);
  return await db.transaction(async (tx) => {
    const cluster = await lockCluster(tx, v.clusterId);
    const issues: FieldIssue[] = [];
    const [taken] = await tx
      .select({ cluster: clusters.name })
      .from(nodes)
      .innerJoin(clusters, eq(clusters.id, nodes.clusterId))
      .where(eq(nodes.name, v.name));
    if (taken) {
      issues.push({
        field: "name",
        message: `A node named ${v.name} already exists (cluster ${taken.cluster}); node names are unique across all clusters.`,
      });
    }
    const columns = nodeColumns(v, null);
    await checkEndpoint(tx, columns.host, columns.servicePort, null, issues);
    const credentialId = await credentialIdByName(tx, v.credential, issues);
    let becomesPrimary = false;
    if (cluster.mode === "active_active" && v.role !== "member") {
      issues.push({
        field: "role",
        message: `${cluster.name} is an active-active pool: its nodes are members, not ${v.role}s.`,
      });
    } else if (cluster.mode === "active_standby" && v.role === "member") {
      issues.push({
        field: "role",
        message: `${cluster.name} is active-standby: add a standby (or its first primary), not a member.`,
      });
    } else if (v.role === "primary") {
      if (cluster.primaryNodeId) {
        const [current] = await tx
          .select({ name: nodes.name })
          .from(nodes)
          .where(eq(nodes.id, cluster.primaryNodeId));
        issues.push({
          field: "role",
          message: `${cluster.name} already has a primary (${current?.name ?? "?"}). Add this node as a standby; traffic moves to it only through a switchover.`,
        });
      } else becomesPrimary = true;
    }
    if (issues.length > 0) throw invalidInput(issues);

    const [row] = await tx
      .insert(nodes)
      .values({ clusterId: cluster.id, name: v.name, role: v.role, ...columns, credentialId })
      .returning({ id: nodes.id });
    if (!row) throw new Error("node insert returned no row");
    if (becomesPrimary) {
      // The first primary of a new cluster, as `inventory apply` sets it: epoch 1 at least.
      await tx
        .update(clusters)
        .set({ primaryNodeId: row.id, epoch: sql`greatest(${clusters.epoch}, 1)`, updatedAt: new Date() })
        .where(eq(clusters.id, cluster.id));
    }
    await appendAudit(tx, {
      ...who,
      action: "node.create",
      targetType: "node",
      targetId: row.id,
      clusterId: cluster.id,
      after: {
        name: v.name,
        cluster: cluster.name,
        role: v.role,
        host: columns.host,
        sshPort: columns.sshPort,
        sshUser: columns.sshUser,
        credential: v.credential,
        hostKeyFingerprint: columns.hostKeyFingerprint,
        servicePort: columns.servicePort,
        healthPath: columns.healthPath,
        priority: columns.priority,
        weight: columns.weight,
        ...(becomesPrimary ? { primary: true } : {}),
      },
    });
    await notifyInventoryChanged(tx, cluster.id);
    return { id: row.id, name: v.name, primary: becomesPrimary };
  });
}

type NodeRow = typeof nodes.$inferSelect;

async function lockNode(tx: Tx, id: string): Promise<{ node: NodeRow; cluster: ClusterRow }> {
  const [found] = await tx.select({ clusterId: nodes.clusterId }).from(nodes).where(eq(nodes.id, id));
  if (!found) throw notFound("This node");
  const cluster = await lockCluster(tx, found.clusterId);
  const [node] = await tx.select().from(nodes).where(eq(nodes.id, id));
  if (!node || node.clusterId !== cluster.id) throw notFound("This node");
  return { node, cluster };
}

export async function updateNode(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; changed: string[] }> {
  const v = parseInput(updateNodeSchema, normalizeForm(input, NODE_FORM), NODE_LABELS);
  return await db.transaction(async (tx) => {
    const { node, cluster } = await lockNode(tx, v.id);
    const issues: FieldIssue[] = [];
    const credentialId = await credentialIdByName(tx, v.credential, issues);
    const want = nodeColumns(v, credentialId);
    const have = {
      host: node.host,
      sshPort: node.sshPort,
      sshUser: node.sshUser,
      credentialId: node.credentialId,
      hostKeyFingerprint: node.hostKeyFingerprint,
      servicePort: node.servicePort,
      healthPath: node.healthPath,
      priority: node.priority,
      weight: node.weight,
    };
    if (endpointKey(want.host, want.servicePort) !== endpointKey(have.host, have.servicePort)) {
      await checkEndpoint(tx, want.host, want.servicePort, node.id, issues);
    }
    if (issues.length > 0) throw invalidInput(issues);
    const fields = changed(have, want);
    if (fields.length === 0) return { id: node.id, changed: [] };
    await refuseInFlight(tx, cluster, `changing ${node.name}`);
    await tx
      .update(nodes)
      .set({ ...want, updatedAt: new Date() })
      .where(eq(nodes.id, node.id));
    await appendAudit(tx, {
      ...who,
      action: "node.update",
      targetType: "node",
      targetId: node.id,
      clusterId: cluster.id,
      before: pick(have, fields),
      after: pick(want, fields),
    });
    await notifyInventoryChanged(tx, cluster.id);
    return { id: node.id, changed: fields };
  });
}

/** Removes a node. Refused for the cluster's current primary, and while a switchover is in flight. */
export async function deleteNode(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; name: string }> {
  const v = parseInput(z.object({ id: uuid("Node") }), input);
  return await db.transaction(async (tx) => {
    const { node, cluster } = await lockNode(tx, v.id);
    await refuseInFlight(tx, cluster, `removing ${node.name}`);
    if (cluster.primaryNodeId === node.id) {
      throw new SettingsError(
        "refused",
        `${node.name} is the current primary of ${cluster.name}: removing it would leave the cluster with nothing to route to. Switch over to another node first, then remove it.`,
      );
    }
    await tx.delete(nodes).where(eq(nodes.id, node.id));
    await appendAudit(tx, {
      ...who,
      action: "node.delete",
      targetType: "node",
      targetId: node.id,
      clusterId: cluster.id,
      before: {
        name: node.name,
        role: node.role,
        host: node.host,
        servicePort: node.servicePort,
        sshPort: node.sshPort,
        hostKeyFingerprint: node.hostKeyFingerprint,
      },
    });
    await notifyInventoryChanged(tx, cluster.id);
    return { id: node.id, name: node.name };
  });
}

export async function setNodeMaintenance(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; maintenance: boolean }> {
  const v = parseInput(maintenanceSchema, input);
  return await db.transaction(async (tx) => {
    const { node, cluster } = await lockNode(tx, v.id);
    return await applyMaintenance(tx, who, v, { type: "node", row: node, clusterId: cluster.id });
  });
}

// ---------------------------------------------------------------------------------------------
// Load balancers

const L = inventoryLoadBalancerSchema.shape;

export const LOAD_BALANCER_LABELS = {
  clusterId: "Cluster",
  name: "Name",
  host: "Host",
  sshPort: "SSH port",
  sshUser: "SSH user",
  credential: "Credential",
  hostKeyFingerprint: "Host key fingerprint",
  upstreamConfigPath: "Upstream file",
  endpointUrl: "Endpoint URL",
  nginxBin: "nginx binary",
  nginxConfPath: "nginx config",
} as const;

const saveLoadBalancerSchema = z.object({
  clusterId: uuid("Cluster"),
  name: L.name,
  host: L.host,
  sshPort: L.sshPort,
  sshUser: L.sshUser,
  credential: L.credential,
  hostKeyFingerprint: L.hostKeyFingerprint.nullable().optional(),
  upstreamConfigPath: L.upstreamConfigPath,
  endpointUrl: L.endpointUrl,
  nginxBin: L.nginxBin,
  nginxConfPath: L.nginxConfPath,
});

/** Creates the cluster's load balancer, or updates the one it has. */
export async function saveLoadBalancer(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; name: string; created: boolean; changed: string[] }> {
  const v = parseInput(
    saveLoadBalancerSchema,
    normalizeForm(input, { numeric: ["sshPort"], nullable: ["hostKeyFingerprint", "nginxConfPath"] }),
    LOAD_BALANCER_LABELS,
  );
  return await db.transaction(async (tx) => {
    const cluster = await lockCluster(tx, v.clusterId);
    const issues: FieldIssue[] = [];
    const name = v.name ?? defaultLoadBalancerName(cluster.name);
    if (!NAME_RE.test(name)) {
      issues.push({
        field: "name",
        message: `Name is required for this cluster: the default ${defaultLoadBalancerName("<cluster>")} would be longer than 63 characters.`,
      });
    }
    const all = await tx.select().from(loadBalancers);
    const existing = cluster.loadBalancerId ? all.find((l) => l.id === cluster.loadBalancerId) : undefined;
    const others = all.filter((l) => l.id !== existing?.id);
    const sameName = others.find((l) => l.name === name);
    if (sameName) {
      issues.push({ field: "name", message: `A load balancer named ${name} already exists.` });
    }
    const samePath = others.find(
      (l) => upstreamPathKey(l.upstreamConfigPath) === upstreamPathKey(v.upstreamConfigPath),
    );
    if (samePath) {
      issues.push({
        field: "upstreamConfigPath",
        message: `${v.upstreamConfigPath} is already the upstream file of ${samePath.name}; two clusters cannot share one (each switchover rewrites all of it).`,
      });
    }
    const credentialId = await credentialIdByName(tx, v.credential, issues);
    if (issues.length > 0) throw invalidInput(issues);
    await refuseInFlight(tx, cluster, "changing its load balancer");

    const want = {
      name,
      host: v.host,
      sshPort: v.sshPort ?? LOAD_BALANCER_DEFAULTS.sshPort,
      sshUser: v.sshUser ?? LOAD_BALANCER_DEFAULTS.sshUser,
      credentialId,
      hostKeyFingerprint: v.hostKeyFingerprint ?? null,
      upstreamConfigPath: v.upstreamConfigPath,
      endpointUrl: v.endpointUrl,
      nginxBin: v.nginxBin ?? LOAD_BALANCER_DEFAULTS.nginxBin,
      nginxConfPath: v.nginxConfPath ?? LOAD_BALANCER_DEFAULTS.nginxConfPath,
    };
    if (!existing) {
      const [row] = await tx.insert(loadBalancers).values(want).returning({ id: loadBalancers.id });
      if (!row) throw new Error("load balancer insert returned no row");
      await tx
        .update(clusters)
        .set({ loadBalancerId: row.id, updatedAt: new Date() })
        .where(eq(clusters.id, cluster.id));
      await appendAudit(tx, {
        ...who,
        action: "load_balancer.create",
        targetType: "load_balancer",
        targetId: row.id,
        clusterId: cluster.id,
        after: {
          ...pick(
            want,
            Object.keys(want).filter((k) => k !== "credentialId"),
          ),
          credential: v.credential,
          cluster: cluster.name,
        },
      });
      await notifyInventoryChanged(tx, cluster.id);
      return { id: row.id, name, created: true, changed: Object.keys(want) };
    }
    const have = {
      name: existing.name,
      host: existing.host,
      sshPort: existing.sshPort,
      sshUser: existing.sshUser,
      credentialId: existing.credentialId,
      hostKeyFingerprint: existing.hostKeyFingerprint,
      upstreamConfigPath: existing.upstreamConfigPath,
      endpointUrl: existing.endpointUrl,
      nginxBin: existing.nginxBin,
      nginxConfPath: existing.nginxConfPath,
    };
    const fields = changed(have, want);
    if (fields.length === 0) return { id: existing.id, name, created: false, changed: [] };
    await tx
      .update(loadBalancers)
      .set({ ...want, updatedAt: new Date() })
      .where(eq(loadBalancers.id, existing.id));
    await appendAudit(tx, {
      ...who,
      action: "load_balancer.update",
      targetType: "load_balancer",
      targetId: existing.id,
      clusterId: cluster.id,
      before: pick(have, fields),
      after: pick(want, fields),
    });
    await notifyInventoryChanged(tx, cluster.id);
    return { id: existing.id, name, created: false, changed: fields };
  });
}

/** Unlinks and removes the cluster's load balancer (switchovers then skip the traffic step). */
export async function deleteLoadBalancer(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; name: string }> {
  const v = parseInput(z.object({ clusterId: uuid("Cluster") }), input);
  return await db.transaction(async (tx) => {
    const cluster = await lockCluster(tx, v.clusterId);
    if (!cluster.loadBalancerId) throw notFound(`A load balancer for ${cluster.name}`);
    await refuseInFlight(tx, cluster, "removing its load balancer");
    const [lb] = await tx.select().from(loadBalancers).where(eq(loadBalancers.id, cluster.loadBalancerId));
    if (!lb) throw notFound(`A load balancer for ${cluster.name}`);
    await tx
      .update(clusters)
      .set({ loadBalancerId: null, updatedAt: new Date() })
      .where(eq(clusters.id, cluster.id));
    const [stillLinked] = await tx
      .select({ id: clusters.id })
      .from(clusters)
      .where(eq(clusters.loadBalancerId, lb.id))
      .limit(1);
    if (!stillLinked) await tx.delete(loadBalancers).where(eq(loadBalancers.id, lb.id));
    await appendAudit(tx, {
      ...who,
      action: "load_balancer.delete",
      targetType: "load_balancer",
      targetId: lb.id,
      clusterId: cluster.id,
      before: {
        name: lb.name,
        host: lb.host,
        upstreamConfigPath: lb.upstreamConfigPath,
        endpointUrl: lb.endpointUrl,
        hostKeyFingerprint: lb.hostKeyFingerprint,
      },
    });
    await notifyInventoryChanged(tx, cluster.id);
    return { id: lb.id, name: lb.name };
  });
}

// ---------------------------------------------------------------------------------------------
// Host keys

export const SSH_TARGET_KINDS = ["node", "load_balancer"] as const;
export type SshTargetKind = (typeof SSH_TARGET_KINDS)[number];

const pinSchema = z.object({
  kind: z.enum(SSH_TARGET_KINDS, { error: "Pick a node or a load balancer." }),
  id: uuid("Target"),
  fingerprint: N.hostKeyFingerprint,
  /** The fingerprint that was pinned when the operator tested (null: none); a change since is refused. */
  previous: z.string().nullable().optional(),
});

/**
 * Pins the host key an operator has just seen in a test connection ("Trust this key"). Refused when
 * the pinned key changed since that test (someone else re-pinned), or a switchover is in flight.
 */
export async function pinHostKey(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ id: string; name: string; fingerprint: string }> {
  const v = parseInput(pinSchema, normalizeForm(input), { fingerprint: "Host key fingerprint" });
  return await db.transaction(async (tx) => {
    let name: string;
    let current: string | null;
    let cluster: ClusterRow | null;
    if (v.kind === "node") {
      const locked = await lockNode(tx, v.id);
      name = locked.node.name;
      current = locked.node.hostKeyFingerprint;
      cluster = locked.cluster;
    } else {
      const [owner] = await tx
        .select({ id: clusters.id })
        .from(clusters)
        .where(eq(clusters.loadBalancerId, v.id))
        .limit(1);
      cluster = owner ? await lockCluster(tx, owner.id) : null;
      const [lb] = await tx.select().from(loadBalancers).where(eq(loadBalancers.id, v.id)).for("update");
      if (!lb) throw notFound("This load balancer");
      name = lb.name;
      current = lb.hostKeyFingerprint;
    }
    if (v.previous !== undefined && (v.previous ?? null) !== current) {
      throw new SettingsError(
        "conflict",
        `The pinned key of ${name} changed since you tested it (now ${current ?? "none"}); test the connection again.`,
      );
    }
    if (current === v.fingerprint) return { id: v.id, name, fingerprint: v.fingerprint };
    if (cluster) await refuseInFlight(tx, cluster, `re-pinning the host key of ${name}`);
    if (v.kind === "node") {
      await tx
        .update(nodes)
        .set({ hostKeyFingerprint: v.fingerprint, updatedAt: new Date() })
        .where(eq(nodes.id, v.id));
    } else {
      await tx
        .update(loadBalancers)
        .set({ hostKeyFingerprint: v.fingerprint, updatedAt: new Date() })
        .where(eq(loadBalancers.id, v.id));
    }
    await appendAudit(tx, {
      ...who,
      action: v.kind === "node" ? "node.pin_host_key" : "load_balancer.pin_host_key",
      targetType: v.kind,
      targetId: v.id,
      clusterId: cluster?.id ?? null,
      before: { hostKeyFingerprint: current },
      after: { hostKeyFingerprint: v.fingerprint },
    });
    await notifyInventoryChanged(tx, cluster?.id ?? null);
    return { id: v.id, name, fingerprint: v.fingerprint };
  });
}
