// The current inventory in the inventory-file shape, so `export > fleet.json` followed by
// `apply fleet.json` is a no-op. Never secrets: credentials are referenced by name only (they are
// already in the database, so the exported file validates without a `credentials` section).
// Every node field is written explicitly; a policy is written as its preset plus the fields that
// differ from it.
import type { DbOrTx } from "@/db/client";
import { clusters, credentials } from "@/db/schema";
import { DEFAULT_POLICY, isPolicyPresetId, POLICY_PRESETS, type Policy } from "@/server/policy/presets";
import { INVENTORY_FORMAT_VERSION, type InventoryFileInput } from "./schema";

const ROLE_ORDER = { primary: 0, standby: 1, member: 2 } as const;
const POLICY_FIELDS = Object.keys(DEFAULT_POLICY) as (keyof Policy)[];

export async function exportInventory(db: DbOrTx): Promise<{ file: InventoryFileInput; warnings: string[] }> {
  const warnings: string[] = [];
  const credentialRows = await db.select({ id: credentials.id, name: credentials.name }).from(credentials);
  const credentialName = new Map(credentialRows.map((c) => [c.id, c.name]));
  const rows = await db.query.clusters.findMany({
    with: { nodes: true, policy: true },
    orderBy: clusters.name,
  });

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
    return {
      name: c.name,
      description: c.description,
      mode: c.mode,
      slaTargetPct: c.slaTargetPct,
      ...(policy ? { policy } : {}),
      nodes,
    };
  });
  return { file: { version: INVENTORY_FORMAT_VERSION, clusters: out }, warnings };
}
