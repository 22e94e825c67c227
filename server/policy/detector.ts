/**
 * Per-node failure detector: `unknown → healthy → suspect → failed → recovering → healthy`.
 *
 * The controller feeds it every probe result and every GPU reading of one node, and reads memory,
 * never the database, to decide. It is called for a thousand nodes a second, so it is a plain class
 * with fixed fields: O(1) per observation, no allocation on the common path (a probe that changes
 * nothing), strings built only when a transition is returned or a caller asks why.
 *
 * Rules, all from the policy:
 * - A probe counts as failed according to `signalsRequired`:
 *   `any`          TCP fails, or HTTP fails (non-2xx, timeout, or slower than the latency threshold);
 *   `tcp_and_http` both fail (a hung process that still accepts connections never fails);
 *   `all`          both fail *and* the GPU has been above `gpuUtilSaturationPct` continuously for
 *                  `gpuSaturationSustainS`. A crashed process leaves its GPU idle, so this mode never
 *                  fails a crashed node. That is documented behaviour, kept so the seed article's
 *                  triple check can be shown for what it is; the preset carries a warning.
 * - GPU utilisation is never a failure on its own: a busy healthy GPU reads 100 %, a crashed process
 *   reads 0 %. It only ever *adds* a condition (in `all`), and raises a saturation alert elsewhere.
 * - Lost GPU telemetry (SSH down, driver error) is never a failure on its own either: the control
 *   plane's reach is not the service's health. It is reported as `gpuTelemetryLost` (+ since) and,
 *   in `all` mode, breaks the "continuously saturated" streak (we no longer know).
 * - From `unknown` the first success → healthy, the first failure → suspect. `suspect → failed` after
 *   `failuresToFail` consecutive failures, counting the one that made it suspect; a success returns it
 *   to healthy. `failed → recovering` on the first success; `recovering → healthy` after
 *   `successesToRecover` consecutive successes (counting the first); any failure while recovering →
 *   failed. With a threshold of 1 the intermediate state is skipped.
 *
 * Observations are processed in the order given. Times only ever feed durations, so a clock that
 * steps backwards cannot freeze the detector; it can at worst restart a GPU saturation streak.
 * Prefer a monotonic clock for `at`.
 *
 * `assessFleetBlip` is the fleet-level guard that runs once per tick, before any decision: if the
 * controller cannot reach its canary, or more than half of a fleet of ≥ 4 nodes failed in the same
 * tick, the likeliest cause is the controller's own network, and decisions are held.
 */
import { describeNetworkError, formatDuration, formatNumber, plural } from "./format";
import { SustainedCondition } from "./sustained";
import {
  GPU_SAMPLE_MAX_GAP_MS,
  type GpuObservation,
  type NodeState,
  type Policy,
  type ProbeObservation,
  type SignalRequirement,
} from "./types";

export type { GpuObservation, NodeState, ProbeObservation } from "./types";

export type Transition = { from: NodeState; to: NodeState; at: number; reason: string };

/** Bit set in `probeSignals` when the TCP connect failed. */
export const TCP_FAILED = 1;
/** Bit set in `probeSignals` when the HTTP check failed (non-2xx, timeout, error, or too slow). */
export const HTTP_FAILED = 2;

type ProbeThresholds = Pick<Policy, "latencyThresholdMs">;
type ReasonThresholds = Pick<Policy, "latencyThresholdMs" | "tcpTimeoutMs" | "httpTimeoutMs">;

function httpFailed(obs: ProbeObservation, latencyThresholdMs: number): boolean {
  if (!obs.httpOk) return true;
  const status = obs.httpStatus;
  if (status !== null && (status < 200 || status > 299)) return true;
  return obs.httpMs !== null && obs.httpMs > latencyThresholdMs;
}

/**
 * Which signals of one probe failed, as a bit set of TCP_FAILED | HTTP_FAILED (0 = all good), before
 * any policy mode is applied. Allocation-free; the controller can also use it to count failures per
 * tick for `assessFleetBlip`.
 */
export function probeSignals(obs: ProbeObservation, policy: ProbeThresholds): number {
  return (obs.tcpOk ? 0 : TCP_FAILED) | (httpFailed(obs, policy.latencyThresholdMs) ? HTTP_FAILED : 0);
}

function describeTcpFailure(obs: ProbeObservation, policy: ReasonThresholds): string {
  const words = describeNetworkError(obs.error);
  if (words === "timed out" || (words === null && obs.tcpMs !== null && obs.tcpMs >= policy.tcpTimeoutMs)) {
    return `TCP connect timed out after ${formatDuration(policy.tcpTimeoutMs)}`;
  }
  if (words === "refused") return "TCP connect refused";
  return words === null ? "TCP connect failed" : `TCP connect failed: ${words}`;
}

function describeHttpFailure(obs: ProbeObservation, policy: ReasonThresholds): string | null {
  const status = obs.httpStatus;
  if (status !== null && (status < 200 || status > 299)) return `HTTP ${status}`;
  if (!obs.httpOk) {
    // With TCP down, the error text is about TCP; the HTTP side simply got no answer.
    const words = obs.tcpOk ? describeNetworkError(obs.error) : null;
    if (status !== null)
      return words
        ? `health check failed (HTTP ${status}): ${words}`
        : `health check failed (HTTP ${status})`;
    if (
      words === "timed out" ||
      (words === null && obs.httpMs !== null && obs.httpMs >= policy.httpTimeoutMs)
    ) {
      return `HTTP timed out after ${formatDuration(policy.httpTimeoutMs)}`;
    }
    return words === null ? "no HTTP response" : `HTTP request failed: ${words}`;
  }
  if (obs.httpMs !== null && obs.httpMs > policy.latencyThresholdMs) {
    return `health latency ${formatNumber(obs.httpMs)} ms > ${policy.latencyThresholdMs} ms`;
  }
  return null;
}

/**
 * Why a probe's signals failed, in words ("TCP connect refused", "HTTP 503", "HTTP timed out after
 * 1 s", "health latency 812 ms > 500 ms"), or null when every signal passed. Independent of the
 * policy mode. When TCP failed, the HTTP side is only mentioned if it says something new (a status).
 */
export function describeProbeFailure(obs: ProbeObservation, policy: ReasonThresholds): string | null {
  const http = describeHttpFailure(obs, policy);
  if (obs.tcpOk) return http;
  const tcp = describeTcpFailure(obs, policy);
  return http !== null && obs.httpStatus !== null ? `${tcp}; ${http}` : tcp;
}

export type NodeDetectorOptions = {
  /** Restore a state read back from the database (e.g. when a new leader takes over). */
  state?: NodeState;
  /** When that state began, if known. */
  since?: number | null;
  /** See GPU_SAMPLE_MAX_GAP_MS. */
  gpuMaxGapMs?: number;
};

export class NodeDetector {
  private _state: NodeState;
  private _since: number | null;
  private _failures = 0;
  private _successes = 0;

  // Policy, flattened into fields read on every probe.
  private _policy: Policy;
  private mode: SignalRequirement;
  private failuresToFail: number;
  private successesToRecover: number;
  private latencyThresholdMs: number;
  private saturationPct: number;
  private saturationSustainMs: number;
  private readonly gpuMaxGapMs: number;

  private readonly saturation = new SustainedCondition();
  private _lastProbe: ProbeObservation | null = null;
  private _lastProbeFailed = false;
  private _telemetryLostSince: number | null = null;
  private _telemetryLostReason: string | null = null;

  constructor(policy: Readonly<Policy>, options: NodeDetectorOptions = {}) {
    this._state = options.state ?? "unknown";
    this._since = options.since ?? null;
    this.gpuMaxGapMs = options.gpuMaxGapMs ?? GPU_SAMPLE_MAX_GAP_MS;
    this._policy = { ...policy };
    this.mode = policy.signalsRequired;
    this.failuresToFail = policy.failuresToFail;
    this.successesToRecover = policy.successesToRecover;
    this.latencyThresholdMs = policy.latencyThresholdMs;
    this.saturationPct = policy.gpuUtilSaturationPct;
    this.saturationSustainMs = policy.gpuSaturationSustainS * 1000;
  }

  get state(): NodeState {
    return this._state;
  }
  /** When the current state began (the `at` of the transition into it), if known. */
  get stateSince(): number | null {
    return this._since;
  }
  get consecutiveFailures(): number {
    return this._failures;
  }
  get consecutiveSuccesses(): number {
    return this._successes;
  }
  get policy(): Readonly<Policy> {
    return this._policy;
  }

  /** Whether the latest probe counted as failed under the policy. */
  get lastProbeFailed(): boolean {
    return this._lastProbeFailed;
  }
  /**
   * Why the latest probe's signals failed, even if the policy did not count it (e.g. TCP refused
   * under `all` with an idle GPU), or null when all signals passed. Built on demand.
   */
  get lastProbeFailure(): string | null {
    return this._lastProbe === null ? null : describeProbeFailure(this._lastProbe, this._policy);
  }

  get gpuTelemetryLost(): boolean {
    return this._telemetryLostSince !== null;
  }
  get gpuTelemetryLostSince(): number | null {
    return this._telemetryLostSince;
  }
  get gpuTelemetryLostReason(): string | null {
    return this._telemetryLostReason;
  }
  /** How long GPU utilisation has been continuously above the saturation threshold, as of `now`. */
  gpuSaturatedFor(now: number): number {
    return this.saturation.heldFor(now, this.gpuMaxGapMs);
  }

  /**
   * Takes effect from the next observation; never causes a transition by itself. Counters are kept,
   * so lowering `failuresToFail` below the current count fails a suspect node on its next failure.
   */
  setPolicy(policy: Readonly<Policy>): void {
    if (policy.gpuUtilSaturationPct !== this.saturationPct) this.saturation.reset();
    this._policy = { ...policy };
    this.mode = policy.signalsRequired;
    this.failuresToFail = policy.failuresToFail;
    this.successesToRecover = policy.successesToRecover;
    this.latencyThresholdMs = policy.latencyThresholdMs;
    this.saturationPct = policy.gpuUtilSaturationPct;
    this.saturationSustainMs = policy.gpuSaturationSustainS * 1000;
  }

  observeGpu(obs: GpuObservation): void {
    if (obs.ok) {
      const util = obs.utilizationPct;
      this.saturation.record(obs.at, util !== null && util > this.saturationPct, this.gpuMaxGapMs);
      this._telemetryLostSince = null;
      this._telemetryLostReason = null;
    } else {
      this.saturation.interrupt(obs.at);
      if (this._telemetryLostSince === null) this._telemetryLostSince = obs.at;
      this._telemetryLostReason = obs.reason;
    }
  }

  observeProbe(obs: ProbeObservation): Transition | null {
    const signals =
      (obs.tcpOk ? 0 : TCP_FAILED) | (httpFailed(obs, this.latencyThresholdMs) ? HTTP_FAILED : 0);
    let failed: boolean;
    switch (this.mode) {
      case "any":
        failed = signals !== 0;
        break;
      case "tcp_and_http":
        failed = signals === (TCP_FAILED | HTTP_FAILED);
        break;
      case "all":
        failed =
          signals === (TCP_FAILED | HTTP_FAILED) &&
          this.saturation.heldFor(obs.at, this.gpuMaxGapMs) >= this.saturationSustainMs;
        break;
    }
    this._lastProbe = obs;
    this._lastProbeFailed = failed;

    const from = this._state;
    const previousFailures = this._failures;
    let to: NodeState = from;
    if (failed) {
      this._failures++;
      this._successes = 0;
      if (from === "recovering" || this._failures >= this.failuresToFail) to = "failed";
      else if (from !== "failed") to = "suspect";
    } else {
      this._successes++;
      this._failures = 0;
      if (from === "failed" || from === "recovering") {
        to = this._successes >= this.successesToRecover ? "healthy" : "recovering";
      } else {
        to = "healthy";
      }
    }
    if (to === from) return null;
    this._state = to;
    this._since = obs.at;
    return { from, to, at: obs.at, reason: this.reasonFor(from, to, obs, previousFailures) };
  }

  private reasonFor(from: NodeState, to: NodeState, obs: ProbeObservation, previousFailures: number): string {
    if (to === "healthy") {
      if (from === "unknown") return "first probe succeeded";
      if (from === "suspect") return `probe succeeded after ${plural(previousFailures, "failed probe")}`;
      return this._successes === 1 ? "probe succeeded" : `${this._successes} consecutive successful probes`;
    }
    if (to === "recovering") return `probe succeeded (1/${this.successesToRecover} to recover)`;
    let why = describeProbeFailure(obs, this._policy) ?? "probe failed";
    if (this.mode === "all") {
      why += `; GPU utilisation above ${this.saturationPct} % for ${formatDuration(this.gpuSaturatedFor(obs.at))}`;
    }
    if (to === "suspect") return `probe failed (${this._failures}/${this.failuresToFail}): ${why}`;
    // to === "failed"
    if (from === "recovering") return `probe failed while recovering: ${why}`;
    return this._failures === 1
      ? `probe failed: ${why}`
      : `${this._failures} consecutive failed probes: ${why}`;
  }
}

/** Fewest nodes for which "more than half failed in one tick" is read as the controller's own blip. */
export const FLEET_BLIP_MIN_NODES = 4;

export type FleetBlipInput = {
  /** Nodes probed this tick. */
  total: number;
  /** Nodes whose probe had a failing signal this tick (`probeSignals(obs, policy) !== 0`). */
  failedThisTick: number;
  /** Whether the controller reached its canary (something that should always answer: the LB, the DB host, a gateway). */
  canaryOk: boolean;
};

export type FleetBlipAssessment =
  | { hold: false }
  | { hold: true; reason: "canary_unreachable" | "mass_failure"; message: string };

const NO_BLIP: FleetBlipAssessment = Object.freeze({ hold: false });

/**
 * Do this tick's failures look like the controller's own network blip rather than the fleet's?
 * Either the controller cannot reach its canary, or more than half of a fleet of at least
 * FLEET_BLIP_MIN_NODES failed in the same tick (independent nodes rarely die together; one
 * controller losing its network makes them all look dead at once).
 *
 * On `hold`, the controller keeps feeding the detectors (their states stay an honest account of what
 * it saw) but takes no failover decision this tick. A fleet that really is down gains nothing from a
 * failover anyway: there is no healthy standby to move to.
 */
export function assessFleetBlip(input: FleetBlipInput): FleetBlipAssessment {
  const { total, failedThisTick, canaryOk } = input;
  if (!canaryOk) {
    return {
      hold: true,
      reason: "canary_unreachable",
      message:
        "The controller cannot reach its canary, so failures this tick may be its own network: holding " +
        "failover decisions.",
    };
  }
  if (total >= FLEET_BLIP_MIN_NODES && failedThisTick * 2 > total) {
    return {
      hold: true,
      reason: "mass_failure",
      message:
        `${failedThisTick} of ${total} nodes failed in the same tick, which looks like the controller's own ` +
        "network rather than the fleet: holding failover decisions.",
    };
  }
  return NO_BLIP;
}
