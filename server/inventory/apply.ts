/**
 * Planning and applying an inventory file, `kubectl apply` style: the file is the desired state of
 * the clusters, nodes, policies, load balancers and credentials it names; the plan is the
 * difference from the database; applying runs the plan in ONE transaction, with an audit row per
 * change and a NOTIFY so running controllers reload at once. Applying the same file again plans
 * only "unchanged".
 *
 * Identity is by name (cluster, node, load balancer, credential). A cluster's `loadBalancer` is
 * created or updated and linked to it; a cluster without one in the file is unlinked from the one it
 * had (omitted means "none"). What apply will not do, on purpose:
 * - move traffic. It never changes an existing cluster's `primaryNodeId` or `epoch`, nor the role
 *   of an existing node: traffic moves only through a switchover (fenced, journalled, verified).
 *   When the file's primary differs from the current one, the plan says so as a warning.
 *   A new active-standby cluster gets the file's primary at epoch 1.
 * - change a cluster's mode, or move a node or a load balancer between clusters (delete + create,
 *   or unlink + link, done deliberately in two steps).
 * - touch the load balancer of a cluster with a switchover in flight (the engine is driving it).
 * - delete anything without `prune`; with it, never the current primary of a cluster that stays,
 *   and nothing in a cluster with a switchover in flight. A load balancer no cluster in the file
 *   names is deleted with its cluster, or, once unlinked, by the next prune.
 * - delete credentials (nodes outside the file may use them).
 * A credential whose key pair is unchanged (same public-key fingerprint) is not rewritten; a new
 * key is sealed over the old row (rotation), and ids stay, so nodes keep their reference.
 */
import { eq, inArray, notInArray, sql } from "drizzle-orm";
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
import { SecretKeyError } from "@/server/credentials/crypto";
import {
  createCredential,
  describePrivateKey,
  loadPrivateKey,
  rotateCredential,
} from "@/server/credentials/store";
import { notifyInventoryChanged } from "@/server/notify/events";
import { DEFAULT_POLICY, type Policy } from "@/server/policy/presets";
import {
  defaultLoadBalancerName,
  endpointKey,
  finishIssues,
  type InventoryClusterSpec,
  type InventoryIssue,
  type InventoryLoadBalancerSpec,
  type InventoryNodeSpec,
  InventoryValidationError,
  LOAD_BALANCER_DEFAULTS,
  NODE_DEFAULTS,
  type ParsedInventory,
  type PathSegment,
  parseInventoryFile,
  upstreamPathKey,
} from "./schema";

export type ChangeAction = "create" | "update" | "delete" | "unchanged";
export type ChangeKind = "cluster" | "node" | "credential" | "policy" | "load_balancer";

export type InventoryChange = {
  action: ChangeAction;
  kind: ChangeKind;
  name: string;
  /** For updates: the file's names of the fields that change. */
  fields?: string[];
  /** Nodes, policies and load balancers: the cluster they belong to. */
  cluster?: string;
  /** Short, non-secret context for people: a node's endpoint, a cluster's mode, a key fingerprint,
   * a load balancer's client URL. */
  detail?: string;
};

export type InventoryPlan = {
  changes: InventoryChange[];
  /** Things apply deliberately does not do (e.g. move the primary); read them before applying. */
  warnings: string[];
  /** In the database but not in the file, kept because `prune` is off. */
  notInFile: Array<{ kind: "cluster" | "node" | "load_balancer"; name: string; cluster?: string }>;
};

export type PlanOptions = {
  /** Delete clusters, nodes and load balancers that are in the database but not in the file. */
  prune?: boolean;
  /** Private key text by credential name, for every credential the file defines (read by the CLI). */
  privateKeys?: ReadonlyMap<string, string>;
};

export type ApplyOptions = PlanOptions & {
  /** Audit actor label, e.g. `inventory-cli:alice`. */
  actor: string;
  reason?: string;
};

/** The database changed under the apply (a concurrent edit took a name or endpoint). Nothing was
 * written; running the command again re-plans against the new state. */
export class InventoryConflictError extends Error {
  readonly code = "inventory_conflict" as const;
  constructor(detail: string) {
    super(`the database changed while applying (${detail}); nothing was written — run the command again`);
    this.name = "InventoryConflictError";
  }
}

const ACTOR_ROLE = "admin";
const unknownCredentialMessage = (name: string) =>
  `unknown credential "${name}": define it under "credentials" (name + privateKeyFile) or create it first`;
const NODE_FIELDS = [
  "host",
  "sshPort",
  "sshUser",
  "credential",
  "hostKeyFingerprint",
  "servicePort",
  "healthPath",
  "priority",
  "weight",
  "maintenance",
] as const;
type NodeValues = {
  host: string;
  sshPort: number;
  sshUser: string;
  credential: string | null;
  hostKeyFingerprint: string | null;
  servicePort: number;
  healthPath: string;
  priority: number;
  weight: number;
  maintenance: boolean;
};
const POLICY_FIELDS = Object.keys(DEFAULT_POLICY) as (keyof Policy)[];
const LOAD_BALANCER_FIELDS = [
  "host",
  "sshPort",
  "sshUser",
  "credential",
  "hostKeyFingerprint",
  "upstreamConfigPath",
  "endpointUrl",
  "nginxBin",
  "nginxConfPath",
] as const;
type LoadBalancerValues = {
  host: string;
  sshPort: number;
  sshUser: string;
  credential: string | null;
  hostKeyFingerprint: string | null;
  upstreamConfigPath: string;
  endpointUrl: string;
  nginxBin: string;
  nginxConfPath: string | null;
};

// ---------------------------------------------------------------------------------------------
// Database state

type State = Awaited<ReturnType<typeof loadState>>;
type ClusterRow = State["clusters"][number];
type NodeRow = ClusterRow["nodes"][number];
type LoadBalancerRow = State["loadBalancers"][number];

async function loadState(db: DbOrTx) {
  const clusterRows = await db.query.clusters.findMany({
    with: { nodes: true, policy: true },
    orderBy: clusters.name,
  });
  const credentialRows = await db.select().from(credentials).orderBy(credentials.name);
  const loadBalancerRows = await db.select().from(loadBalancers).orderBy(loadBalancers.name);
  const inFlight = await db
    .select({ clusterId: switchovers.clusterId })
    .from(switchovers)
    .where(notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]));
  return {
    clusters: clusterRows,
    credentials: credentialRows,
    loadBalancers: loadBalancerRows,
    inFlight: new Set(inFlight.map((r) => r.clusterId)),
  };
}

// ---------------------------------------------------------------------------------------------
// Planning

type Ctx = {
  tx: Tx;
  secretKey: Buffer | null;
  audit: (entry: Omit<AuditEntry, "actorLabel" | "actorRole">) => Promise<void>;
  credentialIds: Map<string, string>;
  clusterIds: Map<string, string>;
  nodeIds: Map<string, string>;
  loadBalancerIds: Map<string, string>;
  touched: Set<string | null>;
};
type Step = { phase: number; order: number; run: (ctx: Ctx) => Promise<void>; sealsKey?: boolean };

function requireKey(ctx: { secretKey: Buffer | null }): Buffer {
  if (!ctx.secretKey) {
    throw new SecretKeyError(
      "storing SSH credentials needs the encryption key: set SWITCHYARD_SECRET_KEY (32 random bytes, base64)",
    );
  }
  return ctx.secretKey;
}

/** Execution order: deletes free names and endpoints before creates take them; a cluster exists
 * before its load balancer (whose audit row names it), which exists before the cluster links it. */
const PHASE = {
  credential: 0,
  deleteNode: 1,
  deleteCluster: 2,
  cluster: 3,
  loadBalancer: 4,
  updateCluster: 5,
  policy: 6,
  updateNode: 7,
  createNode: 8,
  setPrimary: 9,
  deleteLoadBalancer: 10,
} as const;

type Built = { plan: InventoryPlan; steps: Step[]; issues: { path: PathSegment[]; message: string }[] };

const showEndpoint = (host: string, port: number) =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;

function pick<T extends object>(obj: T, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = (obj as Record<string, unknown>)[k];
  return out;
}

function changedFields<T extends object>(cur: T, want: T, keys: readonly (keyof T & string)[]): string[] {
  return keys.filter((k) => cur[k] !== want[k]);
}

function desiredNodeValues(n: InventoryNodeSpec): NodeValues {
  return {
    host: n.host,
    sshPort: n.sshPort ?? NODE_DEFAULTS.sshPort,
    sshUser: n.sshUser ?? NODE_DEFAULTS.sshUser,
    credential: n.credential,
    hostKeyFingerprint: n.hostKeyFingerprint,
    servicePort: n.servicePort ?? NODE_DEFAULTS.servicePort,
    healthPath: n.healthPath ?? NODE_DEFAULTS.healthPath,
    priority: n.priority ?? NODE_DEFAULTS.priority,
    weight: n.weight ?? NODE_DEFAULTS.weight,
    maintenance: n.maintenance ?? NODE_DEFAULTS.maintenance,
  };
}

function currentNodeValues(row: NodeRow, credentialName: (id: string | null) => string | null): NodeValues {
  return {
    host: row.host,
    sshPort: row.sshPort,
    sshUser: row.sshUser,
    credential: credentialName(row.credentialId),
    hostKeyFingerprint: row.hostKeyFingerprint,
    servicePort: row.servicePort,
    healthPath: row.healthPath,
    priority: row.priority,
    weight: row.weight,
    maintenance: row.maintenance,
  };
}

function nodeColumns(v: NodeValues, credentialIds: Map<string, string>) {
  const credentialId = v.credential === null ? null : credentialIds.get(v.credential);
  if (credentialId === undefined) throw new Error(`credential ${v.credential} has no id`);
  return {
    host: v.host,
    sshPort: v.sshPort,
    sshUser: v.sshUser,
    credentialId,
    hostKeyFingerprint: v.hostKeyFingerprint,
    servicePort: v.servicePort,
    healthPath: v.healthPath,
    priority: v.priority,
    weight: v.weight,
    maintenance: v.maintenance,
  };
}

/** The name of the load balancer the file gives the cluster, or null for none. */
function loadBalancerNameOf(spec: InventoryClusterSpec): string | null {
  if (!spec.loadBalancer) return null;
  return spec.loadBalancer.name ?? defaultLoadBalancerName(spec.name);
}

function desiredLoadBalancerValues(lb: InventoryLoadBalancerSpec): LoadBalancerValues {
  return {
    host: lb.host,
    sshPort: lb.sshPort ?? LOAD_BALANCER_DEFAULTS.sshPort,
    sshUser: lb.sshUser ?? LOAD_BALANCER_DEFAULTS.sshUser,
    credential: lb.credential,
    hostKeyFingerprint: lb.hostKeyFingerprint,
    upstreamConfigPath: lb.upstreamConfigPath,
    endpointUrl: lb.endpointUrl,
    nginxBin: lb.nginxBin ?? LOAD_BALANCER_DEFAULTS.nginxBin,
    nginxConfPath: lb.nginxConfPath ?? LOAD_BALANCER_DEFAULTS.nginxConfPath,
  };
}

function currentLoadBalancerValues(
  row: LoadBalancerRow,
  credentialName: (id: string | null) => string | null,
): LoadBalancerValues {
  return {
    host: row.host,
    sshPort: row.sshPort,
    sshUser: row.sshUser,
    credential: credentialName(row.credentialId),
    hostKeyFingerprint: row.hostKeyFingerprint,
    upstreamConfigPath: row.upstreamConfigPath,
    endpointUrl: row.endpointUrl,
    nginxBin: row.nginxBin,
    nginxConfPath: row.nginxConfPath,
  };
}

function loadBalancerColumns(v: LoadBalancerValues, credentialIds: Map<string, string>) {
  const credentialId = v.credential === null ? null : credentialIds.get(v.credential);
  if (credentialId === undefined) throw new Error(`credential ${v.credential} has no id`);
  const { credential: _, ...rest } = v;
  return { ...rest, credentialId };
}

function buildPlan(state: State, parsed: ParsedInventory, opts: PlanOptions): Built {
  const { file } = parsed;
  const prune = opts.prune ?? false;
  const changes: InventoryChange[] = [];
  const warnings: string[] = [];
  const notInFile: InventoryPlan["notInFile"] = [];
  const steps: Step[] = [];
  const issues: Built["issues"] = [];
  let order = 0;
  const add = (change: InventoryChange, phase?: number, run?: Step["run"], sealsKey = false) => {
    changes.push(change);
    if (phase !== undefined && run) steps.push({ phase, order: order++, run, sealsKey });
  };
  const later = (phase: number, run: Step["run"], stepOrder = order++) =>
    steps.push({ phase, order: stepOrder, run });

  const credentialById = new Map(state.credentials.map((c) => [c.id, c]));
  const credentialByName = new Map(state.credentials.map((c) => [c.name, c]));
  const credentialName = (id: string | null) => (id ? (credentialById.get(id)?.name ?? null) : null);
  const clusterByName = new Map(state.clusters.map((c) => [c.name, c]));
  const nodeByName = new Map<string, { row: NodeRow; cluster: ClusterRow }>();
  const endpointOwner = new Map<string, string>();
  for (const c of state.clusters) {
    for (const n of c.nodes) {
      nodeByName.set(n.name, { row: n, cluster: c });
      endpointOwner.set(endpointKey(n.host, n.servicePort), n.name);
    }
  }
  const fileClusterNames = new Set(file.clusters.map((c) => c.name));
  const fileNodeNames = new Set(file.clusters.flatMap((c) => c.nodes.map((n) => n.name)));
  const loadBalancerById = new Map(state.loadBalancers.map((l) => [l.id, l]));
  const loadBalancerByName = new Map(state.loadBalancers.map((l) => [l.name, l]));
  const loadBalancerName = (id: string | null) => (id ? (loadBalancerById.get(id)?.name ?? null) : null);
  /** The clusters that link each load balancer (by id); normally one. */
  const linkedClusters = new Map<string, ClusterRow[]>();
  for (const c of state.clusters) {
    if (!c.loadBalancerId) continue;
    linkedClusters.set(c.loadBalancerId, [...(linkedClusters.get(c.loadBalancerId) ?? []), c]);
  }
  const fileLoadBalancerNames = new Set(
    file.clusters.flatMap((c) => {
      const name = loadBalancerNameOf(c);
      return name ? [name] : [];
    }),
  );
  /** Load balancers outside the file that keep serving a cluster outside the file after this apply
   * (without prune, such clusters stay): their upstream files are taken. */
  const keptUpstreams = new Map<string, { lb: LoadBalancerRow; cluster: ClusterRow }>();
  if (!prune) {
    for (const l of state.loadBalancers) {
      if (fileLoadBalancerNames.has(l.name)) continue;
      const owner = (linkedClusters.get(l.id) ?? []).find((c) => !fileClusterNames.has(c.name));
      if (owner) keptUpstreams.set(upstreamPathKey(l.upstreamConfigPath), { lb: l, cluster: owner });
    }
  }

  // -- credentials ---------------------------------------------------------------------------
  for (const [name, paths] of parsed.externalCredentials) {
    if (credentialByName.has(name)) continue;
    for (const p of paths) {
      issues.push({
        path: p,
        message: unknownCredentialMessage(name),
      });
    }
  }
  for (const [i, cred] of (file.credentials ?? []).entries()) {
    const at: PathSegment[] = ["credentials", i, "privateKeyFile"];
    const privateKey = opts.privateKeys?.get(cred.name);
    if (privateKey === undefined) {
      issues.push({ path: at, message: "the private key was not read" });
      continue;
    }
    let described: { publicKey: string; fingerprint: string };
    try {
      described = describePrivateKey(privateKey);
    } catch {
      issues.push({ path: at, message: "not an unencrypted OpenSSH or PEM private key" });
      continue;
    }
    const existing = credentialByName.get(cred.name);
    const base = { kind: "credential", name: cred.name, detail: described.fingerprint } as const;
    if (!existing) {
      add(
        { ...base, action: "create" },
        PHASE.credential,
        async (ctx) => {
          const row = await createCredential(ctx.tx, requireKey(ctx), { name: cred.name, privateKey });
          ctx.credentialIds.set(cred.name, row.id);
          ctx.touched.add(null);
          await ctx.audit({
            action: "credential.create",
            targetType: "credential",
            targetId: row.id,
            after: { name: cred.name, fingerprint: described.fingerprint },
          });
        },
        true,
      );
    } else if (existing.fingerprint !== described.fingerprint) {
      add(
        { ...base, action: "update", fields: ["privateKey"] },
        PHASE.credential,
        async (ctx) => {
          await rotateCredential(ctx.tx, requireKey(ctx), { id: existing.id, name: cred.name, privateKey });
          ctx.touched.add(null);
          await ctx.audit({
            action: "credential.rotate",
            targetType: "credential",
            targetId: existing.id,
            before: { name: cred.name, fingerprint: existing.fingerprint },
            after: { name: cred.name, fingerprint: described.fingerprint },
          });
        },
        true,
      );
    } else {
      add({ ...base, action: "unchanged" });
    }
  }

  // -- clusters, policies and nodes in the file ------------------------------------------------
  type PendingMove = { name: string; from: string; to: string; path: PathSegment[]; step: Step };
  const moves: PendingMove[] = [];

  for (const [ci, spec] of file.clusters.entries()) {
    const at = (...p: PathSegment[]): PathSegment[] => ["clusters", ci, ...p];
    const existing = clusterByName.get(spec.name);
    const policy = parsed.policies[ci] ?? { ...DEFAULT_POLICY };
    const description = spec.description ?? "";
    const filePrimary = spec.nodes.find((n) => n.role === "primary")?.name ?? null;
    const inFlight = existing ? state.inFlight.has(existing.id) : false;
    const wantLoadBalancer = loadBalancerNameOf(spec);

    if (existing && existing.mode !== spec.mode) {
      issues.push({
        path: at("mode"),
        message:
          `cluster "${spec.name}" is ${existing.mode}; apply does not change a cluster's mode ` +
          "(delete it with --prune and create it again, under a new name if history should be kept)",
      });
    }

    if (!existing) {
      add(
        { action: "create", kind: "cluster", name: spec.name, detail: spec.mode },
        PHASE.cluster,
        async (ctx) => {
          const [row] = await ctx.tx
            .insert(clusters)
            .values({ name: spec.name, description, mode: spec.mode, slaTargetPct: spec.slaTargetPct })
            .returning({ id: clusters.id });
          if (!row) throw new Error("cluster insert returned no row");
          ctx.clusterIds.set(spec.name, row.id);
          ctx.touched.add(row.id);
          await ctx.audit({
            action: "cluster.create",
            targetType: "cluster",
            targetId: row.id,
            clusterId: row.id,
            after: {
              name: spec.name,
              description,
              mode: spec.mode,
              slaTargetPct: spec.slaTargetPct,
              nodes: spec.nodes.map((n) => n.name),
              ...(filePrimary ? { primary: filePrimary, epoch: 1 } : {}),
              ...(wantLoadBalancer ? { loadBalancer: wantLoadBalancer } : {}),
            },
          });
        },
      );
      if (wantLoadBalancer) {
        later(PHASE.updateCluster, async (ctx) => {
          const clusterId = ctx.clusterIds.get(spec.name);
          const loadBalancerId = ctx.loadBalancerIds.get(wantLoadBalancer);
          if (!clusterId || !loadBalancerId)
            throw new Error(`cluster ${spec.name} or its load balancer has no id`);
          await ctx.tx.update(clusters).set({ loadBalancerId }).where(eq(clusters.id, clusterId));
        });
      }
    } else {
      const cur = {
        description: existing.description,
        slaTargetPct: existing.slaTargetPct,
        loadBalancer: loadBalancerName(existing.loadBalancerId),
      };
      const want = { description, slaTargetPct: spec.slaTargetPct, loadBalancer: wantLoadBalancer };
      const fields = changedFields(cur, want, ["description", "slaTargetPct", "loadBalancer"]);
      if (fields.includes("loadBalancer") && inFlight) {
        issues.push({
          path: at("loadBalancer"),
          message:
            `cluster "${spec.name}" has a switchover in flight; linking or unlinking its load balancer ` +
            "must wait until it finishes",
        });
      }
      if (fields.length === 0)
        add({ action: "unchanged", kind: "cluster", name: spec.name, detail: spec.mode });
      else {
        add(
          { action: "update", kind: "cluster", name: spec.name, fields, detail: spec.mode },
          PHASE.updateCluster,
          async (ctx) => {
            const link: { loadBalancerId?: string | null } = {};
            if (fields.includes("loadBalancer")) {
              const id = wantLoadBalancer === null ? null : ctx.loadBalancerIds.get(wantLoadBalancer);
              if (id === undefined) throw new Error(`load balancer ${wantLoadBalancer} has no id`);
              link.loadBalancerId = id;
            }
            await ctx.tx
              .update(clusters)
              .set({
                description: want.description,
                slaTargetPct: want.slaTargetPct,
                ...link,
                updatedAt: new Date(),
              })
              .where(eq(clusters.id, existing.id));
            ctx.touched.add(existing.id);
            await ctx.audit({
              action: "cluster.update",
              targetType: "cluster",
              targetId: existing.id,
              clusterId: existing.id,
              before: pick(cur, fields),
              after: pick(want, fields),
            });
          },
        );
      }
    }

    // Policy
    const policyChange = {
      kind: "policy",
      name: spec.name,
      cluster: spec.name,
      detail: `preset ${policy.preset}`,
    } as const;
    const existingPolicy = existing?.policy ?? null;
    if (!existingPolicy) {
      add({ ...policyChange, action: "create" }, PHASE.policy, async (ctx) => {
        const clusterId = ctx.clusterIds.get(spec.name);
        if (!clusterId) throw new Error(`cluster ${spec.name} has no id`);
        const [row] = await ctx.tx
          .insert(policies)
          .values({ clusterId, ...policy })
          .returning({ id: policies.id });
        ctx.touched.add(clusterId);
        await ctx.audit({
          action: "policy.create",
          targetType: "policy",
          targetId: row?.id ?? null,
          clusterId,
          after: { ...policy },
        });
      });
    } else {
      const cur = pick(existingPolicy, POLICY_FIELDS) as Policy;
      const fields = changedFields(cur, policy, POLICY_FIELDS);
      if (fields.length === 0) add({ ...policyChange, action: "unchanged" });
      else {
        add({ ...policyChange, action: "update", fields }, PHASE.policy, async (ctx) => {
          await ctx.tx
            .update(policies)
            .set({ ...policy, version: sql`${policies.version} + 1`, updatedAt: new Date() })
            .where(eq(policies.id, existingPolicy.id));
          ctx.touched.add(existingPolicy.clusterId);
          await ctx.audit({
            action: "policy.update",
            targetType: "policy",
            targetId: existingPolicy.id,
            clusterId: existingPolicy.clusterId,
            before: pick(cur, fields),
            after: pick(policy, fields),
          });
        });
      }
    }

    // Primary: reported, never moved.
    if (existing && existing.mode === "active_standby" && spec.mode === "active_standby" && filePrimary) {
      const current = existing.nodes.find((n) => n.id === existing.primaryNodeId)?.name ?? null;
      if (current !== filePrimary) {
        warnings.push(
          current
            ? `cluster "${spec.name}": the file names "${filePrimary}" as primary, but the current primary is ` +
                `"${current}". Apply never moves traffic and leaves node roles as they are; to make ` +
                `"${filePrimary}" primary, run a switchover.`
            : `cluster "${spec.name}" has no primary at the moment; apply never assigns one to an existing ` +
                `cluster (the file names "${filePrimary}"): run a switchover to "${filePrimary}".`,
        );
      }
    }

    // Load balancer
    if (spec.loadBalancer && wantLoadBalancer) {
      const lbAt = (...p: PathSegment[]) => at("loadBalancer", ...p);
      const want = desiredLoadBalancerValues(spec.loadBalancer);
      const found = loadBalancerByName.get(wantLoadBalancer);
      const base = {
        kind: "load_balancer",
        name: wantLoadBalancer,
        cluster: spec.name,
        detail: want.endpointUrl,
      } as const;
      const owner = found
        ? (linkedClusters.get(found.id) ?? []).find((c) => c.name !== spec.name)
        : undefined;
      const taken = keptUpstreams.get(upstreamPathKey(want.upstreamConfigPath));
      if (owner) {
        issues.push({
          path: lbAt("name"),
          message:
            `load balancer "${wantLoadBalancer}" belongs to cluster "${owner.name}"; apply does not move load ` +
            `balancers between clusters: remove it from "${owner.name}" first (drop its "loadBalancer" and ` +
            "apply), then add it here",
        });
      } else if (taken) {
        issues.push({
          path: lbAt("upstreamConfigPath"),
          message:
            `upstream file ${want.upstreamConfigPath} is already used by load balancer "${taken.lb.name}" ` +
            `(cluster "${taken.cluster.name}"), which is not in this file: change the path, or apply with ` +
            "--prune to delete that cluster and its load balancer",
        });
      } else if (!found) {
        // (A new load balancer is a new link too: a switchover in flight is reported there.)
        add({ ...base, action: "create" }, PHASE.loadBalancer, async (ctx) => {
          const clusterId = ctx.clusterIds.get(spec.name);
          if (!clusterId) throw new Error(`cluster ${spec.name} has no id`);
          const [row] = await ctx.tx
            .insert(loadBalancers)
            .values({ name: wantLoadBalancer, ...loadBalancerColumns(want, ctx.credentialIds) })
            .returning({ id: loadBalancers.id });
          if (!row) throw new Error("load balancer insert returned no row");
          ctx.loadBalancerIds.set(wantLoadBalancer, row.id);
          ctx.touched.add(clusterId);
          await ctx.audit({
            action: "load_balancer.create",
            targetType: "load_balancer",
            targetId: row.id,
            clusterId,
            after: { name: wantLoadBalancer, cluster: spec.name, ...want },
          });
        });
      } else {
        const cur = currentLoadBalancerValues(found, credentialName);
        const fields = changedFields(cur, want, LOAD_BALANCER_FIELDS);
        if (fields.length === 0) add({ ...base, action: "unchanged" });
        else {
          if (inFlight) {
            issues.push({
              path: lbAt(),
              message: `cluster "${spec.name}" has a switchover in flight; load balancer changes must wait until it finishes`,
            });
          }
          add({ ...base, action: "update", fields }, PHASE.loadBalancer, async (ctx) => {
            const clusterId = ctx.clusterIds.get(spec.name);
            if (!clusterId) throw new Error(`cluster ${spec.name} has no id`);
            await ctx.tx
              .update(loadBalancers)
              .set({ ...loadBalancerColumns(want, ctx.credentialIds), updatedAt: new Date() })
              .where(eq(loadBalancers.id, found.id));
            ctx.touched.add(clusterId);
            await ctx.audit({
              action: "load_balancer.update",
              targetType: "load_balancer",
              targetId: found.id,
              clusterId,
              before: pick(cur, fields),
              after: pick(want, fields),
            });
          });
        }
      }
    }

    // Nodes
    for (const [ni, nodeSpec] of spec.nodes.entries()) {
      const nodeAt = (...p: PathSegment[]) => at("nodes", ni, ...p);
      const want = desiredNodeValues(nodeSpec);
      const endpoint = showEndpoint(want.host, want.servicePort);
      const wantKey = endpointKey(want.host, want.servicePort);
      const found = nodeByName.get(nodeSpec.name);
      const base = { kind: "node", name: nodeSpec.name, cluster: spec.name, detail: endpoint } as const;

      if (found && found.cluster.name !== spec.name) {
        issues.push({
          path: nodeAt("name"),
          message:
            `node "${nodeSpec.name}" belongs to cluster "${found.cluster.name}"; apply does not move nodes ` +
            `between clusters: remove it from "${found.cluster.name}" first (apply with --prune), then add it here`,
        });
        continue;
      }
      // Someone else holds the endpoint: fine if they move away or are pruned in this apply.
      const owner = endpointOwner.get(wantKey);
      if (owner !== undefined && owner !== nodeSpec.name && !fileNodeNames.has(owner) && !prune) {
        const ownerCluster = nodeByName.get(owner)?.cluster.name ?? "?";
        issues.push({
          path: nodeAt("host"),
          message:
            `endpoint ${endpoint} is already used by node "${owner}" (cluster "${ownerCluster}"), which is not ` +
            "in this file: change the endpoint, or apply with --prune to delete that node",
        });
        continue;
      }

      if (!found) {
        const role =
          existing && spec.mode === "active_standby" && nodeSpec.role === "primary"
            ? "standby"
            : nodeSpec.role;
        add({ ...base, action: "create" }, PHASE.createNode, async (ctx) => {
          const clusterId = ctx.clusterIds.get(spec.name);
          if (!clusterId) throw new Error(`cluster ${spec.name} has no id`);
          const [row] = await ctx.tx
            .insert(nodes)
            .values({ clusterId, name: nodeSpec.name, role, ...nodeColumns(want, ctx.credentialIds) })
            .returning({ id: nodes.id });
          if (!row) throw new Error("node insert returned no row");
          ctx.nodeIds.set(nodeSpec.name, row.id);
          ctx.touched.add(clusterId);
          await ctx.audit({
            action: "node.create",
            targetType: "node",
            targetId: row.id,
            clusterId,
            after: { name: nodeSpec.name, role, ...want },
          });
        });
        continue;
      }

      const row = found.row;
      const cur = currentNodeValues(row, credentialName);
      const fields = changedFields(cur, want, NODE_FIELDS);
      if (fields.length === 0) {
        add({ ...base, action: "unchanged" });
        continue;
      }
      if (inFlight) {
        issues.push({
          path: nodeAt(),
          message: `cluster "${spec.name}" has a switchover in flight; node changes must wait until it finishes`,
        });
        continue;
      }
      const runUpdate: Step["run"] = async (ctx) => {
        await ctx.tx
          .update(nodes)
          .set({ ...nodeColumns(want, ctx.credentialIds), updatedAt: new Date() })
          .where(eq(nodes.id, row.id));
        ctx.touched.add(row.clusterId);
        await ctx.audit({
          action: "node.update",
          targetType: "node",
          targetId: row.id,
          clusterId: row.clusterId,
          before: pick(cur, fields),
          after: pick(want, fields),
        });
      };
      changes.push({ ...base, action: "update", fields });
      const step: Step = { phase: PHASE.updateNode, order: order++, run: runUpdate };
      steps.push(step);
      const curKey = endpointKey(cur.host, cur.servicePort);
      if (curKey !== wantKey)
        moves.push({ name: nodeSpec.name, from: curKey, to: wantKey, path: nodeAt("host"), step });
    }

    // New active-standby cluster: the file's primary becomes the target primary at epoch 1.
    if (!existing && spec.mode === "active_standby" && filePrimary) {
      later(PHASE.setPrimary, async (ctx) => {
        const clusterId = ctx.clusterIds.get(spec.name);
        const nodeId = ctx.nodeIds.get(filePrimary);
        if (!clusterId || !nodeId) throw new Error(`cluster ${spec.name} or its primary has no id`);
        await ctx.tx
          .update(clusters)
          .set({ primaryNodeId: nodeId, epoch: 1 })
          .where(eq(clusters.id, clusterId));
      });
    }

    // Nodes of this cluster that the file no longer lists.
    if (existing) {
      for (const row of existing.nodes) {
        if (spec.nodes.some((n) => n.name === row.name) || fileNodeNames.has(row.name)) continue;
        if (!prune) {
          notInFile.push({ kind: "node", name: row.name, cluster: spec.name });
          continue;
        }
        if (existing.mode === "active_standby" && row.id === existing.primaryNodeId) {
          issues.push({
            path: at("nodes"),
            message:
              `node "${row.name}" is not in the file, but it is the current primary of "${spec.name}": ` +
              "switch over to another node first, then prune it",
          });
          continue;
        }
        if (inFlight) {
          issues.push({
            path: at("nodes"),
            message: `cluster "${spec.name}" has a switchover in flight; node "${row.name}" cannot be deleted until it finishes`,
          });
          continue;
        }
        addNodeDelete(row, existing);
      }
    }
  }

  function addNodeDelete(row: NodeRow, cluster: ClusterRow) {
    const before = { name: row.name, role: row.role, ...currentNodeValues(row, credentialName) };
    add(
      {
        action: "delete",
        kind: "node",
        name: row.name,
        cluster: cluster.name,
        detail: showEndpoint(row.host, row.servicePort),
      },
      PHASE.deleteNode,
      async (ctx) => {
        await ctx.tx.delete(nodes).where(eq(nodes.id, row.id));
        ctx.touched.add(cluster.id);
        await ctx.audit({
          action: "node.delete",
          targetType: "node",
          targetId: row.id,
          clusterId: cluster.id,
          before,
        });
      },
    );
  }

  // -- clusters not in the file ----------------------------------------------------------------
  for (const c of state.clusters) {
    if (fileClusterNames.has(c.name)) continue;
    if (!prune) {
      notInFile.push({ kind: "cluster", name: c.name });
      continue;
    }
    if (state.inFlight.has(c.id)) {
      issues.push({
        path: ["clusters"],
        message: `cluster "${c.name}" has a switchover in flight; it cannot be deleted until the switchover finishes`,
      });
      continue;
    }
    const moved = c.nodes.filter((n) => fileNodeNames.has(n.name));
    for (const n of c.nodes) if (!fileNodeNames.has(n.name)) addNodeDelete(n, c);
    if (moved.length > 0) continue; // reported at the node that would move
    add(
      { action: "delete", kind: "cluster", name: c.name, detail: c.mode },
      PHASE.deleteCluster,
      async (ctx) => {
        await ctx.tx.delete(clusters).where(eq(clusters.id, c.id));
        ctx.touched.add(c.id);
        await ctx.audit({
          action: "cluster.delete",
          targetType: "cluster",
          targetId: c.id,
          clusterId: c.id,
          before: {
            name: c.name,
            description: c.description,
            mode: c.mode,
            slaTargetPct: c.slaTargetPct,
            epoch: c.epoch,
            nodes: c.nodes.map((n) => n.name),
          },
        });
      },
    );
  }

  // -- load balancers no cluster in the file names ------------------------------------------------
  // Unlinked above from the file's clusters that had them; deleted with prune (a cluster outside
  // the file goes with prune too, so nothing keeps them); otherwise kept, and listed once no
  // cluster uses them.
  for (const l of state.loadBalancers) {
    if (fileLoadBalancerNames.has(l.name)) continue;
    const linked = linkedClusters.get(l.id) ?? [];
    if (!prune) {
      if (linked.every((c) => fileClusterNames.has(c.name)))
        notInFile.push({ kind: "load_balancer", name: l.name });
      continue;
    }
    const before = { name: l.name, ...currentLoadBalancerValues(l, credentialName) };
    add(
      {
        action: "delete",
        kind: "load_balancer",
        name: l.name,
        ...(linked[0] ? { cluster: linked[0].name } : {}),
        detail: l.endpointUrl,
      },
      PHASE.deleteLoadBalancer,
      async (ctx) => {
        await ctx.tx.delete(loadBalancers).where(eq(loadBalancers.id, l.id));
        if (linked.length === 0) ctx.touched.add(null);
        for (const c of linked) ctx.touched.add(c.id);
        await ctx.audit({
          action: "load_balancer.delete",
          targetType: "load_balancer",
          targetId: l.id,
          clusterId: linked[0]?.id ?? null,
          before,
        });
      },
    );
  }

  // -- endpoint moves between existing nodes: order them so no two hold one endpoint at once ----
  const pending = [...moves];
  const held = new Set(pending.map((m) => m.from));
  let next = 0;
  while (pending.length > 0) {
    const i = pending.findIndex((m) => !held.has(m.to) || m.from === m.to);
    if (i < 0) {
      for (const m of pending) {
        issues.push({
          path: m.path,
          message:
            `node "${m.name}" would take an endpoint another node in this file gives up at the same time ` +
            "(a swap): move one of them to a free port in a first apply",
        });
      }
      break;
    }
    const [m] = pending.splice(i, 1);
    if (!m) break;
    held.delete(m.from);
    m.step.order = -1_000_000 + next++;
  }

  return { plan: { changes, warnings, notInFile }, steps, issues };
}

// ---------------------------------------------------------------------------------------------
// Entry points

/** What `apply` would do, without writing. Throws InventoryValidationError for bad input. */
export async function planInventory(
  db: DbOrTx,
  raw: unknown,
  opts: PlanOptions = {},
): Promise<InventoryPlan> {
  const parsed = parseInventoryFile(raw);
  const built = buildPlan(await loadState(db), parsed, opts);
  if (built.issues.length > 0) throw new InventoryValidationError(finishIssues(built.issues));
  return built.plan;
}

/**
 * Applies the file in one transaction and returns the plan it carried out. `secretKey` seals the
 * credentials the file defines; it may be null when there is nothing to seal. Bad input throws
 * InventoryValidationError before anything is written; a concurrent edit that collides with the
 * plan throws InventoryConflictError and rolls everything back.
 */
export async function applyInventory(
  db: DbOrTx,
  secretKey: Buffer | null,
  raw: unknown,
  opts: ApplyOptions,
): Promise<InventoryPlan> {
  const parsed = parseInventoryFile(raw);
  try {
    return await db.transaction(async (tx) => {
      // Two applies at once would plan against the same state; the second waits and re-plans.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('switchyard.inventory'))`);
      const state = await loadState(tx);
      const built = buildPlan(state, parsed, opts);
      if (built.issues.length > 0) throw new InventoryValidationError(finishIssues(built.issues));
      if (built.steps.length === 0) return built.plan;
      const existingCredential = state.credentials[0];
      if (built.steps.some((s) => s.sealsKey)) requireKey({ secretKey });
      if (secretKey && existingCredential && built.steps.some((s) => s.sealsKey)) {
        // A key other than the one that sealed the existing credentials would leave the fleet with
        // credentials no process can open together; DecryptionError says which variable to check.
        await loadPrivateKey(tx, secretKey, existingCredential.id);
      }
      const ctx: Ctx = {
        tx,
        secretKey,
        audit: async (entry) => {
          await appendAudit(tx, {
            ...entry,
            actorLabel: opts.actor,
            actorRole: ACTOR_ROLE,
            reason: opts.reason ?? "inventory apply",
          });
        },
        credentialIds: new Map(state.credentials.map((c) => [c.name, c.id])),
        clusterIds: new Map(state.clusters.map((c) => [c.name, c.id])),
        nodeIds: new Map(state.clusters.flatMap((c) => c.nodes.map((n) => [n.name, n.id] as const))),
        loadBalancerIds: new Map(state.loadBalancers.map((l) => [l.name, l.id])),
        touched: new Set(),
      };
      const ordered = [...built.steps].sort((a, b) => a.phase - b.phase || a.order - b.order);
      for (const step of ordered) await step.run(ctx);
      for (const clusterId of ctx.touched) await notifyInventoryChanged(tx, clusterId);
      return built.plan;
    });
  } catch (err) {
    const e = err as { code?: unknown; cause?: { code?: unknown; constraint_name?: unknown } };
    const code = e.cause?.code ?? e.code;
    if (code === "23505" || code === "23503") {
      throw new InventoryConflictError(
        typeof e.cause?.constraint_name === "string"
          ? `constraint ${e.cause.constraint_name}`
          : `SQLSTATE ${code}`,
      );
    }
    throw err;
  }
}

/**
 * The one database question `validate` asks: do the credentials that nodes and load balancers
 * reference, but the file does not define, exist? (Everything else about the database is the
 * planner's business.)
 */
export async function findMissingCredentials(db: DbOrTx, parsed: ParsedInventory): Promise<InventoryIssue[]> {
  if (parsed.externalCredentials.size === 0) return [];
  const names = [...parsed.externalCredentials.keys()];
  const found = await db
    .select({ name: credentials.name })
    .from(credentials)
    .where(inArray(credentials.name, names));
  const have = new Set(found.map((r) => r.name));
  const issues: { path: PathSegment[]; message: string }[] = [];
  for (const [name, paths] of parsed.externalCredentials) {
    if (have.has(name)) continue;
    for (const path of paths) issues.push({ path, message: unknownCredentialMessage(name) });
  }
  return finishIssues(issues);
}
