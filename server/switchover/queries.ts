// Read side of switchovers for the UI and the REST API.
import { and, asc, desc, eq, type SQL } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { clusters, nodes, switchoverSteps, switchovers } from "@/db/schema";

export type SwitchoverStepView = {
  seq: number;
  phase: string;
  name: string;
  target: string;
  state: string;
  command: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  outputTruncated: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
};

export type SwitchoverView = {
  id: string;
  clusterId: string;
  clusterName: string;
  kind: string;
  state: string;
  from: string | null;
  to: string | null;
  epoch: number | null;
  reason: string;
  requestedBy: string;
  error: string | null;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  hasReport: boolean;
};

export type SwitchoverDetail = SwitchoverView & { evidence: unknown; steps: SwitchoverStepView[] };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function nodeNames(db: DbOrTx, clusterId: string): Promise<Map<string, string>> {
  const rows = await db
    .select({ id: nodes.id, name: nodes.name })
    .from(nodes)
    .where(eq(nodes.clusterId, clusterId));
  return new Map(rows.map((r) => [r.id, r.name]));
}

function toView(
  row: typeof switchovers.$inferSelect,
  clusterName: string,
  names: Map<string, string>,
): SwitchoverView {
  const report = row.report as { from?: string; to?: string } | null;
  return {
    id: row.id,
    clusterId: row.clusterId,
    clusterName,
    kind: row.kind,
    state: row.state,
    from: (row.fromNodeId && names.get(row.fromNodeId)) || report?.from || null,
    to: (row.toNodeId && names.get(row.toNodeId)) || report?.to || null,
    epoch: row.epoch,
    reason: row.reason,
    requestedBy: row.requestedByLabel,
    error: row.error,
    requestedAt: row.requestedAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    hasReport: row.report !== null,
  };
}

export async function getSwitchover(db: DbOrTx, id: string): Promise<SwitchoverDetail | null> {
  if (!UUID_RE.test(id)) return null;
  const [row] = await db
    .select({ sw: switchovers, clusterName: clusters.name })
    .from(switchovers)
    .innerJoin(clusters, eq(clusters.id, switchovers.clusterId))
    .where(eq(switchovers.id, id));
  if (!row) return null;
  const names = await nodeNames(db, row.sw.clusterId);
  const steps = await db
    .select()
    .from(switchoverSteps)
    .where(eq(switchoverSteps.switchoverId, id))
    .orderBy(asc(switchoverSteps.seq));
  return {
    ...toView(row.sw, row.clusterName, names),
    evidence: row.sw.evidence,
    steps: steps.map((s) => ({
      seq: s.seq,
      phase: s.phase,
      name: s.name,
      target: s.target,
      state: s.state,
      command: s.command,
      exitCode: s.exitCode,
      stdout: s.stdout,
      stderr: s.stderr,
      outputTruncated: s.outputTruncated,
      startedAt: s.startedAt?.toISOString() ?? null,
      finishedAt: s.finishedAt?.toISOString() ?? null,
      durationMs: s.durationMs,
    })),
  };
}

export async function listSwitchovers(
  db: DbOrTx,
  opts: { clusterId?: string; limit?: number } = {},
): Promise<SwitchoverView[]> {
  const where: SQL[] = [];
  if (opts.clusterId && UUID_RE.test(opts.clusterId)) where.push(eq(switchovers.clusterId, opts.clusterId));
  const rows = await db
    .select({ sw: switchovers, clusterName: clusters.name })
    .from(switchovers)
    .innerJoin(clusters, eq(clusters.id, switchovers.clusterId))
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(switchovers.requestedAt))
    .limit(Math.min(Math.max(opts.limit ?? 50, 1), 500));
  const names = new Map<string, string>();
  for (const r of await db.select({ id: nodes.id, name: nodes.name }).from(nodes)) names.set(r.id, r.name);
  return rows.map((r) => toView(r.sw, r.clusterName, names));
}

export async function getSwitchoverReport(db: DbOrTx, id: string): Promise<unknown | null> {
  if (!UUID_RE.test(id)) return null;
  const [row] = await db
    .select({ report: switchovers.report })
    .from(switchovers)
    .where(eq(switchovers.id, id));
  return row?.report ?? null;
}

export type ClusterOption = { id: string; name: string; mode: string };

/** Every cluster's id and name, by name: the history page's cluster filter. */
export async function listClusterOptions(db: DbOrTx): Promise<ClusterOption[]> {
  return await db
    .select({ id: clusters.id, name: clusters.name, mode: clusters.mode })
    .from(clusters)
    .orderBy(asc(clusters.name));
}
