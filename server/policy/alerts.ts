/**
 * Alerts: conditions a human should look at, which are *not* failures.
 *
 * The detector decides whether a node is dead; this module says what is worrying about a live one.
 * The split matters most for GPU utilisation: a GPU pinned above 98 % for 10 s is saturated (requests
 * are queueing, maybe time to scale out), but it is not failed, since a busy healthy GPU reads 100 %
 * and a crashed process reads 0 %. Likewise lost GPU telemetry is an alert, not a failure: losing SSH
 * or a driver stream says the control plane cannot see, not that the service is down.
 *
 * Per node, `NodeAlertState` keeps the latest GPU observation and two "continuously above" streaks
 * (GPU utilisation, health latency), O(1) per observation; `evaluate(now)` lists what is firing.
 * Persisting, de-duplicating (one open alert per kind and node) and resolving is the caller's job.
 *
 * Per cluster, `failoverRateAlert` and `autoFailoverGuard` implement the anti-flap rules: a cooldown
 * after each automatic failover, and a freeze once `freezeAfterFailoversPerHour` failovers happened
 * within an hour, so a cluster whose nodes keep failing is not switched back and forth by a machine.
 *
 * Everything here is pure: time is passed in (ms), nothing reads a clock or does I/O.
 */
import { formatDuration, formatNumber, oneLine, plural } from "./format";
import { SustainedCondition } from "./sustained";
import { GPU_SAMPLE_MAX_GAP_MS, type GpuObservation, type Policy, type ProbeObservation } from "./types";

export type AlertKind =
  | "gpu_temperature"
  | "gpu_memory"
  | "gpu_saturation"
  | "health_latency"
  | "gpu_telemetry_lost";
export type AlertSeverity = "warning" | "critical";
export type NodeAlert = { kind: AlertKind; severity: AlertSeverity; message: string };

/** How long /health must stay above the latency threshold before it is an alert. */
export const HEALTH_LATENCY_SUSTAIN_MS = 60_000;
/** A temperature this far above the alert threshold is critical (thermal throttling, then shutdown). */
export const TEMPERATURE_CRITICAL_MARGIN_C = 10;
export const HOUR_MS = 3_600_000;

export type NodeAlertOptions = { gpuMaxGapMs?: number };

export class NodeAlertState {
  private policy: Policy;
  private readonly gpuMaxGapMs: number;
  private probeMaxGapMs: number;
  private lastGpu: GpuObservation | null = null;
  private telemetryLostSince: number | null = null;
  private readonly saturation = new SustainedCondition();
  private readonly slowHealth = new SustainedCondition();
  private lastProbe: ProbeObservation | null = null;

  constructor(policy: Readonly<Policy>, options: NodeAlertOptions = {}) {
    this.policy = { ...policy };
    this.gpuMaxGapMs = options.gpuMaxGapMs ?? GPU_SAMPLE_MAX_GAP_MS;
    this.probeMaxGapMs = probeGap(policy);
  }

  /** Thresholds apply from now on; streaks measured against a changed threshold restart. */
  setPolicy(policy: Readonly<Policy>): void {
    if (policy.gpuUtilSaturationPct !== this.policy.gpuUtilSaturationPct) this.saturation.reset();
    if (policy.latencyThresholdMs !== this.policy.latencyThresholdMs) this.slowHealth.reset();
    this.policy = { ...policy };
    this.probeMaxGapMs = probeGap(policy);
  }

  observeGpu(obs: GpuObservation): void {
    this.lastGpu = obs;
    if (obs.ok) {
      this.telemetryLostSince = null;
      const util = obs.utilizationPct;
      this.saturation.record(
        obs.at,
        util !== null && util > this.policy.gpuUtilSaturationPct,
        this.gpuMaxGapMs,
      );
    } else {
      if (this.telemetryLostSince === null) this.telemetryLostSince = obs.at;
      this.saturation.interrupt(obs.at);
    }
  }

  observeProbe(obs: ProbeObservation): void {
    this.lastProbe = obs;
    this.slowHealth.record(obs.at, isSlowHealth(obs, this.policy.latencyThresholdMs), this.probeMaxGapMs);
  }

  /** The alerts firing at `now`, in a stable order (by kind). */
  evaluate(now: number): NodeAlert[] {
    const p = this.policy;
    const out: NodeAlert[] = [];
    const gpu = this.lastGpu;
    if (gpu?.ok) {
      const t = gpu.temperatureC;
      if (t !== null && t > p.gpuTempAlertC) {
        out.push({
          kind: "gpu_temperature",
          severity: t >= p.gpuTempAlertC + TEMPERATURE_CRITICAL_MARGIN_C ? "critical" : "warning",
          message: `GPU temperature ${formatNumber(t)} °C > ${p.gpuTempAlertC} °C`,
        });
      }
      const m = gpu.memoryUsedPct;
      if (m !== null && m > p.gpuMemoryAlertPct) {
        out.push({
          kind: "gpu_memory",
          severity: "warning",
          message: `GPU memory ${formatNumber(m)} % used > ${p.gpuMemoryAlertPct} %`,
        });
      }
    }
    const saturatedFor = this.saturation.heldFor(now, this.gpuMaxGapMs);
    if (saturatedFor > 0 && saturatedFor >= p.gpuSaturationSustainS * 1000) {
      out.push({
        kind: "gpu_saturation",
        severity: "warning",
        message:
          `GPU utilisation above ${p.gpuUtilSaturationPct} % for ${formatDuration(saturatedFor)}: saturated, ` +
          "requests may be queueing (not a failure)",
      });
    }
    const slowFor = this.slowHealth.heldFor(now, this.probeMaxGapMs);
    if (slowFor > 0 && slowFor >= HEALTH_LATENCY_SUSTAIN_MS) {
      const last = this.lastProbe;
      const lastText =
        last?.httpMs != null && last.httpStatus !== null
          ? `last ${formatNumber(last.httpMs)} ms`
          : "last probe timed out";
      out.push({
        kind: "health_latency",
        severity: "warning",
        message: `/health slower than ${p.latencyThresholdMs} ms for ${formatDuration(slowFor)} (${lastText})`,
      });
    }
    if (gpu !== null && !gpu.ok) {
      const since = this.telemetryLostSince ?? gpu.at;
      out.push({
        kind: "gpu_telemetry_lost",
        severity: "warning",
        message:
          `GPU telemetry lost${now > since ? ` for ${formatDuration(now - since)}` : ""}: ${oneLine(gpu.reason)} ` +
          "(not a failure by itself)",
      });
    }
    return out;
  }
}

/** Slow = TCP up and /health either answered slower than the threshold or did not answer at all
 * (a timeout is the slowest answer). TCP down is "down", not "slow", and breaks the streak. */
function isSlowHealth(obs: ProbeObservation, latencyThresholdMs: number): boolean {
  if (!obs.tcpOk) return false;
  if (obs.httpStatus === null) return !obs.httpOk;
  return obs.httpMs !== null && obs.httpMs > latencyThresholdMs;
}

/** Widest gap between probes that still counts as "continuously": three missed probes. */
function probeGap(policy: Readonly<Policy>): number {
  return 3 * policy.probeIntervalMs + Math.max(policy.tcpTimeoutMs, policy.httpTimeoutMs);
}

type FreezeState = { count: number; until: number };

/**
 * Whether the failovers in the last hour reach the freeze limit, and when that stops being true
 * (when enough of them have aged out of the hour). Counts times in (now − 1 h, now]; times after
 * `now` (a clock that stepped back) count too, which keeps a freeze rather than lifting it early.
 * The list is short (failovers in an hour); only when the limit is reached is it copied and sorted.
 */
function freezeState(failoverTimesMs: readonly number[], now: number, limit: number): FreezeState | null {
  const from = now - HOUR_MS;
  let count = 0;
  for (const t of failoverTimesMs) if (t > from) count++;
  if (count < limit || limit < 1) return null;
  const recent = failoverTimesMs.filter((t) => t > from).sort((a, b) => a - b);
  // Once the oldest (count − limit + 1) have aged out, fewer than `limit` remain.
  const pivot = recent[count - limit] ?? now;
  return { count, until: pivot + HOUR_MS };
}

export type FailoverRateAlert = {
  kind: "failover_rate";
  severity: "critical";
  message: string;
  count: number;
  /** When automatic failover unfreezes, if nothing else happens. */
  until: number;
};

/** Fires while ≥ `freezeAfterFailoversPerHour` failovers happened in the last hour (the cluster is frozen). */
export function failoverRateAlert(
  failoverTimesMs: readonly number[],
  now: number,
  policy: Readonly<Pick<Policy, "freezeAfterFailoversPerHour">>,
): FailoverRateAlert | null {
  const limit = policy.freezeAfterFailoversPerHour;
  const freeze = freezeState(failoverTimesMs, now, limit);
  if (freeze === null) return null;
  return {
    kind: "failover_rate",
    severity: "critical",
    count: freeze.count,
    until: freeze.until,
    message:
      `${plural(freeze.count, "failover")} in the last hour (limit ${limit}): automatic failover is frozen ` +
      `for ${formatDuration(freeze.until - now)}; something keeps failing, look before switching again`,
  };
}

export type AutoFailoverBlockReason =
  | "cooldown"
  | "frozen"
  | "maintenance"
  | "in_flight"
  | "no_healthy_standby"
  | "disabled";

export type AutoFailoverDecision =
  | { allowed: true }
  | { allowed: false; reason: AutoFailoverBlockReason; until?: number; message: string };

export type AutoFailoverGuardInput = {
  now: number;
  /** When the last automatic failover of this cluster started, or null if never (or long ago). */
  lastAutoFailoverAt: number | null;
  /** Start times of this cluster's recent failovers (at least the last hour's). */
  failoverTimesMs: readonly number[];
  policy: Readonly<Pick<Policy, "autoFailover" | "cooldownS" | "freezeAfterFailoversPerHour">>;
  maintenance: boolean;
  /** A switchover (of any kind) is already running for this cluster. */
  inFlight: boolean;
  /** At least one standby is healthy per the detector. */
  standbyHealthy: boolean;
  /** A persisted freeze (`clusters.frozen_until`, e.g. set by an admin), honoured while in the future. */
  frozenUntil?: number | null;
};

const ALLOWED: AutoFailoverDecision = Object.freeze({ allowed: true });

/**
 * May the controller start an automatic failover now (given that the primary is failed)? Checked in
 * this order, first match wins: disabled, maintenance, in flight, no healthy standby (nothing to
 * move to, and the one an operator most needs to hear), frozen, cooldown. Only automatic failover is
 * guarded; an operator's manual switchover is not subject to cooldown or freeze.
 */
export function autoFailoverGuard(input: AutoFailoverGuardInput): AutoFailoverDecision {
  const { now, policy } = input;
  if (!policy.autoFailover) {
    return {
      allowed: false,
      reason: "disabled",
      message: "Automatic failover is off in this cluster's policy; an operator has to switch over.",
    };
  }
  if (input.maintenance) {
    return {
      allowed: false,
      reason: "maintenance",
      message: "The cluster is in maintenance; automatic failover is paused until maintenance ends.",
    };
  }
  if (input.inFlight) {
    return {
      allowed: false,
      reason: "in_flight",
      message: "A switchover is already in flight for this cluster; waiting for it to finish.",
    };
  }
  if (!input.standbyHealthy) {
    return {
      allowed: false,
      reason: "no_healthy_standby",
      message: "No standby is healthy, so there is nothing to fail over to.",
    };
  }
  const freeze = freezeState(input.failoverTimesMs, now, policy.freezeAfterFailoversPerHour);
  const pinned = input.frozenUntil != null && input.frozenUntil > now ? input.frozenUntil : null;
  if (freeze !== null || pinned !== null) {
    const until = Math.max(freeze?.until ?? 0, pinned ?? 0);
    const why =
      freeze !== null
        ? `${plural(freeze.count, "failover")} in the last hour (limit ${policy.freezeAfterFailoversPerHour})`
        : "the cluster was frozen";
    return {
      allowed: false,
      reason: "frozen",
      until,
      message: `Automatic failover is frozen for ${formatDuration(until - now)}: ${why}.`,
    };
  }
  const last = input.lastAutoFailoverAt;
  const cooldownMs = policy.cooldownS * 1000;
  if (last !== null && cooldownMs > 0 && now < last + cooldownMs) {
    const until = last + cooldownMs;
    return {
      allowed: false,
      reason: "cooldown",
      until,
      message:
        `An automatic failover ran ${formatDuration(Math.max(0, now - last))} ago; the next may start in ` +
        `${formatDuration(until - now)} (cooldown ${formatDuration(cooldownMs)}).`,
    };
  }
  return ALLOWED;
}
