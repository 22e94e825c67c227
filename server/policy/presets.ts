/**
 * Failover policy presets, validation and a plain-words description for the settings page.
 *
 * Why the presets look the way they do:
 * - `default` fails fast on the failures that actually take a service down: a refused or timed-out
 *   TCP connect (process crashed, host gone, port black-holed), and a `/health` that errors, times
 *   out or answers slower than the latency threshold (process hung or drowning). Any one signal is
 *   enough, three probes in a row, so a one- or two-probe blip never moves traffic.
 * - `conservative` needs TCP *and* HTTP to fail, five times in a row: for flaky networks or
 *   services whose `/health` is noisy. Its blind spot is a hung process that still accepts
 *   connections, which is why it carries a warning.
 * - `triple_check` is the check from the article that inspired the project: TCP fails 3× over 2 s,
 *   HTTP 503 or > 500 ms, GPU utilisation > 98 % for 10 s, all three must agree. It is here so
 *   operators can see, in words and in tests, why it is a trap: a crashed process leaves its GPU
 *   idle (0 %), so the three never agree on the most common failure.
 *
 * GPU utilisation alone never fails a node under any preset: a busy healthy GPU reads 100 %, and a
 * crashed process reads 0 %. Utilisation is an alert (saturation), not a verdict.
 */
import { z } from "zod";
import { formatDuration, plural } from "./format";
import { type Policy, SIGNAL_REQUIREMENTS } from "./types";

export type { Policy, SignalRequirement } from "./types";

export type PolicyPresetId = "default" | "conservative" | "triple_check";

export type PolicyPreset = {
  id: PolicyPresetId;
  label: string;
  description: string;
  /** Shown next to the preset wherever it can be picked; the operator should read it first. */
  warning?: string;
  /** Applied over the current (or default) policy; alert thresholds and failover settings the
   * preset does not mention are left as the operator set them. */
  values: Partial<Policy>;
};

/** The database defaults (db/schema/clusters.ts `policies`), which are also the `default` preset. */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  preset: "default",
  probeIntervalMs: 1000,
  tcpTimeoutMs: 500,
  httpTimeoutMs: 1000,
  latencyThresholdMs: 500,
  failuresToFail: 3,
  successesToRecover: 3,
  signalsRequired: "any",
  gpuTempAlertC: 85,
  gpuMemoryAlertPct: 95,
  gpuUtilSaturationPct: 98,
  gpuSaturationSustainS: 10,
  autoFailover: true,
  cooldownS: 300,
  freezeAfterFailoversPerHour: 2,
  verifyDeadlineMs: 10_000,
});

export const TRIPLE_CHECK_WARNING =
  "A crashed process leaves its GPU idle (0 %), so this check never fires on the most common failure.";

function freezePresets<T extends Record<string, PolicyPreset>>(presets: T): Readonly<T> {
  for (const preset of Object.values(presets)) Object.freeze(Object.freeze(preset).values);
  return Object.freeze(presets);
}

export const POLICY_PRESETS: Readonly<Record<PolicyPresetId, PolicyPreset>> = freezePresets({
  default: {
    id: "default",
    label: "Default",
    description:
      "Fails a node after 3 consecutive failed probes, where any hard failure counts: TCP connect " +
      "refused or timed out, /health not 2xx, timed out, or slower than 500 ms. A crash is detected " +
      "in about 3–4 s; a one- or two-probe blip never fails a node. GPU utilisation never fails a node.",
    values: {
      preset: "default",
      probeIntervalMs: 1000,
      tcpTimeoutMs: 500,
      httpTimeoutMs: 1000,
      latencyThresholdMs: 500,
      failuresToFail: 3,
      successesToRecover: 3,
      signalsRequired: "any",
    },
  },
  conservative: {
    id: "conservative",
    label: "Conservative",
    description:
      "Fails a node only when TCP and HTTP both fail, 5 probes in a row (about 5–7 s after a crash), " +
      "and needs 5 good probes to bring it back. For flaky networks or a noisy /health; slow or " +
      "erroring health checks alone never fail a node.",
    warning:
      "A hung process that still accepts TCP connections is never failed under this preset; rely on " +
      "the health latency alert to notice it.",
    values: {
      preset: "conservative",
      probeIntervalMs: 1000,
      tcpTimeoutMs: 1000,
      httpTimeoutMs: 2000,
      latencyThresholdMs: 1000,
      failuresToFail: 5,
      successesToRecover: 5,
      signalsRequired: "tcp_and_http",
    },
  },
  triple_check: {
    id: "triple_check",
    label: "Triple check (TCP + HTTP + GPU)",
    description:
      "The check from the seed article: TCP fails 3× over 2 s, HTTP 503 or slower than 500 ms, and GPU " +
      "utilisation above 98 % for 10 s; all three must agree before a node is failed.",
    warning: TRIPLE_CHECK_WARNING,
    values: {
      preset: "triple_check",
      probeIntervalMs: 1000,
      tcpTimeoutMs: 500,
      httpTimeoutMs: 1000,
      latencyThresholdMs: 500,
      failuresToFail: 3,
      successesToRecover: 3,
      signalsRequired: "all",
      gpuUtilSaturationPct: 98,
      gpuSaturationSustainS: 10,
    },
  },
});

export const POLICY_PRESET_IDS = Object.keys(POLICY_PRESETS) as PolicyPresetId[];

export function isPolicyPresetId(id: string): id is PolicyPresetId {
  return Object.hasOwn(POLICY_PRESETS, id);
}

/**
 * A whole policy from a preset: the preset's values over `base` (the cluster's current policy, so
 * its alert thresholds and failover settings survive), or over the defaults.
 */
export function applyPreset(id: PolicyPresetId, base: Readonly<Policy> = DEFAULT_POLICY): Policy {
  return { ...base, ...POLICY_PRESETS[id].values, preset: id };
}

/** Human names of the fields, for form labels and error messages. */
export const POLICY_FIELD_LABELS: Readonly<Record<keyof Policy, string>> = Object.freeze({
  preset: "Preset",
  probeIntervalMs: "Probe interval",
  tcpTimeoutMs: "TCP timeout",
  httpTimeoutMs: "HTTP timeout",
  latencyThresholdMs: "Latency threshold",
  failuresToFail: "Failures to fail",
  successesToRecover: "Successes to recover",
  signalsRequired: "Signals required",
  gpuTempAlertC: "GPU temperature alert",
  gpuMemoryAlertPct: "GPU memory alert",
  gpuUtilSaturationPct: "GPU saturation threshold",
  gpuSaturationSustainS: "GPU saturation window",
  autoFailover: "Automatic failover",
  cooldownS: "Cooldown",
  freezeAfterFailoversPerHour: "Freeze after failovers per hour",
  verifyDeadlineMs: "Verify deadline",
});

const L = POLICY_FIELD_LABELS;

function wholeNumber(field: keyof Policy, min: number, max: number, unit: string) {
  const label = L[field];
  const u = unit ? ` ${unit}` : "";
  return z
    .number({
      error: (issue) => (issue.input === undefined ? `${label} is required` : `${label} must be a number`),
    })
    .int({ error: `${label} must be a whole number` })
    .min(min, { error: `${label} must be at least ${min}${u}` })
    .max(max, { error: `${label} must be at most ${max}${u}` });
}

const MAX_MS = 600_000;

/**
 * A whole policy, as an operator submits it or as it is read back. Messages name the field in
 * words and every issue carries the field in its path, so forms can put it next to the input.
 * Unknown keys (a database row's id, version, timestamps) are stripped.
 */
export const policySchema = z
  .object({
    preset: z
      .string({ error: `${L.preset} must be text` })
      .trim()
      .min(1, { error: `${L.preset} is required` })
      .max(64, { error: `${L.preset} must be at most 64 characters` }),
    probeIntervalMs: wholeNumber("probeIntervalMs", 100, MAX_MS, "ms"),
    tcpTimeoutMs: wholeNumber("tcpTimeoutMs", 1, MAX_MS * 10, "ms"),
    httpTimeoutMs: wholeNumber("httpTimeoutMs", 1, MAX_MS * 10, "ms"),
    latencyThresholdMs: wholeNumber("latencyThresholdMs", 1, MAX_MS, "ms"),
    failuresToFail: wholeNumber("failuresToFail", 1, 100, ""),
    successesToRecover: wholeNumber("successesToRecover", 1, 100, ""),
    signalsRequired: z.enum(SIGNAL_REQUIREMENTS, {
      error: `${L.signalsRequired} must be one of: ${SIGNAL_REQUIREMENTS.join(", ")}`,
    }),
    gpuTempAlertC: wholeNumber("gpuTempAlertC", 30, 120, "°C"),
    gpuMemoryAlertPct: wholeNumber("gpuMemoryAlertPct", 1, 100, "%"),
    gpuUtilSaturationPct: wholeNumber("gpuUtilSaturationPct", 1, 100, "%"),
    gpuSaturationSustainS: wholeNumber("gpuSaturationSustainS", 1, 3600, "s"),
    autoFailover: z.boolean({ error: `${L.autoFailover} must be on or off (true or false)` }),
    cooldownS: wholeNumber("cooldownS", 0, 86_400, "s"),
    freezeAfterFailoversPerHour: wholeNumber("freezeAfterFailoversPerHour", 1, 100, ""),
    verifyDeadlineMs: wholeNumber("verifyDeadlineMs", 1000, MAX_MS, "ms"),
  })
  .superRefine((p, ctx) => {
    // A timeout longer than ten intervals means probes of one node pile up behind each other.
    // Only judged against a valid interval, so a bad interval is reported once, not three times.
    if (!Number.isInteger(p.probeIntervalMs) || p.probeIntervalMs < 100 || p.probeIntervalMs > MAX_MS) return;
    const limit = p.probeIntervalMs * 10;
    for (const field of ["tcpTimeoutMs", "httpTimeoutMs"] as const) {
      if (p[field] >= limit) {
        ctx.addIssue({
          code: "custom",
          path: [field],
          message: `${L[field]} must be less than 10 × the probe interval (${limit} ms)`,
        });
      }
    }
  }) satisfies z.ZodType<Policy>;

export type PolicyInput = z.input<typeof policySchema>;

/**
 * Worst-case time from a crash to the node being failed, when probes are spaced by the interval:
 * the first failing probe starts within one interval of the crash, the last of `failuresToFail`
 * starts `failuresToFail - 1` intervals later, and its verdict may take a full timeout.
 */
export function worstCaseDetectionMs(policy: Readonly<Policy>): number {
  return policy.failuresToFail * policy.probeIntervalMs + Math.max(policy.tcpTimeoutMs, policy.httpTimeoutMs);
}

/** The policy in plain words, one sentence per line, for the settings page and the cluster view. */
export function describePolicy(policy: Readonly<Policy>): string[] {
  const p = policy;
  const lines: string[] = [];
  const interval = formatDuration(p.probeIntervalMs);
  const timeout = formatDuration(Math.max(p.tcpTimeoutMs, p.httpTimeoutMs));
  const latencyCounts = p.latencyThresholdMs < p.httpTimeoutMs;

  lines.push(
    `Every node is probed every ${interval}: a TCP connect (timeout ${formatDuration(p.tcpTimeoutMs)}) ` +
      `and GET /health (timeout ${formatDuration(p.httpTimeoutMs)}).`,
  );

  const httpFails = latencyCounts
    ? `/health fails (not 2xx, timed out, or slower than ${formatDuration(p.latencyThresholdMs)})`
    : "/health fails (not 2xx or timed out)";
  switch (p.signalsRequired) {
    case "any":
      lines.push(`A probe fails when the TCP connect fails or ${httpFails}.`);
      break;
    case "tcp_and_http":
      lines.push(
        `A probe fails only when the TCP connect fails and ${httpFails}; ` +
          "a hung process that still accepts connections is never failed.",
      );
      break;
    case "all":
      lines.push(
        `A probe fails only when all three agree: the TCP connect fails, ${httpFails}, and GPU utilisation has been above ` +
          `${p.gpuUtilSaturationPct} % for ${formatDuration(p.gpuSaturationSustainS * 1000)}. ` +
          TRIPLE_CHECK_WARNING,
      );
      break;
  }
  if (!latencyCounts) {
    lines.push(
      `The latency threshold (${formatDuration(p.latencyThresholdMs)}) is not below the HTTP timeout, ` +
        "so slow answers only count when they time out.",
    );
  }

  const spread = formatDuration(p.failuresToFail * p.probeIntervalMs);
  lines.push(
    p.failuresToFail === 1
      ? `A node is failed after 1 failed probe (within about ${interval} + up to ${timeout} timeout); ` +
          "a single blip is enough to fail it."
      : `A node is failed after ${p.failuresToFail} consecutive failed probes (about ${spread} at a ` +
          `${interval} interval + up to ${timeout} timeout); ` +
          `${p.failuresToFail === 2 ? "a single failed probe" : `up to ${p.failuresToFail - 1} failed probes in a row`} never fail it.`,
  );
  lines.push(
    `A failed node is healthy again after ${p.successesToRecover === 1 ? "1 successful probe" : `${p.successesToRecover} consecutive successful probes`} ` +
      `(about ${formatDuration(p.successesToRecover * p.probeIntervalMs)}).`,
  );
  lines.push(
    "GPU utilisation alone never fails a node: a busy healthy GPU reads 100 %, and a crashed process reads 0 %.",
  );
  lines.push(
    "Losing GPU telemetry or SSH alone never fails a node: the control plane's reach is not the service's health.",
  );
  lines.push(
    `Alerts fire on GPU temperature above ${p.gpuTempAlertC} °C, GPU memory above ${p.gpuMemoryAlertPct} % ` +
      `used, GPU utilisation above ${p.gpuUtilSaturationPct} % for ` +
      `${formatDuration(p.gpuSaturationSustainS * 1000)} (saturation), /health slower than ` +
      `${formatDuration(p.latencyThresholdMs)} for 1 min, and lost GPU telemetry.`,
  );
  if (p.autoFailover) {
    const cooldown =
      p.cooldownS > 0
        ? `after one, another waits ${formatDuration(p.cooldownS * 1000)}`
        : "there is no cooldown between them";
    lines.push(
      `Automatic failover is on; ${cooldown}; ${plural(p.freezeAfterFailoversPerHour, "failover")} within an ` +
        `hour ${p.freezeAfterFailoversPerHour === 1 ? "freezes" : "freeze"} the cluster (no more automatic ` +
        "failovers until the hour has passed).",
    );
  } else {
    lines.push("Automatic failover is off: a failed primary raises an alert and waits for an operator.");
  }
  lines.push(
    `A switchover must verify within ${formatDuration(p.verifyDeadlineMs)} (new primary healthy and the ` +
      "endpoint answering), or it is rolled back.",
  );
  return lines;
}
