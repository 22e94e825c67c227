// `npm run bench:failover [-- --quick] [--trials N]`
//
// How long clients of a GPU inference cluster are disrupted when its primary fails, with Switchyard
// failing over, and without it (nginx alone). Everything is real except the nodes: a real nginx on
// loopback in front of two simulated nodes (primary + standby, 127.0.0.81/.82, their own HTTP and
// SSH), a simulated LB host (127.0.0.80) reached over SSH, a real Postgres, and the controller
// in-process, driving real playbooks over real SSH (test/switchover-rig.ts builds all of it).
//
// An open-loop client (a worker thread, bench/failover-lib.ts) sends GET /api/v1/search?q=… through
// nginx at a fixed rate for the whole run, on schedule whatever earlier requests did, and records
// per request: scheduled time, end time, status (0 = timeout or network error, or not sent because
// of the in-flight cap), and which node answered.
//
// Scenarios (trials of the fault scenarios are interleaved: crash, hang, … , crash, hang, …):
// 1. faults   — crash | hang | http503 | blackhole | gpu_lost on the primary at t0, controller running.
//               Wait (≤ 20 s) for the automatic switchover to end, recover the old primary, wait
//               (≤ 15 s) for the controller to put it back into nginx as `backup`, and wait for a
//               steady cluster: the next trial faults the new primary (directions alternate). If
//               the old primary is not readmitted in time, a manual switchover back to it restores
//               a backup (counted in invariants.reset_switchovers).
// 2. manual   — manual switchovers, no fault, alternating direction.
// 3. soak     — controller running; GPU saturated on the primary, 503 blips shorter than the failure
//               window, /health latency jitter below the latency threshold. Any switchover = misfire.
// 4. baseline — the same faults with the controller stopped: nginx's `backup` + proxy_next_upstream only.
//
// Definitions (also written into the JSON):
// - detection_ms         switchovers.requested_at − t0 (t0 = just before the fault is injected).
// - execution_ms         switchovers.finished_at − started_at.
// - fault_to_recovery_ms end of the client-visible disruption: over requests scheduled in the trial's
//                        window, sorted by scheduled time, the scheduled time of the first request
//                        after the last "bad" one, minus t0. Bad = not HTTP 200, or (with the
//                        controller) answered by any node but the switchover's target. 0 if no request
//                        was bad; null (not recovered) if the window's last request was bad.
//                        Baseline: bad = not HTTP 200 (any node may answer).
// - failed_requests      requests scheduled in the window that did not get HTTP 200.
// - window               faults: [t0, max(t0 + minimum, LB switch + client timeout + 0.3 s, finished + 1 s)],
//                        so every request nginx sent to the failed primary before the switch has ended
//                        before anything else is done; baseline: [t0, t0 + fixed]; manual:
//                        [request, finished + 2 s].

import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { and, asc, desc, eq, gte, inArray, lte, notInArray } from "drizzle-orm";
import {
  clusters,
  events,
  nodeStateChanges,
  policies,
  switchoverSteps,
  switchovers,
  TERMINAL_SWITCHOVER_STATES,
} from "@/db/schema";
import { Controller } from "@/server/controller/controller";
import { NGINX_BIN } from "@/server/lb/nginx-process";
import type { Policy } from "@/server/policy/types";
import { type PreparedDatabase, prepareDatabase } from "@/server/runtime/database";
import { requestSwitchover, SwitchoverRequestError } from "@/server/switchover/request";
import type { SimFault } from "@/sim/node";
import { findDoubleMasterIntervals } from "@/sim/role-log";
import { type SwitchoverRig, startSwitchoverRig } from "@/test/switchover-rig";
import {
  LoadClient,
  nowMs,
  type Percentiles,
  parseUpstreamStates,
  percentiles,
  prng,
  round1,
  type SortedRecords,
} from "./failover-lib";
import { REPO_ROOT as ROOT } from "./lib";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    trials: { type: "string" },
    rate: { type: "string", default: "200" },
    "timeout-ms": { type: "string", default: "2000" },
    "max-in-flight": { type: "string", default: "450" },
    "soak-seconds": { type: "string" },
    only: { type: "string" },
    seed: { type: "string", default: "20251127" },
    verbose: { type: "boolean", default: false },
  },
});

const QUICK = args.quick === true;
const TRIALS = Number(args.trials ?? (QUICK ? 3 : 10));
const RATE = Number(args.rate);
const CLIENT_TIMEOUT_MS = Number(args["timeout-ms"]);
const MAX_IN_FLIGHT = Number(args["max-in-flight"]);
const SOAK_S = Number(args["soak-seconds"] ?? (QUICK ? 30 : 150));
const SEED = Number(args.seed);
const SCENARIOS = ["faults", "manual", "soak", "baseline"] as const;
type Scenario = (typeof SCENARIOS)[number];
const ONLY = new Set<Scenario>(
  args.only ? (args.only.split(",").map((s) => s.trim()) as Scenario[]) : [...SCENARIOS],
);
if (!Number.isInteger(TRIALS) || TRIALS < 1 || TRIALS > 100) throw new Error("--trials must be 1..100");
if (!Number.isFinite(RATE) || RATE < 10 || RATE > 1000) throw new Error("--rate must be 10..1000");
if (!Number.isInteger(CLIENT_TIMEOUT_MS) || CLIENT_TIMEOUT_MS < 200 || CLIENT_TIMEOUT_MS > 30_000)
  throw new Error("--timeout-ms must be 200..30000");
if (!Number.isInteger(MAX_IN_FLIGHT) || MAX_IN_FLIGHT < 1 || MAX_IN_FLIGHT > 450)
  // nginx here runs 1 worker with 1024 connections; each proxied request holds two.
  throw new Error("--max-in-flight must be 1..450");
if (!Number.isFinite(SOAK_S) || SOAK_S < 5 || SOAK_S > 1800)
  throw new Error("--soak-seconds must be 5..1800");
for (const s of ONLY) if (!SCENARIOS.includes(s)) throw new Error(`--only: unknown scenario ${s}`);

const FAULTS = ["crash", "hang", "http503", "blackhole", "gpu_lost"] as const satisfies readonly SimFault[];
type HardFault = (typeof FAULTS)[number];

/** Fast but realistic: 3 failed probes 250 ms apart fail a node. */
const POLICY = {
  preset: "bench-fast",
  probeIntervalMs: 250,
  tcpTimeoutMs: 250,
  httpTimeoutMs: 400,
  latencyThresholdMs: 300,
  failuresToFail: 3,
  successesToRecover: 3,
  signalsRequired: "any",
  autoFailover: true,
  cooldownS: 1,
  freezeAfterFailoversPerHour: 1000,
  verifyDeadlineMs: 5_000,
} satisfies Partial<Policy>;

const CLUSTER = "bench-fo";
const NODE_A = "fo-a";
const NODE_B = "fo-b";
const NODE_NAMES = [NODE_A, NODE_B];
/** Bound on waiting for the controller to readmit a recovered old primary as nginx `backup`. */
const READMIT_BOUND_MS = 15_000;
/** Bound on waiting for an automatic switchover to end after a fault. */
const SWITCHOVER_BOUND_MS = 20_000;
/** Minimum fault-trial window (see the header). */
const FAULT_WINDOW_MIN_MS = QUICK ? 3_000 : 5_000;
/** Baseline window: long enough for nginx's 2 s fail_timeout to come round several times. */
const BASELINE_WINDOW_MS = QUICK ? 3_000 : 8_000;
/** Steady = this long of requests all answered (200) by the primary, plus both nodes healthy. */
const STEADY_MS = 800;
/** Soak: 503 blips last 100..400 ms: three probes 250 ms apart (±2 %) span ≥ 490 ms, so no blip can fail three in a row. */
const BLIP_MS = [100, 400] as const;
/** Soak: /health delay 20..250 ms, under latencyThresholdMs (300) and httpTimeoutMs (400). */
const SLOW_MS = [20, 250] as const;
/** Soak: gap between two events, so no probe straddles a change of the slow delay and a blip. */
const SOAK_GAP_MS = [800, 2_500] as const;

const say = (s: string) => console.log(`[bench:failover] ${s}`);

// ---- interruption --------------------------------------------------------------------------

class Interrupted extends Error {
  constructor() {
    super("interrupted");
  }
}
const abort = new AbortController();
let interrupts = 0;
let emergencyStop: () => void = () => {};
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    interrupts++;
    if (interrupts === 1) {
      say(`${sig}: stopping cleanly (again to exit at once)…`);
      abort.abort();
    } else {
      say(`${sig} again: exiting now`);
      emergencyStop();
      process.exit(130);
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (abort.signal.aborted) return reject(new Interrupted());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Interrupted());
    };
    const timer = setTimeout(
      () => {
        abort.signal.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    abort.signal.addEventListener("abort", onAbort, { once: true });
  });
}
const sleepUntil = (t: number) => sleep(t - nowMs());

/** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (null). */
async function waitUntil<T>(
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  everyMs = 50,
) {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (nowMs() >= deadline) return null;
    await sleep(everyMs);
  }
}

// ---- the run ------------------------------------------------------------------------------

type SwitchoverRow = typeof switchovers.$inferSelect;

type FaultTrial = {
  fault: HardFault;
  trial: number;
  ok: boolean;
  reason: string | null;
  primary: string;
  target: string | null;
  t0: number;
  inject_ms: number;
  switchover_id: string | null;
  state: string | null;
  detection_ms: number | null;
  /** evidence.detectedAt − t0: the start of the probe whose result failed the primary. */
  detector_failed_ms: number | null;
  /** requested_at − detectedAt. detectedAt is the start of the probe that failed the node, so this
   * includes that probe's own duration (up to its timeout) as well as deciding and writing the request. */
  detected_to_requested_ms: number | null;
  /** started_at − requested_at: the executor picking the request up. */
  pickup_ms: number | null;
  execution_ms: number | null;
  /** End of the switch_traffic step (upstream rewritten, nginx reloaded, old workers draining) − t0. */
  fault_to_lb_switch_ms: number | null;
  fault_to_completed_ms: number | null;
  phases_ms: Record<string, number>;
  window_ms: number;
  /** The old primary's state in the upstream file right after the failover. */
  old_primary_in_upstream: string | null;
  /** When `recover` was applied to the old primary (after the window), − t0. */
  old_primary_recovered_at_ms?: number;
  /** From that recovery until the controller had put it back into the upstream as `backup`
   * (null: not within READMIT_BOUND_MS). */
  old_primary_backup_again_ms?: number | null;
  // Filled in from the request records after the run:
  fault_to_recovery_ms?: number | null;
  failed_requests?: number;
  requests?: number;
  timeouts?: number;
  answered_by?: Record<string, number>;
};

type ManualTrial = {
  trial: number;
  ok: boolean;
  reason: string | null;
  from: string;
  to: string;
  t0: number;
  switchover_id: string | null;
  execution_ms: number | null;
  total_ms: number | null;
  pickup_ms: number | null;
  phases_ms: Record<string, number>;
  window_ms: number;
  traffic_moved_ms?: number | null;
  failed_requests?: number;
  requests?: number;
};

type BaselineTrial = {
  fault: HardFault;
  trial: number;
  primary: string;
  t0: number;
  inject_ms: number;
  window_ms: number;
  /**
   * Live requests nginx sent to the failed primary from t0 + 3 s to the window's end: its "upstream
   * server temporarily disabled" warnings naming the primary (with max_fails=1, one per failed try).
   */
  nginx_tries_on_failed_primary_after_3s: number;
  /** What nginx logged from t0 until every request of the window had ended. */
  nginx_log: Record<string, { count: number; first_s: number }>;
  fault_to_recovery_ms?: number | null;
  failed_requests?: number;
  requests?: number;
  timeouts?: number;
  answered_by?: Record<string, number>;
};

type SoakResult = {
  seconds: number;
  t0: number;
  t1: number;
  primary: string;
  seed: number;
  blips: number;
  blip_ms_measured: { min: number; max: number } | null;
  slow_on: number;
  slow_off: number;
  slow_ms_set: { min: number; max: number } | null;
  misfires: number;
  misfire_ids: string[];
  transitions: Record<string, number>;
  failed_requests?: number;
  requests?: number;
  answered_by?: Record<string, number>;
};

class Bench {
  controller: Controller | null = null;
  controllerLog: string[] = [];
  readonly nodeIndex = new Map(NODE_NAMES.map((n, i) => [n, i]));
  readonly nameById = new Map<string, string>();
  resets = 0;

  constructor(
    readonly rig: SwitchoverRig,
    readonly client: LoadClient,
  ) {
    for (const [name, id] of rig.nodeIds) this.nameById.set(id, name);
  }

  get db() {
    return this.rig.h.db;
  }
  sim(name: string) {
    return this.rig.fleet.fleet.getNode(name);
  }
  other(name: string) {
    return name === NODE_A ? NODE_B : NODE_A;
  }
  id(name: string) {
    return this.rig.nodeIds.get(name) as string;
  }

  async startController(): Promise<void> {
    const controller = new Controller({
      databaseUrl: this.rig.url,
      secretKey: this.rig.secretKey,
      leaseTtlMs: 3_000,
      metricsPort: null,
      gpu: true,
      gpuSampleIntervalMs: 1_000,
      log: (line) => {
        const stamped = `${new Date().toISOString()} ${line}`;
        this.controllerLog.push(stamped);
        if (this.controllerLog.length > 400) this.controllerLog.splice(0, 100);
        if (args.verbose) console.log(`[controller] ${line}`);
      },
    });
    this.controller = controller;
    await controller.start();
  }

  async stopController(): Promise<void> {
    const c = this.controller;
    this.controller = null;
    await c?.stop();
  }

  async primaryName(): Promise<string> {
    const [c] = await this.db
      .select({ primary: clusters.primaryNodeId })
      .from(clusters)
      .where(eq(clusters.id, this.rig.clusterId));
    const name = c?.primary ? this.nameById.get(c.primary) : undefined;
    if (!name) throw new Error("the cluster has no primary");
    return name;
  }

  async upstream(): Promise<Map<string, "active" | "backup" | "down">> {
    return parseUpstreamStates(await fs.readFile(this.rig.nginx.upstreamPath(CLUSTER), "utf8"));
  }

  async inFlight(): Promise<SwitchoverRow | null> {
    const [row] = await this.db
      .select()
      .from(switchovers)
      .where(
        and(
          eq(switchovers.clusterId, this.rig.clusterId),
          notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]),
        ),
      )
      .limit(1);
    return row ?? null;
  }

  async switchoverRow(id: string): Promise<SwitchoverRow | null> {
    const [row] = await this.db.select().from(switchovers).where(eq(switchovers.id, id));
    return row ?? null;
  }

  async waitFinished(id: string, timeoutMs: number): Promise<SwitchoverRow | null> {
    return await waitUntil(
      async () => {
        const row = await this.switchoverRow(id);
        return row && (TERMINAL_SWITCHOVER_STATES as readonly string[]).includes(row.state) ? row : null;
      },
      timeoutMs,
      25,
    );
  }

  /** Per phase: from its first step's start to its last step's end, ms. */
  async phases(id: string): Promise<{ phases: Record<string, number>; lbSwitchEnd: number | null }> {
    const steps = await this.db
      .select()
      .from(switchoverSteps)
      .where(eq(switchoverSteps.switchoverId, id))
      .orderBy(asc(switchoverSteps.seq));
    const span = new Map<string, { start: number; end: number }>();
    let lbSwitchEnd: number | null = null;
    for (const s of steps) {
      if (!s.startedAt || !s.finishedAt) continue;
      const cur = span.get(s.phase);
      const start = s.startedAt.getTime();
      const end = s.finishedAt.getTime();
      span.set(
        s.phase,
        cur ? { start: Math.min(cur.start, start), end: Math.max(cur.end, end) } : { start, end },
      );
      if (s.phase === "switching_traffic") lbSwitchEnd = Math.max(lbSwitchEnd ?? 0, end);
    }
    return {
      phases: Object.fromEntries([...span].map(([phase, { start, end }]) => [phase, end - start])),
      lbSwitchEnd,
    };
  }

  /** A manual switchover to `target`, waited for (≤ 30 s). Throws SwitchoverRequestError (e.g.
   * in_flight when the controller's own request got there first). */
  async manualSwitch(target: string, reason: string): Promise<SwitchoverRow | null> {
    const { id } = await requestSwitchover(this.db, {
      cluster: CLUSTER,
      target,
      reason,
      kind: "manual",
      actor: { label: "bench:failover", role: "operator" },
    });
    return await this.waitFinished(id, 30_000);
  }

  /**
   * Waits (bounded) for a steady cluster: no switchover in flight, both nodes healthy (when the
   * controller runs), the primary active and the standby `backup` in nginx, and the last STEADY_MS
   * of requests all answered 200 by the primary. After an automatic failover the recovered old
   * primary is `down` in nginx: with the controller running, a manual switchover to it puts it back
   * (that is the "switch back" between fault trials).
   */
  async waitSteady(timeoutMs: number): Promise<{ primary: string; standby: string }> {
    const deadline = nowMs() + timeoutMs;
    let why = "";
    let switches = 0;
    while (nowMs() < deadline) {
      const withController = this.controller !== null;
      const primary = await this.primaryName();
      const standby = this.other(primary);
      if (withController) {
        const running = await this.inFlight();
        if (running) {
          why = `switchover ${running.id.slice(0, 8)} in flight (${running.state})`;
          await sleep(100);
          continue;
        }
        const states = [primary, standby].map((n) => this.controller?.nodeState(this.id(n)));
        if (states.some((s) => s !== "healthy")) {
          why = `detector: ${primary}=${states[0]}, ${standby}=${states[1]}`;
          await sleep(100);
          continue;
        }
      }
      const up = await this.upstream();
      if (up.get(primary) !== "active" || up.get(standby) !== "backup") {
        why = `upstream: ${primary}=${up.get(primary)}, ${standby}=${up.get(standby)}`;
        if (withController && up.get(standby) !== "backup" && switches < 2) {
          switches++;
          let row: SwitchoverRow | null;
          try {
            row = await this.manualSwitch(standby, `bench:failover reset: ${standby} back as primary`);
          } catch (err) {
            // The controller's readmission got in first: look again.
            if (err instanceof SwitchoverRequestError && err.code === "in_flight") continue;
            throw err;
          }
          this.resets++;
          if (row?.state !== "completed")
            say(
              `  reset switchover to ${standby} ended ${row?.state ?? "(not within 30 s)"}: ${row?.error ?? ""}`,
            );
          continue;
        }
        await sleep(200);
        continue;
      }
      const now = nowMs();
      const r = this.client.store.recent(now - 250 - STEADY_MS, now - 250, this.nodeIndex.get(primary) ?? -1);
      const expected = (RATE * STEADY_MS) / 1000;
      if (r.n >= 0.9 * expected && r.ok === r.n && r.byNode === r.n) return { primary, standby };
      why = `traffic: ${r.byNode}/${r.n} of the last ${STEADY_MS} ms answered 200 by ${primary}`;
      await sleep(100);
    }
    throw new Error(`the cluster did not become steady within ${timeoutMs / 1000} s (${why})`);
  }

  // ---- 1. hard faults with the controller ----------------------------------------------------

  async faultTrial(fault: HardFault, trial: number): Promise<FaultTrial> {
    const { primary, standby } = await this.waitSteady(60_000);
    const node = this.sim(primary);
    const t0 = nowMs();
    await node.applyFault(fault);
    const injectedAt = nowMs();
    const result: FaultTrial = {
      fault,
      trial,
      ok: false,
      reason: null,
      primary,
      target: null,
      t0,
      inject_ms: round1(injectedAt - t0),
      switchover_id: null,
      state: null,
      detection_ms: null,
      detector_failed_ms: null,
      detected_to_requested_ms: null,
      pickup_ms: null,
      execution_ms: null,
      fault_to_lb_switch_ms: null,
      fault_to_completed_ms: null,
      phases_ms: {},
      window_ms: 0,
      old_primary_in_upstream: null,
    };
    const since = new Date(t0 - 500);
    const row = await waitUntil(
      async () => {
        const [r] = await this.db
          .select()
          .from(switchovers)
          .where(
            and(
              eq(switchovers.clusterId, this.rig.clusterId),
              eq(switchovers.kind, "auto"),
              gte(switchovers.requestedAt, since),
            ),
          )
          .orderBy(desc(switchovers.requestedAt))
          .limit(1);
        return r && (TERMINAL_SWITCHOVER_STATES as readonly string[]).includes(r.state) ? r : null;
      },
      Math.max(0, t0 + SWITCHOVER_BOUND_MS - nowMs()),
      25,
    );
    let windowEnd = t0 + SWITCHOVER_BOUND_MS;
    if (!row) {
      const running = await this.inFlight();
      result.reason = running
        ? `switchover ${running.id.slice(0, 8)} still ${running.state} after ${SWITCHOVER_BOUND_MS / 1000} s`
        : `no automatic switchover within ${SWITCHOVER_BOUND_MS / 1000} s (detector: ${primary}=${this.controller?.nodeState(this.id(primary))}, ${standby}=${this.controller?.nodeState(this.id(standby))})`;
    } else {
      result.switchover_id = row.id;
      result.state = row.state;
      result.target = row.toNodeId ? (this.nameById.get(row.toNodeId) ?? null) : null;
      const requested = row.requestedAt.getTime();
      result.detection_ms = Math.round(requested - t0);
      const detectedAt = (row.evidence as { detectedAt?: string } | null)?.detectedAt;
      if (detectedAt) {
        result.detector_failed_ms = Math.round(Date.parse(detectedAt) - t0);
        result.detected_to_requested_ms = Math.round(requested - Date.parse(detectedAt));
      }
      if (row.startedAt) result.pickup_ms = Math.round(row.startedAt.getTime() - requested);
      if (row.startedAt && row.finishedAt)
        result.execution_ms = row.finishedAt.getTime() - row.startedAt.getTime();
      if (row.finishedAt) result.fault_to_completed_ms = Math.round(row.finishedAt.getTime() - t0);
      const { phases, lbSwitchEnd } = await this.phases(row.id);
      result.phases_ms = phases;
      if (lbSwitchEnd !== null) result.fault_to_lb_switch_ms = Math.round(lbSwitchEnd - t0);
      result.old_primary_in_upstream = (await this.upstream()).get(primary) ?? null;
      if (row.state !== "completed") result.reason = `switchover ${row.state}: ${row.error ?? ""}`;
      else if (result.target !== standby) result.reason = `switched to ${result.target}, expected ${standby}`;
      else result.ok = true;
      windowEnd = Math.max(
        t0 + FAULT_WINDOW_MIN_MS,
        (lbSwitchEnd ?? t0) + CLIENT_TIMEOUT_MS + 300,
        (row.finishedAt?.getTime() ?? t0) + 1_000,
      );
    }
    await sleepUntil(windowEnd);
    result.window_ms = Math.round(windowEnd - t0);
    await node.applyFault("recover");
    const recoveredAt = nowMs();
    result.old_primary_recovered_at_ms = Math.round(recoveredAt - t0);
    if (result.ok) {
      const back = await waitUntil(
        async () => (await this.upstream()).get(primary) === "backup",
        READMIT_BOUND_MS,
        50,
      );
      result.old_primary_backup_again_ms = back ? Math.round(nowMs() - recoveredAt) : null;
    }
    return result;
  }

  // ---- 2. manual switchovers -------------------------------------------------------------------

  async manualTrial(trial: number): Promise<ManualTrial> {
    const { primary, standby } = await this.waitSteady(60_000);
    const t0 = nowMs();
    const row = await this.manualSwitch(standby, `bench:failover manual trial ${trial}`);
    const result: ManualTrial = {
      trial,
      ok: row?.state === "completed",
      reason: row
        ? row.state === "completed"
          ? null
          : `${row.state}: ${row.error ?? ""}`
        : "not finished within 30 s",
      from: primary,
      to: standby,
      t0,
      switchover_id: row?.id ?? null,
      execution_ms: null,
      total_ms: null,
      pickup_ms: null,
      phases_ms: {},
      window_ms: 0,
    };
    let windowEnd = nowMs() + 2_000;
    if (row?.finishedAt) {
      if (row.startedAt) {
        result.execution_ms = row.finishedAt.getTime() - row.startedAt.getTime();
        result.pickup_ms = row.startedAt.getTime() - row.requestedAt.getTime();
      }
      result.total_ms = row.finishedAt.getTime() - row.requestedAt.getTime();
      result.phases_ms = (await this.phases(row.id)).phases;
      windowEnd = row.finishedAt.getTime() + 2_000;
    }
    await sleepUntil(windowEnd);
    result.window_ms = Math.round(windowEnd - t0);
    return result;
  }

  // ---- 3. soak -------------------------------------------------------------------------------

  async soak(seconds: number): Promise<SoakResult> {
    const { primary } = await this.waitSteady(60_000);
    const node = this.sim(primary);
    const rand = prng(SEED);
    const between = (lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));
    const t0 = nowMs();
    const end = t0 + seconds * 1000;
    await node.applyFault("gpu_saturated");
    const blipMs: number[] = [];
    const slowSet: number[] = [];
    let slowOn = 0;
    let slowOff = 0;
    let slow = false;
    // Bounded: at most one event per SOAK_GAP_MS[0].
    for (let i = 0; i < Math.ceil((seconds * 1000) / SOAK_GAP_MS[0]) + 1 && nowMs() < end; i++) {
      await sleep(between(SOAK_GAP_MS[0], SOAK_GAP_MS[1]));
      if (nowMs() >= end - BLIP_MS[1]) break;
      if (rand() < 0.5) {
        const d = between(BLIP_MS[0], BLIP_MS[1]);
        const a = nowMs();
        await node.applyFault("http503");
        await sleepUntil(a + d);
        await node.clearFault("http503");
        blipMs.push(nowMs() - a);
      } else if (slow) {
        await node.clearFault("slow");
        slow = false;
        slowOff++;
      } else {
        const ms = between(SLOW_MS[0], SLOW_MS[1]);
        await node.applyFault("slow", { ms });
        slowSet.push(ms);
        slow = true;
        slowOn++;
      }
    }
    await sleepUntil(end);
    await node.applyFault("recover");
    const t1 = nowMs();
    // Transitions are written once a controller tick (1 s); let the last batch land.
    await sleep(2_500);
    const misfires = await this.db
      .select({ id: switchovers.id })
      .from(switchovers)
      .where(
        and(
          eq(switchovers.clusterId, this.rig.clusterId),
          gte(switchovers.requestedAt, new Date(t0)),
          lte(switchovers.requestedAt, new Date(nowMs())),
        ),
      );
    const changes = await this.db
      .select({ node: nodeStateChanges.nodeId, to: nodeStateChanges.toState })
      .from(nodeStateChanges)
      .where(
        and(
          eq(nodeStateChanges.clusterId, this.rig.clusterId),
          gte(nodeStateChanges.at, new Date(t0)),
          lte(nodeStateChanges.at, new Date(t1 + 1_000)),
        ),
      );
    const transitions: Record<string, number> = {};
    for (const c of changes) {
      const key = `${this.nameById.get(c.node) ?? c.node}→${c.to}`;
      transitions[key] = (transitions[key] ?? 0) + 1;
    }
    const mm = (xs: number[]) =>
      xs.length ? { min: Math.round(Math.min(...xs)), max: Math.round(Math.max(...xs)) } : null;
    return {
      seconds,
      t0,
      t1,
      primary,
      seed: SEED,
      blips: blipMs.length,
      blip_ms_measured: mm(blipMs),
      slow_on: slowOn,
      slow_off: slowOff,
      slow_ms_set: mm(slowSet),
      misfires: misfires.length,
      misfire_ids: misfires.map((m) => m.id),
      transitions,
    };
  }

  // ---- 4. nginx alone ---------------------------------------------------------------------------

  async baselineTrial(fault: HardFault, trial: number): Promise<BaselineTrial> {
    const { primary } = await this.waitSteady(30_000);
    const node = this.sim(primary);
    const logPath = this.rig.nginx.errorLogPath;
    const size = () => {
      try {
        return statSync(logPath).size;
      } catch {
        return 0;
      }
    };
    const at0 = size();
    const t0 = nowMs();
    await node.applyFault(fault);
    const injectedAt = nowMs();
    await sleepUntil(t0 + 3_000);
    const at3 = size();
    await sleepUntil(t0 + BASELINE_WINDOW_MS);
    const atEnd = size();
    // Recover only once every request scheduled in the window has ended: recovering a hung node
    // resets the connections nginx holds to it, and nginx would retry those on the backup.
    await sleepUntil(t0 + BASELINE_WINDOW_MS + CLIENT_TIMEOUT_MS + 200);
    const atDrained = size();
    await node.applyFault("recover");
    const addr = `${node.host}:${node.httpPort}`;
    const log = atDrained > at0 ? readFileSync(logPath).subarray(at0, atDrained) : Buffer.alloc(0);
    const after3 = log.subarray(at3 - at0, atEnd - at0).toString("utf8");
    return {
      fault,
      trial,
      primary,
      t0,
      inject_ms: round1(injectedAt - t0),
      window_ms: BASELINE_WINDOW_MS,
      nginx_tries_on_failed_primary_after_3s: after3
        .split("\n")
        .filter((l) => l.includes(addr) && l.includes("upstream server temporarily disabled")).length,
      nginx_log: summarizeNginxLog(log.toString("utf8"), t0),
    };
  }
}

/**
 * nginx error-log lines by message (`upstream timed out (110: …) while reading response header
 * from upstream`, …) with their count and the first one's time after t0 (the log has 1 s resolution).
 */
function summarizeNginxLog(text: string, t0: number): Record<string, { count: number; first_s: number }> {
  const out: Record<string, { count: number; first_s: number }> = {};
  for (const line of text.split("\n")) {
    const m =
      /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*?)(?:, client: .*)?$/.exec(
        line,
      );
    if (!m) continue;
    const [, y, mo, d, h, mi, sec, level, msg] = m;
    const at = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)).getTime();
    const key = `[${level}] ${msg}`.slice(0, 160);
    const cur = out[key];
    if (cur) cur.count++;
    else out[key] = { count: 1, first_s: Math.round((at - t0) / 100) / 10 };
  }
  return out;
}

// ---- analysis ---------------------------------------------------------------------------------

function answeredBy(map: Map<number, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of map) out[k === -1 ? "(no node)" : (NODE_NAMES[k] ?? "(other)")] = v;
  return out;
}

function fillFaultTrial(t: FaultTrial, recs: SortedRecords): void {
  const good = t.ok && t.target ? NODE_NAMES.indexOf(t.target) : -2;
  const w = recs.window(t.t0, t.t0 + t.window_ms, good);
  t.fault_to_recovery_ms = t.ok && w.recoveredAt !== null ? Math.round(w.recoveredAt - t.t0) : null;
  t.failed_requests = w.failed;
  t.requests = w.requests;
  t.timeouts = w.timeouts;
  t.answered_by = answeredBy(w.answeredBy);
}

function fillBaselineTrial(t: BaselineTrial, recs: SortedRecords): void {
  const w = recs.window(t.t0, t.t0 + t.window_ms, null);
  t.fault_to_recovery_ms = w.recoveredAt === null ? null : Math.round(w.recoveredAt - t.t0);
  t.failed_requests = w.failed;
  t.requests = w.requests;
  t.timeouts = w.timeouts;
  t.answered_by = answeredBy(w.answeredBy);
}

function fillManualTrial(t: ManualTrial, recs: SortedRecords): void {
  const w = recs.window(t.t0, t.t0 + t.window_ms, NODE_NAMES.indexOf(t.to));
  t.traffic_moved_ms = w.recoveredAt === null ? null : Math.round(w.recoveredAt - t.t0);
  t.failed_requests = w.failed;
  t.requests = w.requests;
}

const pp = (p: Percentiles) => (p ? { p50: p.p50, p99: p.p99 } : null);
const sum = (xs: readonly (number | undefined)[]) => xs.reduce<number>((a, x) => a + (x ?? 0), 0);
const maxOf = (xs: readonly (number | undefined | null)[]) => {
  const v = xs.filter((x): x is number => typeof x === "number");
  return v.length ? Math.max(...v) : null;
};

function phaseP50(trials: { phases_ms: Record<string, number> }[]): Record<string, number> {
  const keys = [...new Set(trials.flatMap((t) => Object.keys(t.phases_ms)))];
  const out: Record<string, number> = {};
  for (const k of keys) {
    const p = percentiles(trials.map((t) => t.phases_ms[k]));
    if (p) out[k] = p.p50;
  }
  return out;
}

// ---- main -------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = nowMs();
  const loadAtStart = os.loadavg()[0] ?? Number.NaN;
  // What was measured: the code is loaded now, so this is the state of the tree it came from.
  const git = (argv: string[]) =>
    spawnSync("git", argv, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
  const gitInfo = {
    head: git(["rev-parse", "--short", "HEAD"]),
    uncommitted_files_in_server_sim_db: git(["status", "--porcelain", "--", "server", "sim", "db"])
      .split("\n")
      .filter(Boolean).length,
  };
  const dataDir = path.join(ROOT, ".switchyard", "bench");
  await fs.mkdir(dataDir, { recursive: true });
  let base: PreparedDatabase | null = null;
  let rig: SwitchoverRig | null = null;
  let bench: Bench | null = null;
  let client: LoadClient | null = null;
  emergencyStop = () => {
    void client?.terminate();
    if (rig) {
      try {
        process.kill(-rig.nginx.pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  };
  const faultTrials: FaultTrial[] = [];
  const manualTrials: ManualTrial[] = [];
  const baselineTrials: BaselineTrial[] = [];
  let soak: SoakResult | null = null;
  try {
    base = await prepareDatabase({ dataDir, databaseUrl: process.env.DATABASE_URL });
    say(`Postgres ready (${base.embedded ? "embedded" : "DATABASE_URL"}); starting nginx, nodes, LB host…`);
    rig = await startSwitchoverRig({
      baseUrl: base.url,
      clusterName: CLUSTER,
      nodes: [
        { name: NODE_A, host: "127.0.0.81", role: "primary" },
        { name: NODE_B, host: "127.0.0.82", role: "standby" },
      ],
      lbHost: "127.0.0.80",
      policy: POLICY,
    });
    client = new LoadClient({
      url: rig.endpoint,
      rateRps: RATE,
      timeoutMs: CLIENT_TIMEOUT_MS,
      maxInFlight: MAX_IN_FLIGHT,
      nodeNames: NODE_NAMES,
    });
    bench = new Bench(rig, client);
    await bench.startController();
    await client.start();
    say(`nginx ${rig.endpoint} (pid ${rig.nginx.pid}); open-loop client at ${RATE} req/s`);
    await bench.waitSteady(60_000);
    // Warm-up (not measured): one switchover each way, so the first trial does not pay for JIT.
    for (const target of [NODE_B, NODE_A]) {
      const row = await bench.manualSwitch(target, "bench:failover warm-up");
      if (row?.state !== "completed")
        throw new Error(`warm-up switchover to ${target}: ${row?.state} ${row?.error}`);
      await bench.waitSteady(30_000);
    }
    say(`warm-up done after ${((nowMs() - started) / 1000).toFixed(1)} s`);

    if (ONLY.has("faults")) {
      for (let trial = 1; trial <= TRIALS; trial++) {
        for (const fault of FAULTS) {
          const t = await bench.faultTrial(fault, trial);
          faultTrials.push(t);
          say(
            `fault ${fault.padEnd(9)} #${trial}: ${t.ok ? "ok " : "FAILED"} detection ${t.detection_ms ?? "-"} ms, ` +
              `execution ${t.execution_ms ?? "-"} ms, LB switched at ${t.fault_to_lb_switch_ms ?? "-"} ms` +
              (t.reason ? ` — ${t.reason}` : ""),
          );
        }
      }
    }
    if (ONLY.has("manual")) {
      for (let trial = 1; trial <= TRIALS; trial++) {
        const t = await bench.manualTrial(trial);
        manualTrials.push(t);
        say(
          `manual #${trial} ${t.from}→${t.to}: ${t.ok ? "ok" : "FAILED"} total ${t.total_ms ?? "-"} ms, execution ${t.execution_ms ?? "-"} ms` +
            (t.reason ? ` — ${t.reason}` : ""),
        );
      }
    }
    if (ONLY.has("soak")) {
      say(`soak for ${SOAK_S} s…`);
      soak = await bench.soak(SOAK_S);
      say(`soak: ${soak.blips} blips, ${soak.slow_on} slow-ons, misfires ${soak.misfires}`);
    }
    if (ONLY.has("baseline")) {
      // nginx alone: make sure the standby is `backup` (as configured by hand), then no controller.
      await bench.waitSteady(60_000);
      await bench.stopController();
      say("controller stopped: nginx alone from here");
      for (let trial = 1; trial <= TRIALS; trial++) {
        for (const fault of FAULTS) {
          const t = await bench.baselineTrial(fault, trial);
          baselineTrials.push(t);
          say(`baseline ${fault.padEnd(9)} #${trial} done`);
        }
      }
    }

    const clientStop = await client.stop();
    const recs = client.store.sorted();
    for (const t of faultTrials) fillFaultTrial(t, recs);
    for (const t of manualTrials) fillManualTrial(t, recs);
    for (const t of baselineTrials) fillBaselineTrial(t, recs);
    if (soak) {
      const w = recs.window(soak.t0, soak.t1, null);
      soak.failed_requests = w.failed;
      soak.requests = w.requests;
      soak.answered_by = answeredBy(w.answeredBy);
    }
    const doubleMasters = findDoubleMasterIntervals(rig.fleet.fleet.roleLog.entries, NODE_NAMES);
    const dmDurations = doubleMasters.map((d) => (d.endMs ?? nowMs()) - d.startMs);
    const roleLog = rig.fleet.fleet.roleLog.entries;
    const dmDetail = doubleMasters.map((d) => {
      const trial = [...faultTrials].reverse().find((t) => t.t0 <= d.startMs);
      const ended = d.endMs === null ? undefined : roleLog.find((e) => e.atMs === d.endMs);
      return {
        after_trial: trial ? `${trial.fault} #${trial.trial}` : null,
        starts_after_recover_ms:
          trial?.old_primary_recovered_at_ms !== undefined
            ? Math.round(d.startMs - trial.t0 - trial.old_primary_recovered_at_ms)
            : null,
        duration_ms: Math.round((d.endMs ?? nowMs()) - d.startMs),
        ended_by: ended ? `${ended.node} ${ended.from}→${ended.to} (${ended.reason})` : null,
      };
    });
    const fenceEvents = await rig.h.db
      .select({ kind: events.kind })
      .from(events)
      .where(
        and(eq(events.clusterId, rig.clusterId), inArray(events.kind, ["node.fenced", "node.fence_failed"])),
      );
    const [policyRow] = await rig.h.db.select().from(policies).where(eq(policies.clusterId, rig.clusterId));
    const autoCount = await rig.h.db
      .select({ id: switchovers.id })
      .from(switchovers)
      .where(and(eq(switchovers.clusterId, rig.clusterId), inArray(switchovers.kind, ["auto"])));
    const wall = (nowMs() - started) / 1000;

    const faults: Record<string, unknown> = {};
    const baseline: Record<string, unknown> = {};
    for (const f of FAULTS) {
      const ts = faultTrials.filter((t) => t.fault === f);
      if (ts.length) {
        const ok = ts.filter((t) => t.ok);
        faults[f] = {
          trials: ts.length,
          completed: ok.length,
          failed_trials: ts.filter((t) => !t.ok).map((t) => ({ trial: t.trial, reason: t.reason })),
          detection_ms: pp(percentiles(ok.map((t) => t.detection_ms))),
          execution_ms: pp(percentiles(ok.map((t) => t.execution_ms))),
          fault_to_recovery_ms: pp(percentiles(ok.map((t) => t.fault_to_recovery_ms))),
          failed_requests: sum(ts.map((t) => t.failed_requests)),
          failed_requests_per_trial: pp(percentiles(ts.map((t) => t.failed_requests))),
          requests: sum(ts.map((t) => t.requests)),
          detector_failed_ms: pp(percentiles(ok.map((t) => t.detector_failed_ms))),
          fault_to_lb_switch_ms: pp(percentiles(ok.map((t) => t.fault_to_lb_switch_ms))),
          fault_to_completed_ms: pp(percentiles(ok.map((t) => t.fault_to_completed_ms))),
          execution_phases_p50_ms: phaseP50(ok),
          old_primary_in_upstream_after_failover: [...new Set(ok.map((t) => t.old_primary_in_upstream))],
          old_primary_backup_again_ms: pp(percentiles(ok.map((t) => t.old_primary_backup_again_ms))),
          old_primary_not_readmitted_within_15s: ok.filter((t) => t.old_primary_backup_again_ms === null)
            .length,
        };
      }
      const bs = baselineTrials.filter((t) => t.fault === f);
      if (bs.length) {
        const recovered = bs.filter((t) => t.fault_to_recovery_ms !== null);
        baseline[f] = {
          trials: bs.length,
          recovered_within_window: recovered.length,
          fault_to_recovery_ms: pp(percentiles(recovered.map((t) => t.fault_to_recovery_ms))),
          failed_requests: sum(bs.map((t) => t.failed_requests)),
          failed_requests_per_trial: pp(percentiles(bs.map((t) => t.failed_requests))),
          requests: sum(bs.map((t) => t.requests)),
          window_ms: BASELINE_WINDOW_MS,
          primary_taken_out_ms: null,
          nginx_tries_on_failed_primary_after_3s: pp(
            percentiles(bs.map((t) => t.nginx_tries_on_failed_primary_after_3s)),
          ),
        };
      }
    }
    const manualOk = manualTrials.filter((t) => t.ok);
    const manual = manualTrials.length
      ? {
          trials: manualTrials.length,
          completed: manualOk.length,
          execution_ms: pp(percentiles(manualOk.map((t) => t.execution_ms))),
          total_ms: pp(percentiles(manualOk.map((t) => t.total_ms))),
          traffic_moved_ms: pp(percentiles(manualOk.map((t) => t.traffic_moved_ms))),
          failed_requests: sum(manualTrials.map((t) => t.failed_requests)),
          requests: sum(manualTrials.map((t) => t.requests)),
          execution_phases_p50_ms: phaseP50(manualOk),
        }
      : null;

    const targetFaults: Record<string, unknown> = {};
    let faultsMet = faultTrials.length > 0;
    for (const f of FAULTS) {
      const ts = faultTrials.filter((t) => t.fault === f);
      if (!ts.length) continue;
      // A failed or unrecovered trial counts as missing the target (its recovery is unbounded).
      const all = ts.map((t) => (t.ok && t.fault_to_recovery_ms != null ? t.fault_to_recovery_ms : Infinity));
      const p = percentiles(all.map((x) => (Number.isFinite(x) ? x : Number.MAX_SAFE_INTEGER)));
      const met = !!p && p.p50 <= 2_000 && p.p99 <= 3_000;
      faultsMet &&= met;
      targetFaults[f] = {
        p50: p && p.p50 < Number.MAX_SAFE_INTEGER ? p.p50 : null,
        p99: p && p.p99 < Number.MAX_SAFE_INTEGER ? p.p99 : null,
        met,
      };
    }
    const manualP = percentiles(manualOk.map((t) => t.total_ms));
    const targets = {
      hard_fault_to_recovery_ms: { p50_max: 2_000, p99_max: 3_000, per_fault: targetFaults, met: faultsMet },
      manual: {
        total_ms_p99_max: 1_000,
        failed_requests_max: 0,
        measured: { total_ms: pp(manualP), failed_requests: manual?.failed_requests ?? null },
        met:
          !!manual &&
          manualOk.length === manualTrials.length &&
          !!manualP &&
          manualP.p99 <= 1_000 &&
          manual.failed_requests === 0,
      },
      soak_misfires: { max: 0, measured: soak?.misfires ?? null, met: soak ? soak.misfires === 0 : false },
    };

    const command = `npm run bench:failover${
      QUICK || args.trials || args.only
        ? ` --${QUICK ? " --quick" : ""}${args.trials ? ` --trials ${TRIALS}` : ""}${args.only ? ` --only ${args.only}` : ""}`
        : ""
    }`;
    const nginxVersion = spawnSync(NGINX_BIN, ["-v"], { encoding: "utf8" }).stderr.trim();
    const result = {
      generatedAt: new Date().toISOString(),
      command,
      wall_s: Math.round(wall),
      git: gitInfo,
      machine: {
        cpus: os.cpus().length,
        cpu_model: os.cpus()[0]?.model ?? null,
        node: process.version,
        nginx: nginxVersion,
        loadavg_1m_at_start: round1(loadAtStart),
        loadavg_1m_at_end: round1(os.loadavg()[0] ?? Number.NaN),
      },
      policy: policyRow
        ? {
            probeIntervalMs: policyRow.probeIntervalMs,
            tcpTimeoutMs: policyRow.tcpTimeoutMs,
            httpTimeoutMs: policyRow.httpTimeoutMs,
            latencyThresholdMs: policyRow.latencyThresholdMs,
            failuresToFail: policyRow.failuresToFail,
            successesToRecover: policyRow.successesToRecover,
            signalsRequired: policyRow.signalsRequired,
            cooldownS: policyRow.cooldownS,
            freezeAfterFailoversPerHour: policyRow.freezeAfterFailoversPerHour,
            verifyDeadlineMs: policyRow.verifyDeadlineMs,
            gpuSampleIntervalMs: 1_000,
          }
        : POLICY,
      nginx: {
        upstream: "primary plain, standby `backup`, max_fails=1 fail_timeout=2s, keepalive 16",
        proxy:
          "proxy_connect_timeout 250ms, proxy_read_timeout 5s, proxy_next_upstream error timeout http_502 http_503 http_504, tries 3, next_upstream_timeout 2s",
      },
      client: {
        rate_rps: RATE,
        open_loop: true,
        request: "GET /api/v1/search?q=bench-<n>&k=3 through nginx, a new connection per request",
        timeout_ms: CLIENT_TIMEOUT_MS,
        max_in_flight: MAX_IN_FLIGHT,
        requests: recs.length,
        cap_rejected: recs.window(0, Number.MAX_SAFE_INTEGER, null).capRejected,
        lateness_ms: recs.lateness(),
        unfinished_at_stop: clientStop.inFlight,
      },
      faults,
      manual,
      baseline,
      soak: soak
        ? {
            seconds: soak.seconds,
            misfires: soak.misfires,
            failed_requests: soak.failed_requests,
            requests: soak.requests,
            answered_by: soak.answered_by,
            gpu_saturated_on: soak.primary,
            blips_http503: soak.blips,
            blip_ms_measured: soak.blip_ms_measured,
            slow_on: soak.slow_on,
            slow_off: soak.slow_off,
            slow_ms_set: soak.slow_ms_set,
            node_state_transitions: soak.transitions,
            seed: soak.seed,
          }
        : null,
      invariants: {
        auto_switchovers: autoCount.length,
        reset_switchovers: bench.resets,
        double_master_intervals_in_role_log: doubleMasters.length,
        double_master_ms: pp(percentiles(dmDurations)),
        double_master_max_ms: maxOf(dmDurations.map(Math.round)),
        double_master_detail: dmDetail,
        controller_fenced_stale_master: fenceEvents.filter((e) => e.kind === "node.fenced").length,
        controller_fence_failed: fenceEvents.filter((e) => e.kind === "node.fence_failed").length,
      },
      targets,
      notes: [
        `p50/p99 by nearest rank over the trials (bench/lib.ts quantile): with fewer than 100 trials p99 is the maximum (${TRIALS} trials per scenario here).`,
        "t0 is taken just before the fault is injected; inject_ms (raw trials) is how long the simulator took to apply it.",
        "detection_ms = requested_at − t0; execution_ms = finished_at − started_at (database rows of the switchover).",
        "fault_to_recovery_ms (faults): over requests scheduled in the window, sorted by scheduled time, the scheduled time of the first request after the last bad one (not HTTP 200, or answered by another node than the switchover's target) minus t0; 0 when no request was bad. It measures what clients saw: where nginx's `backup` already serves every request from the standby, it can be ~0 although the switchover itself took longer.",
        "fault_to_recovery_ms (baseline): the same with bad = not HTTP 200 (any node may answer); only trials that recovered within the window are in the percentiles (recovered_within_window).",
        `Windows: faults [t0, max(t0 + ${FAULT_WINDOW_MIN_MS} ms, end of the LB switch + client timeout + 300 ms, finished + 1 s)]; baseline [t0, t0 + ${BASELINE_WINDOW_MS} ms]; manual [request, finished + 2 s]. failed_requests counts requests scheduled in the window that did not get HTTP 200.`,
        `The client timeout (${CLIENT_TIMEOUT_MS} ms) is below nginx's proxy_read_timeout (5 s), so clients give up on a hung primary before nginx would count it as failed; with the in-flight cap (${MAX_IN_FLIGHT}) this keeps the cap from ever delaying recovery (${RATE} req/s × ${CLIENT_TIMEOUT_MS / 1000} s < cap).`,
        "baseline.primary_taken_out_ms is null: without the controller nothing rewrites the upstream, so nginx never takes the primary out for good; with max_fails=1 fail_timeout=2s it sends it a live request again about every 3 s (fail_timeout=2s, which nginx checks with 1 s resolution), then retries that request on the backup. nginx_tries_on_failed_primary_after_3s counts those tries from t0 + 3 s to the window's end (nginx's 'upstream server temporarily disabled' warnings naming the primary). It is 0 for hang: the clients give up (timeout_ms) before nginx's proxy_read_timeout (5 s), nginx does not count a request the client abandoned as a failure of the upstream, so it never marks the hung primary failed and keeps sending it every request (nginx_log in the raw trials).",
        `Between fault trials the old primary is recovered once the window is over; old_primary_backup_again_ms is the time from that until the controller had put it back into the upstream as \`backup\` (right after the failover it is \`down\`: old_primary_in_upstream_after_failover). The next trial then faults the new primary. Where that did not happen within ${READMIT_BOUND_MS / 1000} s, or a reset found the standby not \`backup\`, a manual switchover back restored it (invariants.reset_switchovers; not measured).`,
        `Soak: GPU saturated on the primary throughout; 503 blips of ${BLIP_MS[0]}-${BLIP_MS[1]} ms (three probes ${POLICY.probeIntervalMs} ms apart span more than that, so none can legitimately fail the node); /health delay toggled with ${SLOW_MS[0]}-${SLOW_MS[1]} ms (< latencyThresholdMs); events ${SOAK_GAP_MS[0]}-${SOAK_GAP_MS[1]} ms apart from a seeded PRNG. misfires = switchovers requested during the soak.`,
        "Two warm-up manual switchovers (not measured) run before the first trial.",
        "double_master_intervals_in_role_log: intervals where both simulated nodes said they were master (the simulator's own role log). A recovered old primary that could not be degraded during the failover (crash, hang, blackhole) comes back claiming master until the controller fences it or the reset switchover degrades it; nginx does not route to it meanwhile (it is `down` in the upstream).",
        "Everything (controller, simulator, rig) runs in this one Node process except nginx, Postgres and the client's worker thread.",
      ],
      trials: { faults: faultTrials, manual: manualTrials, baseline: baselineTrials },
    };
    const outDir = path.join(ROOT, "bench", "results");
    await fs.mkdir(outDir, { recursive: true });
    const file = args.only ? "failover-partial.json" : QUICK ? "failover-quick.json" : "failover.json";
    await fs.writeFile(path.join(outDir, file), `${JSON.stringify(result, null, 2)}\n`);
    printTable(result.faults, result.manual, result.baseline, result.soak, targets, wall);
    say(`wrote bench/results/${file}`);
    return 0;
  } catch (err) {
    if (err instanceof Interrupted) {
      say("interrupted; cleaning up");
      return 130;
    }
    say(`failed: ${(err as Error).stack ?? err}`);
    if (bench?.controllerLog.length) {
      say("last controller log lines:");
      for (const l of bench.controllerLog.slice(-40)) console.log(`  ${l}`);
    }
    return 1;
  } finally {
    await client?.terminate().catch(() => {});
    await bench?.stopController().catch((err: Error) => say(`controller stop: ${err.message}`));
    await rig?.stop().catch((err: Error) => say(`rig stop: ${err.message}`));
    await base?.stop().catch((err: Error) => say(`postgres stop: ${err.message}`));
  }
}

type Pair = { p50: number; p99: number } | null;

function printTable(
  faults: Record<string, unknown>,
  manual: { trials: number; execution_ms: Pair; total_ms: Pair; failed_requests: number } | null,
  baseline: Record<string, unknown>,
  soak: { seconds: number; misfires: number; failed_requests?: number; requests?: number } | null,
  targets: {
    hard_fault_to_recovery_ms: { met: boolean };
    manual: { met: boolean };
    soak_misfires: { met: boolean };
  },
  wall: number,
): void {
  const f = (p: Pair) => (p ? `${p.p50}/${p.p99}` : "-");
  const rows: string[][] = [
    ["scenario", "trials", "detect p50/p99", "exec p50/p99", "fault→recovered p50/p99", "failed req"],
  ];
  for (const [k, v] of Object.entries(faults)) {
    const x = v as {
      trials: number;
      completed: number;
      detection_ms: Pair;
      execution_ms: Pair;
      fault_to_recovery_ms: Pair;
      failed_requests: number;
    };
    rows.push([
      k,
      `${x.completed}/${x.trials}`,
      f(x.detection_ms),
      f(x.execution_ms),
      f(x.fault_to_recovery_ms),
      String(x.failed_requests),
    ]);
  }
  if (manual)
    rows.push([
      "manual",
      String(manual.trials),
      "-",
      f(manual.execution_ms),
      `total ${f(manual.total_ms)}`,
      String(manual.failed_requests),
    ]);
  for (const [k, v] of Object.entries(baseline)) {
    const x = v as {
      trials: number;
      recovered_within_window: number;
      fault_to_recovery_ms: Pair;
      failed_requests: number;
    };
    rows.push([
      `nginx-only ${k}`,
      `${x.recovered_within_window}/${x.trials} rec.`,
      "-",
      "-",
      f(x.fault_to_recovery_ms),
      String(x.failed_requests),
    ]);
  }
  if (soak)
    rows.push([
      `soak ${soak.seconds}s`,
      `misfires ${soak.misfires}`,
      "-",
      "-",
      `${soak.requests ?? 0} req`,
      String(soak.failed_requests ?? 0),
    ]);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  console.log("");
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  "));
  console.log(
    `\ntargets: hard faults ${targets.hard_fault_to_recovery_ms.met ? "met" : "NOT met"}, manual ${
      targets.manual.met ? "met" : "NOT met"
    }, misfires ${targets.soak_misfires.met ? "met" : "NOT met"} — wall ${Math.round(wall)} s (times in ms)`,
  );
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`[bench:failover] failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
