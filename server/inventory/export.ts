// The current inventory in the inventory-file shape, so `export > fleet.json` followed by
// `apply fleet.json` is a no-op. Never secrets: credentials are referenced by name only (they are
// already in the database, so the exported file validates without a `credentials` section).
// Every node and load balancer field is written explicitly (a load balancer's name too, and
// `nginxConfPath: null` for nginx's default); a policy is written as its preset plus the fields that
// differ from it.
import type { DbOrTx } from "@/db/client";
import { clusters, credentials, loadBalancers } from "@/db/schema";
import { DEFAULT_POLICY, isPolicyPresetId, POLICY_PRESETS, type Policy } from "@/server/policy/presets";
import { INVENTORY_FORMAT_VERSION, type InventoryFileInput } from "./schema";

const ROLE_ORDER = { primary: 0, standby: 1, member: 2 } as const;
const POLICY_FIELDS = Object.keys(DEFAULT_POLICY) as (keyof Policy)[];

export async function exportInventory(db: DbOrTx): Promise<{ file: InventoryFileInput; warnings: string[] }> {
  const warnings: string[] = [];
  const credentialRows = await db.select({ id: credentials.id, name: credentials.name }).from(credentials);
  const credentialName = new Map(credentialRows.map((c) => [c.id, c.name]));
  const loadBalancerRows = await db.select().from(loadBalancers);
  const loadBalancerById = new Map(loadBalancerRows.map((l) => [l.id, l]));
  const rows = await db.query.clusters.findMany({
    with: { nodes: true, policy: true },
    orderBy: clusters.name,
  });

  const sharers = new Map<string, string[]>();
  for (const c of rows) {
    if (c.loadBalancerId) sharers.set(c.loadBalancerId, [...(sharers.get(c.loadBalancerId) ?? []), c.name]);
  }
  for (const [id, names] of sharers) {
    if (names.length < 2) continue;
    warnings.push(
      `load balancer "${loadBalancerById.get(id)?.name}" is linked to clusters ${names.join(", ")}; the ` +
        "inventory file gives each cluster its own: rename all but one (with its own upstreamConfigPath) " +
        "before applying",
    );
  }

  const out: InventoryFileInput["clusters"] = rows.map((c) => {
    let policy: Record<string, unknown> | undefined;
    if (c.policy) {
      const stored = c.policy;
      const presetId = isPolicyPresetId(stored.preset) ? stored.preset : "default";
      if (presetId !== stored.preset) {
        warnings.push(
          `cluster "${c.name}": policy preset "${stored.preset}" is not a known preset; exported as "default" ` +
            "with its values spelled out",
        );
      }
      const base: Policy = { ...DEFAULT_POLICY, ...POLICY_PRESETS[presetId].values, preset: presetId };
      policy = { preset: presetId };
      for (const f of POLICY_FIELDS) if (f !== "preset" && stored[f] !== base[f]) policy[f] = stored[f];
    }
    const nodes = [...c.nodes]
      .sort(
        (a, b) =>
          ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.priority - b.priority || (a.name < b.name ? -1 : 1),
      )
      .map((n) => {
        const credential = n.credentialId ? credentialName.get(n.credentialId) : undefined;
        if (!credential)
          warnings.push(`node "${n.name}" has no SSH credential; add "credential" before applying`);
        if (!n.hostKeyFingerprint) {
          warnings.push(
            `node "${n.name}" has no pinned host key; add "hostKeyFingerprint" before applying ` +
              `(ssh-keyscan -t ed25519 ${n.host} | ssh-keygen -lf -)`,
          );
        }
        return {
          name: n.name,
          role: n.role,
          host: n.host,
          servicePort: n.servicePort,
          healthPath: n.healthPath,
          sshPort: n.sshPort,
          sshUser: n.sshUser,
          ...(credential ? { credential } : {}),
          ...(n.hostKeyFingerprint ? { hostKeyFingerprint: n.hostKeyFingerprint } : {}),
          priority: n.priority,
          weight: n.weight,
          maintenance: n.maintenance,
        } as InventoryFileInput["clusters"][number]["nodes"][number];
      });
    const lb = c.loadBalancerId ? loadBalancerById.get(c.loadBalancerId) : undefined;
    let loadBalancer: InventoryFileInput["clusters"][number]["loadBalancer"];
    if (lb) {
      const credential = lb.credentialId ? credentialName.get(lb.credentialId) : undefined;
      if (!credential) {
        warnings.push(
          `load balancer "${lb.name}" (cluster "${c.name}") has no SSH credential; add "credential" before applying`,
        );
      }
      if (!lb.hostKeyFingerprint) {
        warnings.push(
          `load balancer "${lb.name}" (cluster "${c.name}") has no pinned host key; add "hostKeyFingerprint" ` +
            `before applying (ssh-keyscan -t ed25519 ${lb.host} | ssh-keygen -lf -)`,
        );
      }
      loadBalancer = {
        name: lb.name,
        host: lb.host,
        sshPort: lb.sshPort,
        sshUser: lb.sshUser,
        ...(credential ? { credential } : {}),
        ...(lb.hostKeyFingerprint ? { hostKeyFingerprint: lb.hostKeyFingerprint } : {}),
        upstreamConfigPath: lb.upstreamConfigPath,
        endpointUrl: lb.endpointUrl,
        nginxBin: lb.nginxBin,
        nginxConfPath: lb.nginxConfPath,
      } as NonNullable<typeof loadBalancer>;
    }
    return {
      name: c.name,
      description: c.description,
      mode: c.mode,
      slaTargetPct: c.slaTargetPct,
      ...(policy ? { policy } : {}),
      ...(loadBalancer ? { loadBalancer } : {}),
      nodes,
    };
  });
  return { file: { version: INVENTORY_FORMAT_VERSION, clusters: out }, warnings };
}
