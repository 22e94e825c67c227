// The failover policy in a few sentences for the cluster page: what is probed and how often, when a
// node fails and recovers, what automatic failover does, and the verify deadline. The settings page
// has the long form (server/policy/presets.ts `describePolicy`); this is the glance an on-call
// engineer needs before deciding to wait for the controller or to switch over by hand.
// Pure: imported by the browser too.
import { formatDuration } from "@/server/policy/format";
import {
  DEFAULT_POLICY,
  isPolicyPresetId,
  POLICY_PRESETS,
  TRIPLE_CHECK_WARNING,
  worstCaseDetectionMs,
} from "@/server/policy/presets";
import type { Policy } from "@/server/policy/types";

export type PolicySummary = {
  /** Four or five short sentences, in order. */
  sentences: string[];
  /** The preset's label when the policy still matches a known preset id, else the id as stored. */
  presetLabel: string;
  /** What this policy never catches, when it has a blind spot (triple check, TCP-and-HTTP). */
  warning: string | null;
  /** Worst case from a crash to the node being failed. */
  worstCaseDetection: string;
  /** True when the cluster has no policy row and the controller's defaults apply. */
  isDefault: boolean;
};

const SIGNALS: Record<Policy["signalsRequired"], string> = {
  any: "of any signal (TCP or HTTP)",
  tcp_and_http: "of both TCP and HTTP together",
  all: "of TCP, HTTP and GPU saturation together",
};

/** e.g. "Probes every 1 s (TCP 500 ms, HTTP 1 s). A node fails after 3 consecutive failures of any
 * signal (TCP or HTTP) and recovers after 3 successes. Automatic failover: on, 5 min cooldown, frozen
 * after 2 in an hour. Verify deadline 10 s." */
export function summarizePolicy(stored: Readonly<Policy> | null): PolicySummary {
  const p = stored ?? DEFAULT_POLICY;
  const sentences: string[] = [];
  sentences.push(
    `Probes every ${formatDuration(p.probeIntervalMs)} (TCP ${formatDuration(p.tcpTimeoutMs)}, ` +
      `HTTP ${formatDuration(p.httpTimeoutMs)}).`,
  );
  const slow =
    p.latencyThresholdMs < p.httpTimeoutMs
      ? ` A /health answer slower than ${formatDuration(p.latencyThresholdMs)} counts as a failure.`
      : "";
  const failures = p.failuresToFail === 1 ? "1 failure" : `${p.failuresToFail} consecutive failures`;
  const successes = p.successesToRecover === 1 ? "1 success" : `${p.successesToRecover} successes`;
  sentences.push(
    `A node fails after ${failures} ${SIGNALS[p.signalsRequired]} and recovers after ${successes}.${slow}`,
  );
  if (p.autoFailover) {
    const cooldown = p.cooldownS > 0 ? `${formatDuration(p.cooldownS * 1000)} cooldown` : "no cooldown";
    sentences.push(
      `Automatic failover: on, ${cooldown}, frozen after ${p.freezeAfterFailoversPerHour} in an hour.`,
    );
  } else {
    sentences.push("Automatic failover: off (a failed primary raises an alert and waits for an operator).");
  }
  sentences.push(`Verify deadline ${formatDuration(p.verifyDeadlineMs)}.`);

  const preset = isPolicyPresetId(p.preset) ? POLICY_PRESETS[p.preset] : null;
  // Warnings follow what the policy does, not the preset's name: an edited preset keeps its label.
  const warning =
    p.signalsRequired === "all"
      ? TRIPLE_CHECK_WARNING
      : p.signalsRequired === "tcp_and_http"
        ? (POLICY_PRESETS.conservative.warning ?? null)
        : null;
  return {
    sentences,
    presetLabel: preset?.label ?? p.preset,
    warning,
    worstCaseDetection: formatDuration(worstCaseDetectionMs(p)),
    isDefault: stored === null,
  };
}
