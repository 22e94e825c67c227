// The plan as people read it in a terminal, terraform-style: one line per change, unchanged
// things summarised as a count.
//   + create node gte-a (127.0.0.2:8000)
//   ~ update node gte-b (127.0.0.3:8000): priority, weight
//   - delete node old-1 (10.0.0.9:8000)
//   + create load balancer lb-gte (http://10.0.0.5/)
//   = 6 unchanged (2 clusters, 2 policies, 2 nodes)
import type { ChangeKind, InventoryPlan } from "./apply";

const SYMBOL = { create: "+", update: "~", delete: "-" } as const;
const KIND_LABEL: Record<ChangeKind, string> = {
  cluster: "cluster",
  node: "node",
  credential: "credential",
  policy: "policy",
  load_balancer: "load balancer",
};
const KIND_PLURAL: Record<ChangeKind, string> = {
  cluster: "clusters",
  node: "nodes",
  credential: "credentials",
  policy: "policies",
  load_balancer: "load balancers",
};

export function formatPlan(plan: InventoryPlan, opts: { prune?: boolean } = {}): string[] {
  const lines: string[] = [];
  const unchanged = new Map<ChangeKind, number>();
  for (const c of plan.changes) {
    if (c.action === "unchanged") {
      unchanged.set(c.kind, (unchanged.get(c.kind) ?? 0) + 1);
      continue;
    }
    const head = `${SYMBOL[c.action]} ${c.action} ${KIND_LABEL[c.kind]} ${c.name}${c.detail ? ` (${c.detail})` : ""}`;
    lines.push(c.fields && c.fields.length > 0 ? `${head}: ${c.fields.join(", ")}` : head);
  }
  const total = [...unchanged.values()].reduce((a, b) => a + b, 0);
  if (total > 0) {
    const parts = [...unchanged].map(([kind, n]) => `${n} ${n === 1 ? KIND_LABEL[kind] : KIND_PLURAL[kind]}`);
    lines.push(`= ${total} unchanged (${parts.join(", ")})`);
  }
  if (plan.notInFile.length > 0 && !opts.prune) {
    const names = plan.notInFile.map(
      (x) => `${KIND_LABEL[x.kind]} ${x.name}${x.cluster ? ` (in ${x.cluster})` : ""}`,
    );
    lines.push(`? not in the file, kept (apply with --prune to delete): ${names.join(", ")}`);
  }
  return lines;
}

export function summarizePlan(plan: InventoryPlan, opts: { dryRun: boolean }): string {
  const n = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const c of plan.changes) n[c.action]++;
  if (n.create + n.update + n.delete === 0) return `No changes (${n.unchanged} unchanged).`;
  return opts.dryRun
    ? `Plan: ${n.create} to create, ${n.update} to update, ${n.delete} to delete, ${n.unchanged} unchanged. ` +
        "Dry run: nothing was written."
    : `Applied: ${n.create} created, ${n.update} updated, ${n.delete} deleted, ${n.unchanged} unchanged.`;
}
