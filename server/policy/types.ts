/**
 * The failover policy as the detector, the alert evaluator and the auto-failover guard see it:
 * exactly the operator-editable columns of the `policies` row (db/schema/clusters.ts), every number
 * in the unit its name says. Nothing here imports the database schema, so this folder stays pure
 * (no I/O, no clocks) and can be called on every probe result for a thousand nodes a second.
 */

/**
 * Which failing signals must agree before a probe counts as failed.
 * - `any`: TCP fails, or HTTP fails (non-2xx, timeout, or slower than the latency threshold).
 * - `tcp_and_http`: both fail. A hung process that still accepts connections is never failed.
 * - `all`: TCP and HTTP fail and the GPU has been saturated for the sustain window. A crashed
 *   process leaves its GPU idle, so this never fires on the most common failure.
 */
export type SignalRequirement = "any" | "tcp_and_http" | "all";

export const SIGNAL_REQUIREMENTS = [
  "any",
  "tcp_and_http",
  "all",
] as const satisfies readonly SignalRequirement[];

export type Policy = {
  preset: string;
  probeIntervalMs: number;
  tcpTimeoutMs: number;
  httpTimeoutMs: number;
  latencyThresholdMs: number;
  failuresToFail: number;
  successesToRecover: number;
  signalsRequired: SignalRequirement;
  gpuTempAlertC: number;
  gpuMemoryAlertPct: number;
  gpuUtilSaturationPct: number;
  gpuSaturationSustainS: number;
  autoFailover: boolean;
  cooldownS: number;
  freezeAfterFailoversPerHour: number;
  verifyDeadlineMs: number;
};

/** Detector states, same labels as the `node_state` enum in the database. */
export type NodeState = "unknown" | "healthy" | "suspect" | "failed" | "recovering";

export const NODE_STATES = [
  "unknown",
  "healthy",
  "suspect",
  "failed",
  "recovering",
] as const satisfies readonly NodeState[];

/** One probe of one node: TCP connect, then `GET /health`. Times are ms (epoch or monotonic). */
export type ProbeObservation = {
  at: number;
  tcpOk: boolean;
  tcpMs: number | null;
  httpOk: boolean;
  httpStatus: number | null;
  httpMs: number | null;
  error?: string | null;
};

/** One GPU telemetry reading (or the news that there is none). */
export type GpuObservation =
  | {
      at: number;
      ok: true;
      utilizationPct: number | null;
      temperatureC: number | null;
      memoryUsedPct: number | null;
    }
  | { at: number; ok: false; reason: string };

/**
 * Largest gap between two GPU samples that still counts as "continuously" above a threshold, and
 * the oldest a sample may be for a sustained condition to still hold. Telemetry streams at about
 * 1 s; five missed samples in a row means we no longer know, and not knowing is not "saturated".
 */
export const GPU_SAMPLE_MAX_GAP_MS = 5_000;
