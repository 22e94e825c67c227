/**
 * The switchover executor: drives `switchovers` rows through their persisted state machine, one
 * journalled SSH step at a time. It runs inside the leading controller.
 *
 *   requested → preflight → fencing → switching_traffic → activating → verifying → completed
 *                                  ↘ (a step whose onFailure is "rollback") → rolling_back → rolled_back
 *                                  ↘ (abort, or a rollback that cannot run/finish)         → failed
 *
 * Pool changes (eject | readmit | drain of an active-active member) take the short path
 * requested → switching_traffic → completed | failed.
 *
 * Safety, in order of importance:
 * - Never two actives. The old primary is degraded (fenced) before the standby is activated, the
 *   load balancer is switched between the two, and every command carries the switchover's epoch,
 *   which nodes and the LB config refuse when it is older than one they have seen.
 * - One driver per switchover. A controller claims a row by writing its lease epoch into it, fenced
 *   by the lease; every later write is conditional on that claim and on the lease, so a controller
 *   that lost its lease stops at its next step. A controller that dies mid-way is replaced by the
 *   next leader, which re-claims the row and re-runs the phase it was in: steps are idempotent
 *   (degrading twice, rewriting the LB file with the same epoch, activating with the same epoch).
 * - Nothing is lost. Each step is written before it runs and after it ends, with its command, exit
 *   code, output (bounded, truncation marked) and timing; the finished switchover gets a JSON report.
 */
import { and, asc, eq, notInArray, sql } from "drizzle-orm";
import type postgres from "postgres";
import type { Db } from "@/db/client";
import {
  alerts,
  clusters,
  loadBalancers,
  nodes,
  type PlaybookStepSpec,
  policies,
  switchoverSteps,
  switchovers,
  TERMINAL_SWITCHOVER_STATES,
} from "@/db/schema";
import { assertLeaseEpoch, leaseFence } from "@/server/controller/lease";
import { loadPrivateKey } from "@/server/credentials/store";
import { renderUpstream, type UpstreamMember } from "@/server/lb/nginx-config";
import { EVENTS_CHANNEL, listen, notifyInventoryChanged, recordEvent } from "@/server/notify/events";
import { connectSsh, exec, isSshError, type SshConnection, SshExecError } from "@/server/ssh";
import { type ActivePlaybook, ensureBuiltInPlaybooks, loadActivePlaybooks, outputMatcher } from "./playbook";
import { buildReport } from "./report";
import { requestSwitchover, SWITCHOVER_CHANNEL } from "./request";
import { renderCommand, type TemplateValues } from "./template";

type SwitchoverRow = typeof switchovers.$inferSelect;
type NodeRow = typeof nodes.$inferSelect;
type ClusterRow = typeof clusters.$inferSelect;
type LbRow = typeof loadBalancers.$inferSelect;
type PlaybookKind =
  | "preflight"
  | "degrade"
  | "switch_traffic"
  | "activate"
  | "verify"
  | "rollback"
  | "drain"
  | "readmit";
type Phase = "preflight" | "fencing" | "switching_traffic" | "activating" | "verifying";
type NodeState = NodeRow["state"];

const FORWARD: ReadonlyArray<{ phase: Phase; playbook: PlaybookKind }> = [
  { phase: "preflight", playbook: "preflight" },
  { phase: "fencing", playbook: "degrade" },
  { phase: "switching_traffic", playbook: "switch_traffic" },
  { phase: "activating", playbook: "activate" },
  { phase: "verifying", playbook: "verify" },
];

/** Per stream, per step, kept in the journal. */
export const STEP_OUTPUT_LIMIT_BYTES = 16 * 1024;

export type ExecutorOptions = {
  db: Db;
  /** For LISTEN (a dedicated connection is taken from it). */
  sql: postgres.Sql;
  secretKey: Buffer | null;
  /** The lease epoch while this process leads; null otherwise. */
  controllerEpoch: () => number | null;
  /** The detector's current verdict on a node (undefined if unknown to it). */
  nodeState: (nodeId: string) => NodeState | undefined;
  log: (line: string) => void;
  sshReadyTimeoutMs?: number;
  /** Told when a switchover ends (any terminal state), for metrics and guards. */
  onFinished?: (sw: {
    id: string;
    clusterId: string;
    kind: string;
    state: string;
    durationMs: number | null;
  }) => void;
};

class LostOwnership extends Error {
  constructor(why: string) {
    super(`no longer driving this switchover: ${why}`);
  }
}

type StepOutcome = { ok: true } | { ok: false; onFailure: "abort" | "rollback"; error: string };

type Roles = { oldPrimary: NodeRow; newPrimary: NodeRow };

type RunContext = {
  sw: SwitchoverRow;
  cluster: ClusterRow;
  lb: LbRow | null;
  members: NodeRow[];
  verifyDeadlineMs: number;
  /** Loaded once, so a switchover runs one version of each playbook from start to end. */
  playbooks: Record<PlaybookKind, ActivePlaybook> | null;
  controllerEpoch: number;
  seq: number;
  abort: AbortController;
  conns: Map<string, Promise<SshConnection>>;
};

export class SwitchoverExecutor {
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private unlisten: (() => Promise<void>) | null = null;
  private stopped = false;
  private pickUpBusy = false;
  private pickUpAgain = false;

  constructor(private readonly opts: ExecutorOptions) {}

  async start(): Promise<void> {
    this.stopped = false;
    await ensureBuiltInPlaybooks(this.opts.db).catch((err: Error) =>
      this.opts.log(`could not install the built-in playbooks: ${err.message}`),
    );
    try {
      const { unlisten } = await listen(this.opts.sql, SWITCHOVER_CHANNEL, () => void this.pickUp());
      this.unlisten = unlisten;
    } catch (err) {
      this.opts.log(`could not LISTEN for switchover requests (${(err as Error).message}); polling only`);
    }
    await this.pickUp();
  }

  /** Stops driving: in-flight steps are aborted and rows left as they are, for the next leader. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.unlisten?.().catch(() => {});
    this.unlisten = null;
    for (const r of this.running.values()) r.abort.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Clusters with a switchover this executor is driving right now. */
  activeClusterIds(): Set<string> {
    const out = new Set<string>();
    for (const id of this.running.keys()) {
      const c = this.clusterOf.get(id);
      if (c) out.add(c);
    }
    return out;
  }

  get runningCount(): number {
    return this.running.size;
  }

  private readonly clusterOf = new Map<string, string>();

  /** Finds every in-flight switchover and drives the ones nobody here drives yet. Also called on a
   * timer by the controller, so a lost NOTIFY only delays a request by that period. */
  async pickUp(): Promise<void> {
    if (this.stopped) return;
    if (this.pickUpBusy) {
      this.pickUpAgain = true;
      return;
    }
    this.pickUpBusy = true;
    try {
      do {
        this.pickUpAgain = false;
        const rows = await this.opts.db
          .select({ id: switchovers.id, clusterId: switchovers.clusterId })
          .from(switchovers)
          .where(notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]))
          .orderBy(asc(switchovers.requestedAt));
        for (const row of rows) {
          if (this.running.has(row.id) || this.stopped) continue;
          this.clusterOf.set(row.id, row.clusterId);
          const abort = new AbortController();
          const done = this.drive(row.id, abort)
            .catch((err) => this.opts.log(`switchover ${row.id}: ${(err as Error).stack ?? err}`))
            .finally(() => {
              this.running.delete(row.id);
              this.clusterOf.delete(row.id);
            });
          this.running.set(row.id, { abort, done });
        }
      } while (this.pickUpAgain && !this.stopped);
    } catch (err) {
      this.opts.log(`could not read in-flight switchovers: ${(err as Error).message}`);
    } finally {
      this.pickUpBusy = false;
    }
  }

  /**
   * A node that is not the cluster's primary but says it is master (a crashed ex-primary that came
   * back after a failover still believes it leads, as real services do): degrade it with the
   * cluster's current epoch, outside any switchover. nginx already routes elsewhere; this keeps the
   * node's own view honest before anyone points traffic at it. Recorded as an event with the output.
   */
  async fenceStaleMaster(clusterId: string, nodeId: string): Promise<{ ok: boolean; message: string }> {
    return await this.outOfBand(clusterId, nodeId, "fence", async (cluster, node, primary, run) => {
      if (cluster.primaryNodeId === node.id) return null;
      const r = await run("degrade", "old_primary", { oldPrimary: node, newPrimary: primary ?? node });
      const other = primary?.name ?? "another node";
      return r.ok
        ? {
            ok: true,
            kind: "node.fenced",
            message: `${node.name} reported master although ${other} is the primary: degraded it at epoch ${cluster.epoch}`,
          }
        : {
            ok: false,
            kind: "node.fence_failed",
            message: `${node.name} reports master although ${other} is the primary, and degrading it failed: ${r.output}`,
          };
    });
  }

  /**
   * The cluster's primary answers healthy but says it is a standby (its service restarted and came
   * back as standby): tell it again to be master, at the cluster's current epoch, by the activate
   * playbook. Re-reads the primary from the database, so a primary that just changed is never
   * "re-activated" from a stale view; never while a switchover is in flight.
   */
  async reassertPrimary(clusterId: string, nodeId: string): Promise<{ ok: boolean; message: string }> {
    return await this.outOfBand(clusterId, nodeId, "reassert", async (cluster, node, _primary, run) => {
      if (cluster.primaryNodeId !== node.id) return null;
      const r = await run("activate", "new_primary", { oldPrimary: node, newPrimary: node });
      return r.ok
        ? {
            ok: true,
            kind: "node.reactivated",
            message: `${node.name} is the primary but reported standby: activated it again at epoch ${cluster.epoch}`,
          }
        : {
            ok: false,
            kind: "node.reactivate_failed",
            message: `${node.name} is the primary but reports standby, and activating it failed: ${r.output}`,
          };
    });
  }

  /**
   * Runs one playbook's steps for one target against one node outside any switchover, at the
   * cluster's current epoch, re-reading the cluster and node from the database and never while a
   * switchover is in flight; records the outcome as an event with the output.
   */
  private async outOfBand(
    clusterId: string,
    nodeId: string,
    what: string,
    decide: (
      cluster: ClusterRow,
      node: NodeRow,
      primary: NodeRow | null,
      run: (
        kind: PlaybookKind,
        target: PlaybookStepSpec["target"],
        roles: Roles,
      ) => Promise<{ ok: boolean; output: string; outputs: string[] }>,
    ) => Promise<{ ok: boolean; kind: string; message: string } | null>,
  ): Promise<{ ok: boolean; message: string }> {
    const controllerEpoch = this.opts.controllerEpoch();
    if (controllerEpoch === null) return { ok: false, message: "not leading" };
    const db = this.opts.db;
    const [cluster] = await db.select().from(clusters).where(eq(clusters.id, clusterId));
    const [node] = await db.select().from(nodes).where(eq(nodes.id, nodeId));
    if (!cluster || !node) return { ok: false, message: `nothing to ${what}` };
    // A switchover in flight owns the roles; and nodes are fenced by epoch anyway: a command at this
    // epoch cannot undo one at a newer epoch.
    if ((await inFlightClusterIds(db)).has(clusterId))
      return { ok: false, message: "a switchover is in flight" };
    const [primary] = cluster.primaryNodeId
      ? await db.select().from(nodes).where(eq(nodes.id, cluster.primaryNodeId))
      : [];
    const ctx: RunContext = {
      sw: { id: "00000000-0000-0000-0000-000000000000" } as SwitchoverRow,
      cluster,
      lb: null,
      members: [node],
      verifyDeadlineMs: 10_000,
      playbooks: null,
      controllerEpoch,
      seq: 0,
      abort: new AbortController(),
      conns: new Map(),
    };
    let outputs: string[] = [];
    const run = async (kind: PlaybookKind, target: PlaybookStepSpec["target"], roles: Roles) => {
      const playbook = (await loadActivePlaybooks(db))[kind];
      let ok = true;
      outputs = [];
      for (const step of playbook.steps.filter((st) => st.target === target)) {
        const command = renderCommand(step.command, this.values(ctx, roles, cluster.epoch, node, null));
        try {
          const r = await exec(await this.connectionFor(ctx, node), command, {
            timeoutMs: step.timeoutMs,
            maxOutputBytes: STEP_OUTPUT_LIMIT_BYTES,
          });
          outputs.push(r.stdout.trim());
        } catch (err) {
          ok = false;
          outputs.push(
            err instanceof SshExecError
              ? `exit ${err.exitCode}: ${err.stderr.trim()}`
              : (err as Error).message,
          );
        }
      }
      return { ok, output: outputs.join("; ").slice(0, 300), outputs };
    };
    try {
      const outcome = await decide(cluster, node, primary ?? null, run);
      if (!outcome) return { ok: false, message: `nothing to ${what}` };
      await recordEvent(db, {
        kind: outcome.kind,
        severity: outcome.ok ? "warning" : "critical",
        clusterId,
        nodeId,
        message: outcome.message,
        data: { epoch: cluster.epoch, output: outputs },
      }).catch(() => {});
      return { ok: outcome.ok, message: outcome.message };
    } finally {
      for (const c of ctx.conns.values()) void c.then((conn) => conn.close()).catch(() => {});
    }
  }

  // ---- one switchover ----------------------------------------------------------------------

  private async drive(id: string, abort: AbortController): Promise<void> {
    const controllerEpoch = this.opts.controllerEpoch();
    if (controllerEpoch === null) return;
    const db = this.opts.db;
    // Claim it: our lease epoch goes into the row, fenced by the lease, and only if no newer
    // controller has claimed it.
    const claimed = await db
      .update(switchovers)
      .set({
        controllerEpoch,
        startedAt: sql`coalesce(${switchovers.startedAt}, now())`,
        updatedAt: new Date(),
      })
      .where(
        and(
          eq(switchovers.id, id),
          notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]),
          sql`(${switchovers.controllerEpoch} is null or ${switchovers.controllerEpoch} <= ${controllerEpoch})`,
          leaseFence(controllerEpoch),
        ),
      )
      .returning();
    const sw = claimed[0];
    if (!sw) return;
    const [cluster] = await db.select().from(clusters).where(eq(clusters.id, sw.clusterId));
    if (!cluster) return;
    const lb = cluster.loadBalancerId
      ? ((await db.select().from(loadBalancers).where(eq(loadBalancers.id, cluster.loadBalancerId)))[0] ??
        null)
      : null;
    const members = await db
      .select()
      .from(nodes)
      .where(eq(nodes.clusterId, cluster.id))
      .orderBy(asc(nodes.name));
    const [policy] = await db
      .select({ verifyDeadlineMs: policies.verifyDeadlineMs })
      .from(policies)
      .where(eq(policies.clusterId, cluster.id));
    const [{ maxSeq } = { maxSeq: 0 }] = await db
      .select({ maxSeq: sql<number>`coalesce(max(${switchoverSteps.seq}), 0)::int` })
      .from(switchoverSteps)
      .where(eq(switchoverSteps.switchoverId, id));
    const ctx: RunContext = {
      sw,
      cluster,
      lb,
      members,
      verifyDeadlineMs: policy?.verifyDeadlineMs ?? 10_000,
      playbooks: null,
      controllerEpoch,
      seq: maxSeq,
      abort,
      conns: new Map(),
    };
    if (sw.state !== "requested") {
      // Steps the previous driver started and never finished: it died under them.
      await db
        .update(switchoverSteps)
        .set({
          state: "failed",
          stderr: sql`${switchoverSteps.stderr} || ${`\n[interrupted: the controller driving this step went away; controller epoch ${controllerEpoch} resumed the switchover]`}`,
          finishedAt: new Date(),
        })
        .where(and(eq(switchoverSteps.switchoverId, id), eq(switchoverSteps.state, "running")));
      await this.event(
        ctx,
        "switchover.resumed",
        "warning",
        `resumed in state ${sw.state} by controller epoch ${controllerEpoch}`,
      );
    }
    try {
      try {
        ctx.playbooks = await loadActivePlaybooks(db);
      } catch (err) {
        await this.finish(ctx, "failed", `playbooks: ${(err as Error).message}`);
        return;
      }
      if (sw.kind === "eject" || sw.kind === "readmit" || sw.kind === "drain")
        await this.drivePoolChange(ctx);
      else await this.drivePrimaryChange(ctx);
    } catch (err) {
      if (err instanceof LostOwnership || this.stopped) {
        this.opts.log(`switchover ${id}: ${(err as Error).message}`);
        return;
      }
      await this.finish(ctx, "failed", `internal error: ${(err as Error).message}`).catch(() => {});
    } finally {
      for (const c of ctx.conns.values()) void c.then((conn) => conn.close()).catch(() => {});
    }
  }

  private async drivePrimaryChange(ctx: RunContext): Promise<void> {
    const { sw, members } = ctx;
    const from = members.find((n) => n.id === sw.fromNodeId);
    const to = members.find((n) => n.id === sw.toNodeId);
    if (!from || !to) {
      await this.finish(ctx, "failed", "the old or the new primary was deleted from the inventory");
      return;
    }
    if (sw.state === "rolling_back") {
      await this.rollBack(ctx, { oldPrimary: to, newPrimary: from }, "resumed rollback");
      return;
    }
    if (sw.state === "requested" || sw.epoch === null) {
      const epoch = await this.allocateEpoch(ctx);
      ctx.sw = { ...ctx.sw, epoch };
    }
    const roles: Roles = { oldPrimary: from, newPrimary: to };
    const startAt = Math.max(
      0,
      FORWARD.findIndex((p) => p.phase === ctx.sw.state),
    );
    // Open the SSH connections this switchover needs at once, in parallel: a manual switchover
    // should cost one handshake, not one per step.
    this.warmConnections(ctx, [from, to]);
    // Fencing a primary the detector already failed cannot wait on it: a hung or black-holed node
    // makes every degrade attempt run to its timeout. When the degrade playbook is best-effort
    // (every step "continue"), it runs alongside the traffic switch instead of before it: the LB
    // switch is what takes the dead node out of the path, and the epoch fences it if it ever wakes.
    const oldFailed = (this.opts.nodeState(from.id) ?? from.state) === "failed";
    const degradeBestEffort = (ctx.playbooks?.degrade.steps ?? []).every((st) => st.onFailure === "continue");
    let background: Promise<unknown> | null = null;
    try {
      for (const { phase, playbook } of FORWARD.slice(startAt)) {
        await this.setState(ctx, phase);
        if (phase === "fencing" && oldFailed && degradeBestEffort) {
          background = this.runPlaybook(ctx, playbook, phase, roles, ctx.sw.epoch as number, to).catch(
            (err: Error) => err,
          );
          continue;
        }
        const outcome = await this.runPlaybook(ctx, playbook, phase, roles, ctx.sw.epoch as number, to);
        if (outcome.ok) continue;
        await background;
        if (outcome.onFailure === "rollback" && phase !== "preflight") {
          await this.rollBack(ctx, { oldPrimary: to, newPrimary: from }, outcome.error);
          return;
        }
        const changed = phase !== "preflight";
        await this.finish(ctx, "failed", `${phase}: ${outcome.error}`, changed);
        return;
      }
      // The journal is complete before the report is written.
      await background;
    } finally {
      await background;
    }
    await this.complete(ctx, from, to, oldFailed);
  }

  /** Puts `roles.newPrimary` (the original primary) back. Needs it healthy, and a new epoch. */
  private async rollBack(ctx: RunContext, roles: Roles, why: string): Promise<void> {
    await this.setState(ctx, "rolling_back", { error: `rolling back: ${why}` });
    const restore = roles.newPrimary;
    const state = this.opts.nodeState(restore.id) ?? restore.state;
    if (state !== "healthy" && state !== "suspect") {
      await this.finish(
        ctx,
        "failed",
        `${why}; cannot roll back: the old primary ${restore.name} is ${state}`,
        true,
      );
      return;
    }
    const epoch = await this.allocateEpoch(ctx);
    this.warmConnections(ctx, [roles.oldPrimary, roles.newPrimary]);
    const outcome = await this.runPlaybook(ctx, "rollback", "rolling_back", roles, epoch, restore);
    if (!outcome.ok) {
      await this.finish(ctx, "failed", `${why}; rollback failed: ${outcome.error}`, true);
      return;
    }
    await this.finish(ctx, "rolled_back", `rolled back: ${why}`);
  }

  private async drivePoolChange(ctx: RunContext): Promise<void> {
    const { sw, members } = ctx;
    const node = members.find((n) => n.id === sw.fromNodeId);
    if (!node) {
      await this.finish(ctx, "failed", "the member was deleted from the inventory");
      return;
    }
    const wanted = sw.kind === "readmit" ? "in" : sw.kind === "eject" ? "ejected" : "drained";
    const after = members.map((m) => (m.id === node.id ? { ...m, lbStatus: wanted } : m));
    const serving = after.filter((m) => m.lbStatus === "in" && !m.maintenance && this.serving(m));
    const standbyCluster = ctx.cluster.mode === "active_standby";
    if (standbyCluster && (sw.kind !== "readmit" || node.id === ctx.cluster.primaryNodeId)) {
      await this.finish(ctx, "failed", "an active-standby cluster only readmits standbys as backups");
      return;
    }
    if (wanted !== "in" && serving.length === 0) {
      await this.finish(
        ctx,
        "failed",
        `refusing to ${sw.kind} ${node.name}: no other healthy member would be left serving ${ctx.cluster.name}`,
      );
      return;
    }
    if (ctx.sw.state === "requested" || ctx.sw.epoch === null) {
      const epoch = await this.allocateEpoch(ctx);
      ctx.sw = { ...ctx.sw, epoch };
    }
    await this.setState(ctx, "switching_traffic");
    ctx.members = after;
    const primary = members.find((m) => m.id === ctx.cluster.primaryNodeId) ?? null;
    const outcome = await this.runPlaybook(
      ctx,
      sw.kind === "readmit" ? "readmit" : "drain",
      "switching_traffic",
      { oldPrimary: node, newPrimary: primary ?? node },
      ctx.sw.epoch as number,
      standbyCluster ? primary : null,
      node,
    );
    if (!outcome.ok) {
      await this.finish(ctx, "failed", outcome.error, true);
      return;
    }
    await this.opts.db.transaction(async (tx) => {
      await assertLeaseEpoch(tx, ctx.controllerEpoch);
      await tx.update(nodes).set({ lbStatus: wanted, updatedAt: new Date() }).where(eq(nodes.id, node.id));
      await notifyInventoryChanged(tx, ctx.cluster.id);
    });
    await this.finish(ctx, "completed", null);
  }

  // ---- steps -------------------------------------------------------------------------------

  private async runPlaybook(
    ctx: RunContext,
    kind: PlaybookKind,
    phase: SwitchoverRow["state"],
    roles: Roles,
    epoch: number,
    activeNode: NodeRow | null,
    member?: NodeRow,
  ): Promise<{ ok: true } | { ok: false; onFailure: "abort" | "rollback"; error: string }> {
    const playbook = ctx.playbooks?.[kind];
    if (!playbook) return { ok: false, onFailure: "abort", error: `no ${kind} playbook` };
    const upstreamConfig = ctx.lb ? this.upstreamFor(ctx, epoch, activeNode) : null;
    for (const step of playbook.steps) {
      await this.ensureOwned(ctx);
      const outcome = await this.runStep(ctx, phase, step, roles, epoch, upstreamConfig, member);
      if (!outcome.ok) return outcome;
    }
    return { ok: true };
  }

  private upstreamFor(ctx: RunContext, epoch: number, active: NodeRow | null): string {
    const mode = ctx.cluster.mode === "active_active" ? "active-active" : "active-standby";
    const members: UpstreamMember[] = ctx.members.map((m) => {
      let state: UpstreamMember["state"];
      if (mode === "active-active") {
        state = m.lbStatus === "in" && !m.maintenance ? "active" : "down";
      } else if (active && m.id === active.id) {
        state = "active";
      } else {
        state = !m.maintenance && m.lbStatus === "in" && this.serving(m) ? "backup" : "down";
      }
      return { name: m.name, host: m.host, port: m.servicePort, weight: m.weight, state };
    });
    return renderUpstream({ clusterName: ctx.cluster.name, mode, epoch, members });
  }

  private serving(n: NodeRow): boolean {
    const s = this.opts.nodeState(n.id) ?? n.state;
    return s === "healthy" || s === "suspect";
  }

  private async runStep(
    ctx: RunContext,
    phase: SwitchoverRow["state"],
    step: PlaybookStepSpec,
    roles: Roles,
    epoch: number,
    upstreamConfig: string | null,
    member?: NodeRow,
  ): Promise<StepOutcome> {
    const onFailure = step.onFailure;
    const target =
      step.target === "lb"
        ? null
        : step.target === "old_primary"
          ? roles.oldPrimary
          : step.target === "new_primary"
            ? roles.newPrimary
            : (member ?? null);
    const seq = ++ctx.seq;
    const started = new Date();
    const [row] = await this.opts.db
      .insert(switchoverSteps)
      .values({
        switchoverId: ctx.sw.id,
        seq,
        phase,
        name: step.name,
        target:
          step.target === "lb" ? `lb:${ctx.lb?.name ?? "none"}` : `${step.target}:${target?.name ?? "none"}`,
        nodeId: target?.id ?? null,
        command: step.command,
        state: "running",
        startedAt: started,
      })
      .returning({ id: switchoverSteps.id });
    if (!row) throw new Error("step insert returned no row");
    await notifyStep(this.opts.db, ctx.sw, { seq, phase, name: step.name, state: "running" }, target);
    const finishStep = async (fields: Partial<typeof switchoverSteps.$inferInsert>) => {
      const finishedAt = new Date();
      await this.opts.db
        .update(switchoverSteps)
        .set({ ...fields, finishedAt, durationMs: finishedAt.getTime() - started.getTime() })
        .where(eq(switchoverSteps.id, row.id));
      await notifyStep(this.opts.db, ctx.sw, { seq, phase, name: step.name, state: fields.state }, target);
    };

    if (step.target === "lb" && !ctx.lb) {
      await finishStep({ state: "skipped", stderr: "this cluster has no load balancer configured" });
      return { ok: true };
    }
    if (step.target !== "lb" && !target) {
      await finishStep({ state: "skipped", stderr: `no ${step.target} in this switchover` });
      return { ok: true };
    }

    let command: string;
    try {
      command = renderCommand(step.command, this.values(ctx, roles, epoch, target, upstreamConfig));
    } catch (err) {
      const message = `cannot render the command: ${(err as Error).message}`;
      await finishStep({ state: "failed", stderr: message });
      return this.failed(onFailure, `${step.name}: ${message}`);
    }
    await this.opts.db.update(switchoverSteps).set({ command }).where(eq(switchoverSteps.id, row.id));

    let exitCode: number | null = null;
    let stdout = "";
    let stderr = "";
    let truncated = false;
    let error: string | null = null;
    try {
      const conn = await this.connectionFor(ctx, target);
      const result = await exec(conn, command, {
        timeoutMs: step.timeoutMs,
        signal: ctx.abort.signal,
        maxOutputBytes: STEP_OUTPUT_LIMIT_BYTES,
      });
      exitCode = 0;
      stdout = result.stdout;
      stderr = result.stderr;
      truncated = result.truncated;
    } catch (err) {
      if (ctx.abort.signal.aborted) throw new LostOwnership("the controller is stopping");
      if (err instanceof SshExecError) {
        exitCode = err.exitCode;
        stdout = err.stdout;
        stderr = err.stderr;
        truncated =
          Buffer.byteLength(stdout) >= STEP_OUTPUT_LIMIT_BYTES ||
          Buffer.byteLength(stderr) >= STEP_OUTPUT_LIMIT_BYTES;
      } else {
        error = isSshError(err) ? err.message : `${(err as Error).name}: ${(err as Error).message}`;
        stderr = error;
      }
    }
    if (error === null) {
      if (exitCode !== step.expect.exitCode) {
        const detail = (stderr.trim() || stdout.trim()).split("\n").slice(-1)[0] ?? "";
        error = `exit code ${exitCode ?? "none (killed)"}, expected ${step.expect.exitCode}${detail ? `: ${detail.slice(0, 300)}` : ""}`;
      } else if (step.expect.outputMatches && !outputMatcher(step.expect.outputMatches).test(stdout)) {
        error = `output does not match /${step.expect.outputMatches}/`;
      }
    }
    const mark = (text: string) =>
      truncated && Buffer.byteLength(text) >= STEP_OUTPUT_LIMIT_BYTES
        ? `${text}\n[… output truncated at ${STEP_OUTPUT_LIMIT_BYTES} bytes]`
        : text;
    await finishStep({
      state: error === null ? "succeeded" : "failed",
      exitCode,
      stdout: mark(stdout),
      stderr: mark(stderr),
      outputTruncated: truncated,
    });
    if (error === null) return { ok: true };
    const where = target ? `${step.name} on ${target.name}` : `${step.name} on the load balancer`;
    return this.failed(onFailure, `${where}: ${error}`);
  }

  private failed(onFailure: PlaybookStepSpec["onFailure"], error: string): StepOutcome {
    if (onFailure === "continue") return { ok: true };
    return { ok: false, onFailure, error };
  }

  private values(
    ctx: RunContext,
    roles: Roles,
    epoch: number,
    target: NodeRow | null,
    upstreamConfig: string | null,
  ): TemplateValues {
    const v: TemplateValues = {
      cluster_name: ctx.cluster.name,
      epoch,
      switchover_id: ctx.sw.id,
      old_primary_name: roles.oldPrimary.name,
      old_primary_host: roles.oldPrimary.host,
      old_primary_port: roles.oldPrimary.servicePort,
      new_primary_name: roles.newPrimary.name,
      new_primary_host: roles.newPrimary.host,
      new_primary_port: roles.newPrimary.servicePort,
      verify_deadline_ms: ctx.verifyDeadlineMs,
    };
    if (ctx.lb) {
      v.lb_endpoint_url = ctx.lb.endpointUrl;
      v.upstream_path = ctx.lb.upstreamConfigPath;
      v.nginx_bin = ctx.lb.nginxBin;
      v.nginx_conf = ctx.lb.nginxConfPath ?? "";
      if (upstreamConfig !== null) v.upstream_config = upstreamConfig;
    }
    if (target) {
      v.node_name = target.name;
      v.node_host = target.host;
      v.node_port = target.servicePort;
      v.health_path = target.healthPath;
    }
    return v;
  }

  // ---- SSH ---------------------------------------------------------------------------------

  private warmConnections(ctx: RunContext, targets: NodeRow[]): void {
    for (const t of [...targets, null]) {
      if (t === null && !ctx.lb) continue;
      // Failures surface at the step that needs the connection.
      this.connectionFor(ctx, t).catch(() => {});
    }
  }

  private connectionFor(ctx: RunContext, target: NodeRow | null): Promise<SshConnection> {
    const key = target ? `node:${target.id}` : "lb";
    const cached = ctx.conns.get(key);
    if (cached) return cached;
    const p = this.connect(ctx, target);
    ctx.conns.set(key, p);
    // A failed connection is retried by the next step that needs it.
    p.catch(() => {
      if (ctx.conns.get(key) === p) ctx.conns.delete(key);
    });
    return p;
  }

  private async connect(ctx: RunContext, target: NodeRow | null): Promise<SshConnection> {
    const endpoint = target
      ? {
          name: target.name,
          host: target.host,
          port: target.sshPort,
          user: target.sshUser,
          credentialId: target.credentialId,
          fingerprint: target.hostKeyFingerprint,
        }
      : {
          name: `lb ${ctx.lb?.name}`,
          host: ctx.lb?.host ?? "",
          port: ctx.lb?.sshPort ?? 22,
          user: ctx.lb?.sshUser ?? "",
          credentialId: ctx.lb?.credentialId ?? null,
          fingerprint: ctx.lb?.hostKeyFingerprint ?? null,
        };
    if (!this.opts.secretKey) {
      throw new Error("no secret key: SSH credentials cannot be opened (set SWITCHYARD_SECRET_KEY)");
    }
    if (!endpoint.credentialId) throw new Error(`${endpoint.name} has no SSH credential`);
    const privateKey = await loadPrivateKey(this.opts.db, this.opts.secretKey, endpoint.credentialId);
    return await connectSsh({
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      privateKey,
      hostKeyFingerprint: endpoint.fingerprint,
      readyTimeoutMs: this.opts.sshReadyTimeoutMs ?? 5_000,
      keepaliveIntervalMs: 5_000,
      signal: ctx.abort.signal,
      node: endpoint.name,
    });
  }

  // ---- persistence -------------------------------------------------------------------------

  /** The row is still ours and still running, and we still lead. */
  private async ensureOwned(ctx: RunContext): Promise<void> {
    if (this.stopped || ctx.abort.signal.aborted) throw new LostOwnership("the controller is stopping");
    const rows = await this.opts.db.execute<{
      state: string;
      controller_epoch: string | null;
      leader: boolean;
    }>(sql`
      select s.state, s.controller_epoch, ${leaseFence(ctx.controllerEpoch)} as leader
      from switchovers s where s.id = ${ctx.sw.id}`);
    const r = rows[0];
    if (!r) throw new LostOwnership("the row is gone");
    if (!r.leader) throw new LostOwnership(`controller epoch ${ctx.controllerEpoch} no longer leads`);
    if (Number(r.controller_epoch) !== ctx.controllerEpoch) {
      throw new LostOwnership(`claimed by controller epoch ${r.controller_epoch}`);
    }
    if ((TERMINAL_SWITCHOVER_STATES as readonly string[]).includes(r.state)) {
      throw new LostOwnership(`it is ${r.state}`);
    }
  }

  private ownedWhere(ctx: RunContext) {
    return and(
      eq(switchovers.id, ctx.sw.id),
      eq(switchovers.controllerEpoch, ctx.controllerEpoch),
      notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]),
      leaseFence(ctx.controllerEpoch),
    );
  }

  private async setState(
    ctx: RunContext,
    state: SwitchoverRow["state"],
    extra: Partial<typeof switchovers.$inferInsert> = {},
  ): Promise<void> {
    if (ctx.sw.state === state && Object.keys(extra).length === 0) return;
    const updated = await this.opts.db
      .update(switchovers)
      .set({ state, updatedAt: new Date(), ...extra })
      .where(this.ownedWhere(ctx))
      .returning({ id: switchovers.id });
    if (updated.length === 0) throw new LostOwnership(`could not move to ${state}`);
    ctx.sw = { ...ctx.sw, state, ...(extra as object) };
    await this.event(
      ctx,
      `switchover.${state}`,
      "info",
      `${ctx.cluster.name}: ${state.replaceAll("_", " ")}`,
    );
  }

  /** Takes the cluster's next epoch for this switchover (or its rollback) and records it. */
  private async allocateEpoch(ctx: RunContext): Promise<number> {
    return await this.opts.db.transaction(async (tx) => {
      await assertLeaseEpoch(tx, ctx.controllerEpoch);
      const [c] = await tx
        .update(clusters)
        .set({ epoch: sql`${clusters.epoch} + 1`, updatedAt: new Date() })
        .where(eq(clusters.id, ctx.cluster.id))
        .returning({ epoch: clusters.epoch });
      if (!c) throw new Error("cluster is gone");
      const updated = await tx
        .update(switchovers)
        .set({ epoch: c.epoch, updatedAt: new Date() })
        .where(this.ownedWhere(ctx))
        .returning({ id: switchovers.id });
      if (updated.length === 0) throw new LostOwnership("could not record the epoch");
      ctx.cluster = { ...ctx.cluster, epoch: c.epoch };
      return c.epoch;
    });
  }

  private async complete(ctx: RunContext, from: NodeRow, to: NodeRow, oldFailed = false): Promise<void> {
    await this.opts.db.transaction(async (tx) => {
      await assertLeaseEpoch(tx, ctx.controllerEpoch);
      await tx
        .update(clusters)
        .set({ primaryNodeId: to.id, updatedAt: new Date() })
        .where(eq(clusters.id, ctx.cluster.id));
      await tx
        .update(nodes)
        .set({ role: "primary", lbStatus: "in", updatedAt: new Date() })
        .where(eq(nodes.id, to.id));
      // A failed old primary is `down` in the upstream: the controller readmits it as a backup once
      // it is healthy again and no longer claims master.
      await tx
        .update(nodes)
        .set({ role: "standby", lbStatus: oldFailed ? "ejected" : "in", updatedAt: new Date() })
        .where(eq(nodes.id, from.id));
      await notifyInventoryChanged(tx, ctx.cluster.id);
    });
    await this.finish(ctx, "completed", null);
    if (ctx.sw.kind === "drill" && !isDrillReturn(ctx.sw.evidence)) {
      // The second half of a drill: switch back to where we started.
      try {
        await requestSwitchover(this.opts.db, {
          cluster: ctx.cluster.id,
          target: from.id,
          kind: "drill",
          reason: `drill: switch back to ${from.name} (after ${ctx.sw.id.slice(0, 8)})`,
          actor: { label: "controller", role: "system" },
          evidence: { drillOf: ctx.sw.id },
        });
      } catch (err) {
        await this.event(
          ctx,
          "switchover.drill_return_failed",
          "warning",
          `could not request the drill's way back: ${(err as Error).message}`,
        );
      }
    }
  }

  private async finish(
    ctx: RunContext,
    state: "completed" | "rolled_back" | "failed",
    error: string | null,
    /** A failure after something changed: an operator must look. */
    alert = false,
  ): Promise<void> {
    const finishedAt = new Date();
    const updated = await this.opts.db.transaction(async (tx) => {
      await assertLeaseEpoch(tx, ctx.controllerEpoch);
      const rows = await tx
        .update(switchovers)
        .set({ state, error, finishedAt, updatedAt: finishedAt })
        .where(this.ownedWhere(ctx))
        .returning();
      const row = rows[0];
      if (!row) return null;
      const report = await buildReport(tx, row.id);
      await tx.update(switchovers).set({ report }).where(eq(switchovers.id, row.id));
      const severity = state === "completed" ? "info" : state === "rolled_back" ? "warning" : "critical";
      await recordEvent(tx, {
        kind: `switchover.${state}`,
        severity,
        clusterId: ctx.cluster.id,
        switchoverId: row.id,
        message: `${ctx.cluster.name}: ${ctx.sw.kind} switchover ${state.replace("_", " ")}${error ? ` — ${error}` : ""}`,
      });
      if (state !== "completed" && (alert || state === "rolled_back")) {
        await tx
          .insert(alerts)
          .values({
            kind: "switchover_failed",
            severity: state === "failed" ? "critical" : "warning",
            clusterId: ctx.cluster.id,
            message:
              `${ctx.cluster.name}: switchover ${row.id.slice(0, 8)} ${state.replace("_", " ")}: ${error ?? ""}`.slice(
                0,
                1000,
              ),
            data: { switchoverId: row.id },
          })
          .onConflictDoNothing();
      }
      return row;
    });
    if (!updated) throw new LostOwnership(`could not finish as ${state}`);
    ctx.sw = updated;
    const durationMs = updated.startedAt ? finishedAt.getTime() - updated.startedAt.getTime() : null;
    this.opts.log(
      `switchover ${updated.id} (${updated.kind}, ${ctx.cluster.name}) ${state}${error ? `: ${error}` : ""}`,
    );
    this.opts.onFinished?.({
      id: updated.id,
      clusterId: updated.clusterId,
      kind: updated.kind,
      state,
      durationMs,
    });
  }

  private async event(
    ctx: RunContext,
    kind: string,
    severity: "info" | "warning" | "critical",
    message: string,
  ): Promise<void> {
    try {
      await recordEvent(this.opts.db, {
        kind,
        severity,
        clusterId: ctx.cluster.id,
        switchoverId: ctx.sw.id,
        message,
      });
    } catch (err) {
      this.opts.log(`could not record ${kind}: ${(err as Error).message}`);
    }
  }
}

/**
 * Live step progress for browsers: a bare NOTIFY on the events channel (no events row — the step
 * row is the record, and the hub forwards it without an id, so it is never replayed). Best effort:
 * a lost ping only delays a live view until the next event, so it never fails the step.
 */
async function notifyStep(
  db: Db,
  sw: Pick<SwitchoverRow, "id" | "clusterId">,
  step: { seq: number; phase: string; name: string; state: string | undefined },
  node: Pick<NodeRow, "id" | "name"> | null,
): Promise<void> {
  const state = step.state ?? "running";
  const payload = {
    id: null,
    kind: "switchover.step",
    severity: state === "failed" ? "warning" : "info",
    clusterId: sw.clusterId,
    nodeId: node?.id ?? null,
    switchoverId: sw.id,
    message: `step ${step.seq} ${step.name.slice(0, 200)}${node ? ` on ${node.name}` : ""}: ${state}`,
    at: new Date().toISOString(),
    step: { seq: step.seq, phase: step.phase, name: step.name.slice(0, 200), state },
  };
  try {
    await db.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${JSON.stringify(payload)})`);
  } catch {
    // The next step write surfaces a database that went away; a progress ping is not worth failing for.
  }
}

function isDrillReturn(evidence: unknown): boolean {
  return typeof evidence === "object" && evidence !== null && "drillOf" in evidence;
}

/** In-flight switchovers per cluster id (for guards that must not read memory only). */
export async function inFlightClusterIds(db: Db): Promise<Set<string>> {
  const rows = await db
    .select({ clusterId: switchovers.clusterId })
    .from(switchovers)
    .where(notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]));
  return new Set(rows.map((r) => r.clusterId));
}
