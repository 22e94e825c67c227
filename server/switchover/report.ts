/**
 * A switchover's report: one JSON document with everything someone needs the morning after —
 * who asked and why, what the controller saw (evidence, GPU snapshot), every step with its command,
 * exit code, timing and an output excerpt, and how long each phase took. Built when the switchover
 * ends, stored on the row (so it survives node deletions), and downloadable.
 */
import { asc, eq } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";
import { clusters, nodes, switchoverSteps, switchovers } from "@/db/schema";

export const REPORT_FORMAT = "switchyard.switchover-report/v1";
const EXCERPT_CHARS = 2_000;

export type SwitchoverReport = {
  format: typeof REPORT_FORMAT;
  id: string;
  cluster: { id: string; name: string } | null;
  kind: string;
  state: string;
  epoch: number | null;
  reason: string;
  requestedBy: string;
  from: string | null;
  to: string | null;
  error: string | null;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Request to end (what an operator waited). */
  totalMs: number | null;
  /** Start of the first step to end of the last (what the playbooks cost). */
  executionMs: number | null;
  phases: Array<{ phase: string; ms: number; steps: number }>;
  steps: Array<{
    seq: number;
    phase: string;
    name: string;
    target: string;
    state: string;
    command: string;
    exitCode: number | null;
    startedAt: string | null;
    durationMs: number | null;
    stdout: string;
    stderr: string;
    outputTruncated: boolean;
  }>;
  evidence: unknown;
  gpuSnapshot: unknown;
  generatedAt: string;
};

function excerpt(text: string): string {
  if (text.length <= EXCERPT_CHARS) return text;
  const head = text.slice(0, EXCERPT_CHARS / 2);
  const tail = text.slice(-EXCERPT_CHARS / 2);
  return `${head}\n[… ${text.length - EXCERPT_CHARS} characters omitted …]\n${tail}`;
}

export async function buildReport(db: DbOrTx, id: string): Promise<SwitchoverReport> {
  const [sw] = await db.select().from(switchovers).where(eq(switchovers.id, id));
  if (!sw) throw new Error(`switchover ${id} not found`);
  const [cluster] = await db
    .select({ id: clusters.id, name: clusters.name })
    .from(clusters)
    .where(eq(clusters.id, sw.clusterId));
  const nameOf = async (nodeId: string | null) => {
    if (!nodeId) return null;
    const [n] = await db.select({ name: nodes.name }).from(nodes).where(eq(nodes.id, nodeId));
    return n?.name ?? null;
  };
  const steps = await db
    .select()
    .from(switchoverSteps)
    .where(eq(switchoverSteps.switchoverId, id))
    .orderBy(asc(switchoverSteps.seq));
  const phases: SwitchoverReport["phases"] = [];
  for (const s of steps) {
    const last = phases[phases.length - 1];
    const ms = s.durationMs ?? 0;
    if (last && last.phase === s.phase) {
      last.ms += ms;
      last.steps += 1;
    } else phases.push({ phase: s.phase, ms, steps: 1 });
  }
  const firstStart = steps.find((s) => s.startedAt)?.startedAt ?? null;
  const lastEnd = [...steps].reverse().find((s) => s.finishedAt)?.finishedAt ?? null;
  const end = sw.finishedAt ?? null;
  const evidence = sw.evidence as { gpu?: unknown } | null;
  return {
    format: REPORT_FORMAT,
    id: sw.id,
    cluster: cluster ?? null,
    kind: sw.kind,
    state: sw.state,
    epoch: sw.epoch,
    reason: sw.reason,
    requestedBy: sw.requestedByLabel,
    from: await nameOf(sw.fromNodeId),
    to: await nameOf(sw.toNodeId),
    error: sw.error,
    requestedAt: sw.requestedAt.toISOString(),
    startedAt: sw.startedAt?.toISOString() ?? null,
    finishedAt: end?.toISOString() ?? null,
    totalMs: end ? end.getTime() - sw.requestedAt.getTime() : null,
    executionMs: firstStart && lastEnd ? lastEnd.getTime() - firstStart.getTime() : null,
    phases,
    steps: steps.map((s) => ({
      seq: s.seq,
      phase: s.phase,
      name: s.name,
      target: s.target,
      state: s.state,
      command: s.command,
      exitCode: s.exitCode,
      startedAt: s.startedAt?.toISOString() ?? null,
      durationMs: s.durationMs,
      stdout: excerpt(s.stdout),
      stderr: excerpt(s.stderr),
      outputTruncated: s.outputTruncated,
    })),
    evidence: sw.evidence,
    gpuSnapshot: evidence && typeof evidence === "object" && "gpu" in evidence ? evidence.gpu : null,
    generatedAt: new Date().toISOString(),
  };
}
