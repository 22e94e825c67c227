/**
 * The declarative inventory file (`npm run inventory -- apply fleet.json`): credentials, clusters,
 * their policies, load balancers and nodes, as an operator keeps them in version control.
 *
 * Validation happens in two passes so that one run reports every problem, not the first one:
 * the zod schema checks each value on its own (types, formats, ranges, unknown keys), and
 * `crossCheck` checks what only the whole file can tell (unique names and endpoints, one primary
 * per active-standby cluster, roles that fit the mode, credential references, policies merged over
 * their preset, a load balancer name and an upstream file of each cluster's own). The cross-checks
 * read the raw input defensively, so they still run when some other value is malformed. Every issue
 * carries the JSON path (`clusters[0].nodes[1].host`).
 *
 * Omitted optional fields mean their defaults, not "leave as is": the file is the whole desired
 * state of what it names, so applying it twice, or after someone edited the database, converges on
 * the same rows (a cluster without `loadBalancer` has none). `export` writes every field explicitly.
 *
 * Hosts, users, names and paths reach remote shells (always quoted, see server/ssh/quote.ts); they
 * are still held to narrow formats here so nothing surprising is stored in the first place.
 */
import { isIP } from "node:net";
import { posix } from "node:path";
import { z } from "zod";
import {
  DEFAULT_POLICY,
  isPolicyPresetId,
  POLICY_PRESET_IDS,
  POLICY_PRESETS,
  type Policy,
  policySchema,
} from "@/server/policy/presets";
import { isSshFingerprint } from "@/server/ssh/fingerprint";
// A cycle (template.ts takes NAME_RE, isValidHost and HEALTH_PATH_RE from here), safe because
// neither module touches the other's exports while loading: use TEMPLATE_VARIABLES only inside
// functions. It makes the load balancer's values pass exactly the checks the switchover engine
// applies when it renders them into the LB's commands ({{upstream_path}}, {{nginx_bin}}, …).
import { TEMPLATE_VARIABLES } from "@/server/switchover/template";

export const INVENTORY_FORMAT_VERSION = 1;

export const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const HEALTH_PATH_RE = /^\/[A-Za-z0-9._~/-]*$/;
/** POSIX-portable login names; never starting with "-" so a user can't become an ssh option. */
export const SSH_USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const DNS_LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export const NODE_DEFAULTS = Object.freeze({
  sshPort: 22,
  sshUser: "switchyard",
  servicePort: 8000,
  healthPath: "/health",
  priority: 100,
  weight: 1,
  maintenance: false,
});

/** What an omitted load balancer field means; `name` defaults to `lb-<cluster name>`. */
export const LOAD_BALANCER_DEFAULTS = Object.freeze({
  sshPort: NODE_DEFAULTS.sshPort,
  sshUser: NODE_DEFAULTS.sshUser,
  nginxBin: "nginx",
  nginxConfPath: null,
});

/** The load balancer's name when the file gives none. */
export const defaultLoadBalancerName = (clusterName: string) => `lb-${clusterName}`;

/** An IPv4 address, an IPv6 address (no zone id, no brackets) or a DNS name (RFC 1123 labels,
 * at most 253 characters, not all-numeric in its last label so `1.2.3.999` is not a "name"). */
export function isValidHost(value: string): boolean {
  const ip = isIP(value);
  if (ip === 4) return true;
  if (ip === 6) return /^[0-9A-Fa-f:.]+$/.test(value);
  if (value.length === 0 || value.length > 253) return false;
  const labels = value.split(".");
  if (!labels.every((l) => DNS_LABEL_RE.test(l))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1] ?? "");
}

/** Hostnames are case-insensitive; two spellings of one endpoint are one endpoint. */
export function endpointKey(host: string, port: number): string {
  return `${host.toLowerCase()}:${port}`;
}

/** One upstream file, however its path is spelled (`/etc/nginx//a.conf` is `/etc/nginx/a.conf`). */
export function upstreamPathKey(path: string): string {
  return posix.normalize(path);
}

/** `SHA256:…` as ssh-keygen prints it; base64 padding that some tools add is dropped. */
export function normalizeFingerprint(value: string): string {
  return value.trim().replace(/=+$/, "");
}

// ---------------------------------------------------------------------------------------------
// Per-value schema

type IssueInput = { input?: unknown };
/** "is required" when the key is missing, else the given message. */
const req = (message: string) => ({
  error: (iss: IssueInput) => (iss.input === undefined ? "is required" : message),
});

const NAME_MESSAGE =
  "must be 1-63 lowercase letters, digits or '-', starting with a letter or digit (e.g. gte-a)";
const nameSchema = z.string(req("must be a string")).regex(NAME_RE, { error: NAME_MESSAGE });

const portSchema = z
  .number(req("must be a number"))
  .int({ error: "must be a whole number" })
  .min(1, { error: "must be between 1 and 65535" })
  .max(65535, { error: "must be between 1 and 65535" });

const intRange = (min: number, max: number) =>
  z
    .number(req("must be a number"))
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be between ${min} and ${max}` })
    .max(max, { error: `must be between ${min} and ${max}` });

const hostSchema = z
  .string(req("must be a string"))
  .refine(isValidHost, { error: "must be an IPv4/IPv6 address or a DNS name" });

const fingerprintSchema = z
  .string(req("must be a string"))
  .refine((v) => isSshFingerprint(normalizeFingerprint(v)), {
    error:
      "must be a SHA256 host key fingerprint like SHA256:<43 base64 characters>, as printed by " +
      "`ssh-keyscan -t ed25519 HOST | ssh-keygen -lf -`",
  })
  .transform(normalizeFingerprint);

const sshUserSchema = z.string(req("must be a string")).regex(SSH_USER_RE, {
  error: "must be a login name: letters, digits, '_', '.', '-', not starting with '-' or a digit",
});

type TemplateVariable = keyof typeof TEMPLATE_VARIABLES;
/** A string that `{{variable}}` accepts in a playbook command, with the template's own message
 * (or `message`, when the template's would be misleading here). */
const templateValueSchema = (
  variable: TemplateVariable,
  opts: { message?: string; typeMessage?: string; emptyMessage?: string } = {},
) =>
  z.string(req(opts.typeMessage ?? "must be a string")).superRefine((value, ctx) => {
    const problem =
      value === "" && opts.emptyMessage ? opts.emptyMessage : TEMPLATE_VARIABLES[variable].validate(value);
    if (problem !== null) ctx.addIssue({ code: "custom", message: opts.message ?? problem });
  });

const policyOverrideShape: Record<string, z.ZodType> = { preset: z.unknown().optional() };
for (const field of Object.keys(DEFAULT_POLICY)) {
  // Typed and ranged by policySchema after the merge, so messages match the settings form.
  if (field !== "preset") policyOverrideShape[field] = z.unknown().optional();
}

const policyOverrideSchema = z.strictObject(policyOverrideShape, req("must be an object"));

export const inventoryNodeSchema = z.strictObject(
  {
    name: nameSchema,
    host: hostSchema,
    sshPort: portSchema.optional(),
    sshUser: sshUserSchema.optional(),
    credential: nameSchema,
    hostKeyFingerprint: fingerprintSchema,
    servicePort: portSchema.optional(),
    healthPath: z
      .string(req("must be a string"))
      .max(256, { error: "must be at most 256 characters" })
      .regex(HEALTH_PATH_RE, {
        error: "must be a URL path starting with '/' (letters, digits and . _ ~ / - only)",
      })
      .optional(),
    role: z.enum(["primary", "standby", "member"], req("must be one of: primary, standby, member")),
    priority: intRange(0, 10_000).optional(),
    weight: intRange(0, 1000).optional(),
    maintenance: z.boolean(req("must be true or false")).optional(),
  },
  req("must be an object"),
);

/** The cluster's nginx: Switchyard rewrites one upstream include file on it over SSH. */
export const inventoryLoadBalancerSchema = z.strictObject(
  {
    name: nameSchema.optional(),
    host: hostSchema,
    sshPort: portSchema.optional(),
    sshUser: sshUserSchema.optional(),
    credential: nameSchema,
    hostKeyFingerprint: fingerprintSchema,
    upstreamConfigPath: templateValueSchema("upstream_path"),
    endpointUrl: templateValueSchema("lb_endpoint_url"),
    nginxBin: templateValueSchema("nginx_bin", {
      message:
        "must be a command name (letters, digits and . _ + -, not starting with '-') or an absolute path " +
        "of [A-Za-z0-9._/+-] without '..'",
    }).optional(),
    // The template takes "" for nginx's default; the file says null, so "" is a mistake here.
    nginxConfPath: templateValueSchema("nginx_conf", {
      typeMessage: "must be a string or null",
      emptyMessage: "must be an absolute path of [A-Za-z0-9._/+-] without '..', or null for nginx's default",
    })
      .nullable()
      .optional(),
  },
  req("must be an object"),
);

export const inventoryClusterSchema = z.strictObject(
  {
    name: nameSchema,
    description: z
      .string(req("must be a string"))
      .max(1000, { error: "must be at most 1000 characters" })
      .optional(),
    mode: z.enum(["active_standby", "active_active"], req("must be one of: active_standby, active_active")),
    slaTargetPct: z
      .number(req("must be a number"))
      .gt(0, { error: "must be a percentage above 0 and below 100 (e.g. 99.9)" })
      .lt(100, { error: "must be a percentage above 0 and below 100 (e.g. 99.9)" }),
    policy: policyOverrideSchema.optional(),
    loadBalancer: inventoryLoadBalancerSchema.optional(),
    nodes: z
      .array(inventoryNodeSchema, req("must be a list of nodes"))
      .min(1, { error: "must list at least one node" }),
  },
  req("must be an object"),
);

export const inventoryCredentialSchema = z.strictObject(
  {
    name: nameSchema,
    privateKeyFile: z
      .string(req("must be a string"))
      .min(1, { error: "must be a path to a private key file" })
      .max(4096, { error: "must be at most 4096 characters" }),
  },
  req("must be an object"),
);

export const inventoryFileSchema = z.strictObject(
  {
    version: z.literal(INVENTORY_FORMAT_VERSION, req(`must be ${INVENTORY_FORMAT_VERSION}`)).optional(),
    credentials: z.array(inventoryCredentialSchema, req("must be a list of credentials")).optional(),
    clusters: z.array(inventoryClusterSchema, req("must be a list of clusters")),
  },
  req("must be an object"),
);

export type InventoryFile = z.output<typeof inventoryFileSchema>;
export type InventoryClusterSpec = InventoryFile["clusters"][number];
export type InventoryNodeSpec = InventoryClusterSpec["nodes"][number];
export type InventoryLoadBalancerSpec = NonNullable<InventoryClusterSpec["loadBalancer"]>;
/** What `export` writes: the same shape, with JSON-friendly input types. */
export type InventoryFileInput = z.input<typeof inventoryFileSchema>;

// ---------------------------------------------------------------------------------------------
// Issues

export type PathSegment = string | number;
export type InventoryIssue = { path: string; message: string };
type RawIssue = { path: PathSegment[]; message: string };

/** `clusters[0].nodes[1].host` */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out === "" ? "(file)" : out;
}

function comparePaths(a: readonly PathSegment[], b: readonly PathSegment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as PathSegment;
    const y = b[i] as PathSegment;
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

/** Issues in file order (numerically by index), duplicates dropped. */
export function finishIssues(raw: readonly RawIssue[]): InventoryIssue[] {
  const sorted = raw.map((r, i) => ({ ...r, i }));
  sorted.sort((a, b) => comparePaths(a.path, b.path) || a.i - b.i);
  const seen = new Set<string>();
  const out: InventoryIssue[] = [];
  for (const r of sorted) {
    const issue = { path: formatPath(r.path), message: r.message };
    const key = `${issue.path}\n${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}

/** Bad input: every problem found, each with its JSON path. Nothing was written. */
export class InventoryValidationError extends Error {
  readonly code = "inventory_invalid" as const;
  readonly issues: InventoryIssue[];
  constructor(issues: InventoryIssue[]) {
    super(
      `the inventory is invalid (${issues.length} ${issues.length === 1 ? "problem" : "problems"}):\n` +
        issues.map((i) => `  ${i.path}: ${i.message}`).join("\n"),
    );
    this.name = "InventoryValidationError";
    this.issues = issues;
  }
}

// ---------------------------------------------------------------------------------------------
// Parse + cross-checks

export type ParsedInventory = {
  file: InventoryFile;
  /** The effective policy of each cluster, by index: the preset, then the file's fields. */
  policies: Policy[];
  /** Credentials referenced by nodes or load balancers but not defined in the file (name → paths of the references):
   * they must already exist in the database, which only the planner can check. */
  externalCredentials: Map<string, PathSegment[][]>;
};

export type InventoryCheck = { ok: true; value: ParsedInventory } | { ok: false; issues: InventoryIssue[] };

export function checkInventoryFile(raw: unknown): InventoryCheck {
  const issues: RawIssue[] = [];
  const parsed = inventoryFileSchema.safeParse(raw);
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      const path = iss.path.filter((p): p is PathSegment => typeof p !== "symbol");
      if (iss.code === "unrecognized_keys") {
        for (const key of iss.keys) {
          issues.push({ path: [...path, key], message: unknownKeyMessage(path) });
        }
      } else {
        issues.push({ path, message: iss.message });
      }
    }
  }
  const cross = crossCheck(raw);
  issues.push(...cross.issues);
  if (issues.length > 0 || !parsed.success) return { ok: false, issues: finishIssues(issues) };
  return {
    ok: true,
    value: {
      file: parsed.data,
      policies: cross.policies.map((p) => p ?? { ...DEFAULT_POLICY }),
      externalCredentials: cross.externalCredentials,
    },
  };
}

export function parseInventoryFile(raw: unknown): ParsedInventory {
  const result = checkInventoryFile(raw);
  if (!result.ok) throw new InventoryValidationError(result.issues);
  return result.value;
}

function unknownKeyMessage(parent: readonly PathSegment[]): string {
  const last = parent[parent.length - 1];
  const prev = parent[parent.length - 2];
  const allowed =
    parent.length === 0
      ? Object.keys(inventoryFileSchema.shape)
      : prev === "nodes"
        ? Object.keys(inventoryNodeSchema.shape)
        : prev === "clusters"
          ? Object.keys(inventoryClusterSchema.shape)
          : last === "loadBalancer"
            ? Object.keys(inventoryLoadBalancerSchema.shape)
            : prev === "credentials"
              ? Object.keys(inventoryCredentialSchema.shape)
              : last === "policy"
                ? Object.keys(policyOverrideShape)
                : [];
  return allowed.length > 0 ? `unknown key (allowed: ${allowed.join(", ")})` : "unknown key";
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const validName = (v: unknown): v is string => typeof v === "string" && NAME_RE.test(v);
const validPort = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535;

/** Merges the file's policy fields over the preset (over the defaults) and validates the result. */
export function resolvePolicy(
  override: Record<string, unknown> | undefined,
): { ok: true; policy: Policy } | { ok: false; issues: RawIssue[] } {
  const o = override ?? {};
  const presetId = o.preset ?? "default";
  if (typeof presetId !== "string" || !isPolicyPresetId(presetId)) {
    return {
      ok: false,
      issues: [{ path: ["preset"], message: `must be one of: ${POLICY_PRESET_IDS.join(", ")}` }],
    };
  }
  const merged: Record<string, unknown> = { ...DEFAULT_POLICY, ...POLICY_PRESETS[presetId].values };
  for (const [k, v] of Object.entries(o)) if (k in DEFAULT_POLICY && v !== undefined) merged[k] = v;
  merged.preset = presetId;
  const result = policySchema.safeParse(merged);
  if (result.success) return { ok: true, policy: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((i) => ({
      path: i.path.filter((p): p is PathSegment => typeof p !== "symbol"),
      message: i.message,
    })),
  };
}

function crossCheck(raw: unknown): {
  issues: RawIssue[];
  policies: (Policy | null)[];
  externalCredentials: Map<string, PathSegment[][]>;
} {
  const issues: RawIssue[] = [];
  const policies: (Policy | null)[] = [];
  const externalCredentials = new Map<string, PathSegment[][]>();
  if (!isRecord(raw)) return { issues, policies, externalCredentials };

  const credentialNames = new Map<string, number>();
  asArray(raw.credentials).forEach((c, i) => {
    if (!isRecord(c) || !validName(c.name)) return;
    const first = credentialNames.get(c.name);
    if (first !== undefined) {
      issues.push({
        path: ["credentials", i, "name"],
        message: `duplicate credential name "${c.name}" (also credentials[${first}])`,
      });
    } else credentialNames.set(c.name, i);
  });

  const clusterNames = new Map<string, number>();
  const nodeNames = new Map<string, string>();
  const endpoints = new Map<string, string>();
  const loadBalancerNames = new Map<string, string>();
  const upstreamPaths = new Map<string, string>();
  const referenceCredential = (name: unknown, path: PathSegment[]) => {
    if (!validName(name) || credentialNames.has(name)) return;
    const refs = externalCredentials.get(name) ?? [];
    refs.push(path);
    externalCredentials.set(name, refs);
  };
  asArray(raw.clusters).forEach((c, ci) => {
    policies.push(null);
    if (!isRecord(c)) return;
    const at = (...p: PathSegment[]): PathSegment[] => ["clusters", ci, ...p];
    if (validName(c.name)) {
      const first = clusterNames.get(c.name);
      if (first !== undefined) {
        issues.push({
          path: at("name"),
          message: `duplicate cluster name "${c.name}" (also clusters[${first}])`,
        });
      } else clusterNames.set(c.name, ci);
    }

    if (c.policy === undefined || isRecord(c.policy)) {
      const r = resolvePolicy(c.policy as Record<string, unknown> | undefined);
      if (r.ok) policies[ci] = r.policy;
      else for (const i of r.issues) issues.push({ path: at("policy", ...i.path), message: i.message });
    }

    const lb = c.loadBalancer;
    if (isRecord(lb)) {
      const lbPath = at("loadBalancer");
      const here = formatPath(lbPath);
      let lbName: string | null = null;
      if (lb.name !== undefined) lbName = validName(lb.name) ? lb.name : null;
      else if (validName(c.name)) {
        lbName = defaultLoadBalancerName(c.name);
        if (!NAME_RE.test(lbName)) {
          issues.push({
            path: [...lbPath, "name"],
            message:
              `is required for this cluster: the default "${defaultLoadBalancerName("<cluster name>")}" would be ` +
              "longer than 63 characters",
          });
          lbName = null;
        }
      }
      if (lbName !== null) {
        const first = loadBalancerNames.get(lbName);
        if (first !== undefined) {
          issues.push({
            path: [...lbPath, "name"],
            message:
              `duplicate load balancer name "${lbName}"${lb.name === undefined ? " (the default for this cluster)" : ""} ` +
              `(also ${first}); each cluster has its own load balancer`,
          });
        } else loadBalancerNames.set(lbName, here);
      }
      if (
        typeof lb.upstreamConfigPath === "string" &&
        TEMPLATE_VARIABLES.upstream_path.validate(lb.upstreamConfigPath) === null
      ) {
        const key = upstreamPathKey(lb.upstreamConfigPath);
        const first = upstreamPaths.get(key);
        if (first !== undefined) {
          issues.push({
            path: [...lbPath, "upstreamConfigPath"],
            message:
              `upstream file ${lb.upstreamConfigPath} is also used by ${first}; two clusters cannot share ` +
              "one upstream file (each switchover rewrites all of it)",
          });
        } else upstreamPaths.set(key, here);
      }
      referenceCredential(lb.credential, [...lbPath, "credential"]);
    }

    const mode = c.mode;
    const primaries: { index: number; name: string }[] = [];
    const nodes = asArray(c.nodes);
    nodes.forEach((n, ni) => {
      if (!isRecord(n)) return;
      const nodePath = at("nodes", ni);
      const here = formatPath(nodePath);
      if (validName(n.name)) {
        const first = nodeNames.get(n.name);
        if (first !== undefined) {
          issues.push({
            path: [...nodePath, "name"],
            message: `duplicate node name "${n.name}" (also ${first}); node names are unique across all clusters`,
          });
        } else nodeNames.set(n.name, here);
      }
      const servicePort = n.servicePort === undefined ? NODE_DEFAULTS.servicePort : n.servicePort;
      if (typeof n.host === "string" && isValidHost(n.host) && validPort(servicePort)) {
        const key = endpointKey(n.host, servicePort);
        const first = endpoints.get(key);
        if (first !== undefined) {
          issues.push({
            path: [...nodePath, "host"],
            message: `duplicate endpoint ${n.host}:${servicePort} (also ${first}); host:servicePort is unique across all clusters`,
          });
        } else endpoints.set(key, here);
      }
      if (mode === "active_standby") {
        if (n.role === "primary")
          primaries.push({ index: ni, name: typeof n.name === "string" ? n.name : "?" });
        if (n.role === "member") {
          issues.push({
            path: [...nodePath, "role"],
            message: 'an active_standby cluster has one "primary" and "standby" nodes, not "member"',
          });
        }
      } else if (mode === "active_active" && (n.role === "primary" || n.role === "standby")) {
        issues.push({
          path: [...nodePath, "role"],
          message: `an active_active cluster has only "member" nodes, not "${n.role}"`,
        });
      }
      referenceCredential(n.credential, [...nodePath, "credential"]);
    });
    if (mode === "active_standby" && Array.isArray(c.nodes) && primaries.length !== 1) {
      issues.push({
        path: at("nodes"),
        message:
          primaries.length === 0
            ? 'an active_standby cluster needs exactly one node with role "primary" (found none)'
            : `an active_standby cluster needs exactly one node with role "primary" (found ${primaries.length}: ${primaries.map((p) => p.name).join(", ")})`,
      });
    }
  });
  return { issues, policies, externalCredentials };
}
