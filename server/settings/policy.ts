/**
 * Settings → failover policy, per cluster. The form edits the whole policy; it is validated with the
 * one policy schema (server/policy/presets.ts `policySchema`, whose messages name each field) and the
 * preset must be one of POLICY_PRESETS. Saving bumps the row's version; a save based on an older
 * version than the stored one is refused, so two admins cannot silently overwrite each other.
 */
import { asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "@/db/client";
import { clusters, policies } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import { notifyInventoryChanged } from "@/server/notify/events";
import {
  DEFAULT_POLICY,
  isPolicyPresetId,
  POLICY_PRESET_IDS,
  type Policy,
  policySchema,
} from "@/server/policy/presets";
import { invalidInput, issuesFromZod, notFound, parseInput, SettingsError } from "./errors";
import { normalizeForm } from "./form";
import type { AuditWho } from "./inventory";

export type PolicySettingsView = {
  clusterId: string;
  clusterName: string;
  mode: "active_standby" | "active_active";
  /** null: the cluster has no policy row yet (the defaults apply). */
  version: number | null;
  updatedAt: string | null;
  policy: Policy;
};

const POLICY_KEYS = Object.keys(DEFAULT_POLICY) as (keyof Policy)[];
const NUMERIC_KEYS = POLICY_KEYS.filter((k) => typeof DEFAULT_POLICY[k] === "number");

function policyOf(row: typeof policies.$inferSelect): Policy {
  return Object.fromEntries(POLICY_KEYS.map((k) => [k, row[k]])) as Policy;
}

export async function listPolicySettings(db: DbOrTx): Promise<PolicySettingsView[]> {
  const rows = await db.query.clusters.findMany({ with: { policy: true }, orderBy: asc(clusters.name) });
  return rows.map((c) => ({
    clusterId: c.id,
    clusterName: c.name,
    mode: c.mode,
    version: c.policy?.version ?? null,
    updatedAt: c.policy?.updatedAt.toISOString() ?? null,
    policy: c.policy ? policyOf(c.policy) : { ...DEFAULT_POLICY },
  }));
}

const envelopeSchema = z.object({
  clusterId: z.uuid({ error: "Pick a cluster." }),
  expectedVersion: z.number().int().nullable().optional(),
});

/** Saves a whole policy for a cluster as its next version; audited with the fields that changed. */
export async function savePolicy(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ clusterId: string; version: number; changed: string[] }> {
  const normalized = normalizeForm(input, { numeric: [...NUMERIC_KEYS, "expectedVersion"] });
  const envelope = parseInput(envelopeSchema, normalized);
  const parsed = policySchema.safeParse(normalized);
  const issues = parsed.success ? [] : issuesFromZod(parsed.error);
  const preset = (normalized as { preset?: unknown }).preset;
  if (typeof preset === "string" && !isPolicyPresetId(preset) && !issues.some((i) => i.field === "preset")) {
    issues.push({ field: "preset", message: `Preset must be one of: ${POLICY_PRESET_IDS.join(", ")}` });
  }
  if (!parsed.success || issues.length > 0) throw invalidInput(issues);
  const policy = parsed.data;

  return await db.transaction(async (tx) => {
    const [cluster] = await tx
      .select({ id: clusters.id, name: clusters.name })
      .from(clusters)
      .where(eq(clusters.id, envelope.clusterId))
      .for("update");
    if (!cluster) throw notFound("This cluster");
    const [row] = await tx.select().from(policies).where(eq(policies.clusterId, cluster.id));
    const storedVersion = row?.version ?? null;
    if (envelope.expectedVersion !== undefined && envelope.expectedVersion !== storedVersion) {
      throw new SettingsError(
        "conflict",
        `The policy of ${cluster.name} was saved by someone else meanwhile (now version ${storedVersion ?? "none"}); reload it and apply your change again.`,
      );
    }
    if (!row) {
      const [created] = await tx
        .insert(policies)
        .values({ clusterId: cluster.id, ...policy, version: 1 })
        .returning({ id: policies.id });
      await appendAudit(tx, {
        ...who,
        action: "policy.create",
        targetType: "policy",
        targetId: created?.id ?? null,
        clusterId: cluster.id,
        after: { ...policy },
      });
      await notifyInventoryChanged(tx, cluster.id);
      return { clusterId: cluster.id, version: 1, changed: POLICY_KEYS };
    }
    const before = policyOf(row);
    const fields = POLICY_KEYS.filter((k) => before[k] !== policy[k]);
    if (fields.length === 0) return { clusterId: cluster.id, version: row.version, changed: [] };
    const [updated] = await tx
      .update(policies)
      .set({ ...policy, version: sql`${policies.version} + 1`, updatedAt: new Date() })
      .where(eq(policies.id, row.id))
      .returning({ version: policies.version });
    await appendAudit(tx, {
      ...who,
      action: "policy.update",
      targetType: "policy",
      targetId: row.id,
      clusterId: cluster.id,
      before: Object.fromEntries(fields.map((k) => [k, before[k]])),
      after: { ...Object.fromEntries(fields.map((k) => [k, policy[k]])), version: updated?.version },
    });
    await notifyInventoryChanged(tx, cluster.id);
    return { clusterId: cluster.id, version: updated?.version ?? row.version + 1, changed: fields };
  });
}
