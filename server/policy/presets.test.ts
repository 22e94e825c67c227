import { describe, expect, it } from "vitest";
import {
  applyPreset,
  DEFAULT_POLICY,
  describePolicy,
  isPolicyPresetId,
  POLICY_PRESET_IDS,
  POLICY_PRESETS,
  type Policy,
  policySchema,
  TRIPLE_CHECK_WARNING,
  worstCaseDetectionMs,
} from "./presets";

describe("POLICY_PRESETS", () => {
  it("has default, conservative and triple_check, each with id matching its key", () => {
    expect(POLICY_PRESET_IDS).toEqual(["default", "conservative", "triple_check"]);
    for (const id of POLICY_PRESET_IDS) {
      expect(POLICY_PRESETS[id].id).toBe(id);
      expect(POLICY_PRESETS[id].values.preset).toBe(id);
      expect(POLICY_PRESETS[id].label).not.toBe("");
      expect(POLICY_PRESETS[id].description).not.toBe("");
    }
  });

  it.each(POLICY_PRESET_IDS)("preset %s applied over the defaults is a valid policy", (id) => {
    const policy = applyPreset(id);
    expect(policySchema.parse(policy)).toEqual(policy);
    expect(policy.preset).toBe(id);
  });

  it("default fails fast on any hard failure: 1 s interval, 500 ms TCP, 1 s HTTP, 3 to fail, 3 to recover", () => {
    expect(applyPreset("default")).toEqual(DEFAULT_POLICY);
    expect(POLICY_PRESETS.default.values).toMatchObject({
      probeIntervalMs: 1000,
      tcpTimeoutMs: 500,
      httpTimeoutMs: 1000,
      failuresToFail: 3,
      successesToRecover: 3,
      signalsRequired: "any",
    });
  });

  it("conservative needs TCP and HTTP to agree, 5 times", () => {
    expect(POLICY_PRESETS.conservative.values).toMatchObject({
      signalsRequired: "tcp_and_http",
      failuresToFail: 5,
    });
  });

  it("triple_check is the seed article's check and carries the idle-GPU warning", () => {
    expect(POLICY_PRESETS.triple_check.values).toMatchObject({
      signalsRequired: "all",
      failuresToFail: 3,
      probeIntervalMs: 1000, // 3 failures over 2 s
      latencyThresholdMs: 500,
      gpuUtilSaturationPct: 98,
      gpuSaturationSustainS: 10,
    });
    expect(POLICY_PRESETS.triple_check.warning).toBe(
      "A crashed process leaves its GPU idle (0 %), so this check never fires on the most common failure.",
    );
    expect(POLICY_PRESETS.triple_check.warning).toBe(TRIPLE_CHECK_WARNING);
  });

  it("applying a preset keeps the operator's alert thresholds and failover settings", () => {
    const base: Policy = { ...DEFAULT_POLICY, gpuTempAlertC: 80, autoFailover: false, cooldownS: 60 };
    const p = applyPreset("conservative", base);
    expect(p).toMatchObject({ gpuTempAlertC: 80, autoFailover: false, cooldownS: 60, failuresToFail: 5 });
  });

  it("presets cannot be changed by accident", () => {
    expect(Object.isFrozen(POLICY_PRESETS)).toBe(true);
    expect(Object.isFrozen(POLICY_PRESETS.triple_check.values)).toBe(true);
    expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true);
  });

  it("isPolicyPresetId", () => {
    expect(isPolicyPresetId("triple_check")).toBe(true);
    expect(isPolicyPresetId("toString")).toBe(false);
    expect(isPolicyPresetId("custom")).toBe(false);
  });
});

describe("policySchema", () => {
  it("accepts the defaults and strips database-only columns", () => {
    const row = { ...DEFAULT_POLICY, id: "c0ffee", clusterId: "x", version: 4, updatedAt: new Date() };
    expect(policySchema.parse(row)).toEqual(DEFAULT_POLICY);
  });

  it.each<[string, Partial<Record<keyof Policy, unknown>>, keyof Policy, RegExp]>([
    [
      "interval too short",
      { probeIntervalMs: 99 },
      "probeIntervalMs",
      /^Probe interval must be at least 100 ms$/,
    ],
    [
      "interval too long",
      { probeIntervalMs: 600_001 },
      "probeIntervalMs",
      /^Probe interval must be at most 600000 ms$/,
    ],
    [
      "interval not whole",
      { probeIntervalMs: 1000.5 },
      "probeIntervalMs",
      /^Probe interval must be a whole number$/,
    ],
    ["interval as text", { probeIntervalMs: "1000" }, "probeIntervalMs", /^Probe interval must be a number$/],
    ["interval missing", { probeIntervalMs: undefined }, "probeIntervalMs", /^Probe interval is required$/],
    ["interval NaN", { probeIntervalMs: Number.NaN }, "probeIntervalMs", /^Probe interval must be a number$/],
    ["TCP timeout zero", { tcpTimeoutMs: 0 }, "tcpTimeoutMs", /^TCP timeout must be at least 1 ms$/],
    [
      "TCP timeout ≥ 10 intervals",
      { tcpTimeoutMs: 10_000 },
      "tcpTimeoutMs",
      /^TCP timeout must be less than 10 × the probe interval \(10000 ms\)$/,
    ],
    ["HTTP timeout negative", { httpTimeoutMs: -1 }, "httpTimeoutMs", /^HTTP timeout must be at least 1 ms$/],
    [
      "HTTP timeout ≥ 10 intervals",
      { probeIntervalMs: 200, httpTimeoutMs: 2000 },
      "httpTimeoutMs",
      /^HTTP timeout must be less than 10 × the probe interval \(2000 ms\)$/,
    ],
    [
      "latency zero",
      { latencyThresholdMs: 0 },
      "latencyThresholdMs",
      /^Latency threshold must be at least 1 ms$/,
    ],
    ["failures zero", { failuresToFail: 0 }, "failuresToFail", /^Failures to fail must be at least 1$/],
    ["failures 101", { failuresToFail: 101 }, "failuresToFail", /^Failures to fail must be at most 100$/],
    [
      "successes zero",
      { successesToRecover: 0 },
      "successesToRecover",
      /^Successes to recover must be at least 1$/,
    ],
    [
      "signals unknown",
      { signalsRequired: "gpu_only" },
      "signalsRequired",
      /^Signals required must be one of: any, tcp_and_http, all$/,
    ],
    [
      "temperature too low",
      { gpuTempAlertC: 29 },
      "gpuTempAlertC",
      /^GPU temperature alert must be at least 30 °C$/,
    ],
    [
      "temperature too high",
      { gpuTempAlertC: 121 },
      "gpuTempAlertC",
      /^GPU temperature alert must be at most 120 °C$/,
    ],
    [
      "memory pct 0",
      { gpuMemoryAlertPct: 0 },
      "gpuMemoryAlertPct",
      /^GPU memory alert must be at least 1 %$/,
    ],
    [
      "memory pct 101",
      { gpuMemoryAlertPct: 101 },
      "gpuMemoryAlertPct",
      /^GPU memory alert must be at most 100 %$/,
    ],
    [
      "saturation pct 101",
      { gpuUtilSaturationPct: 101 },
      "gpuUtilSaturationPct",
      /^GPU saturation threshold must be at most 100 %$/,
    ],
    [
      "saturation window 0",
      { gpuSaturationSustainS: 0 },
      "gpuSaturationSustainS",
      /^GPU saturation window must be at least 1 s$/,
    ],
    [
      "auto failover as text",
      { autoFailover: "yes" },
      "autoFailover",
      /^Automatic failover must be on or off/,
    ],
    ["cooldown negative", { cooldownS: -5 }, "cooldownS", /^Cooldown must be at least 0 s$/],
    [
      "freeze zero",
      { freezeAfterFailoversPerHour: 0 },
      "freezeAfterFailoversPerHour",
      /^Freeze after failovers per hour must be at least 1$/,
    ],
    [
      "verify deadline too short",
      { verifyDeadlineMs: 999 },
      "verifyDeadlineMs",
      /^Verify deadline must be at least 1000 ms$/,
    ],
    [
      "verify deadline too long",
      { verifyDeadlineMs: 600_001 },
      "verifyDeadlineMs",
      /^Verify deadline must be at most 600000 ms$/,
    ],
    ["preset blank", { preset: "  " }, "preset", /^Preset is required$/],
  ])("rejects %s with a message naming the field", (_name, patch, field, message) => {
    const result = policySchema.safeParse({ ...DEFAULT_POLICY, ...patch });
    expect(result.success).toBe(false);
    if (result.success) return;
    const issue = result.error.issues.find((i) => i.path[0] === field);
    expect(issue, JSON.stringify(result.error.issues)).toBeDefined();
    expect(issue?.message).toMatch(message);
  });

  it("accepts the bounds themselves", () => {
    const low: Policy = {
      ...DEFAULT_POLICY,
      probeIntervalMs: 100,
      tcpTimeoutMs: 999,
      httpTimeoutMs: 1,
      latencyThresholdMs: 1,
      failuresToFail: 1,
      successesToRecover: 1,
      gpuTempAlertC: 30,
      gpuMemoryAlertPct: 1,
      gpuUtilSaturationPct: 1,
      cooldownS: 0,
      freezeAfterFailoversPerHour: 1,
      verifyDeadlineMs: 1000,
    };
    const high: Policy = {
      ...DEFAULT_POLICY,
      probeIntervalMs: 600_000,
      failuresToFail: 100,
      successesToRecover: 100,
      gpuTempAlertC: 120,
      gpuMemoryAlertPct: 100,
      gpuUtilSaturationPct: 100,
      freezeAfterFailoversPerHour: 100,
      verifyDeadlineMs: 600_000,
    };
    expect(policySchema.safeParse(low).success).toBe(true);
    expect(policySchema.safeParse(high).success).toBe(true);
  });

  it("reports a bad interval once, without follow-on timeout errors", () => {
    const result = policySchema.safeParse({ ...DEFAULT_POLICY, probeIntervalMs: 10, tcpTimeoutMs: 5000 });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual(["probeIntervalMs"]);
  });
});

describe("describePolicy", () => {
  it("explains the default policy in plain words", () => {
    const lines = describePolicy(DEFAULT_POLICY);
    expect(lines).toContain(
      "A node is failed after 3 consecutive failed probes (about 3 s at a 1 s interval + up to 1 s timeout); " +
        "up to 2 failed probes in a row never fail it.",
    );
    expect(lines.some((l) => l.startsWith("GPU utilisation alone never fails a node"))).toBe(true);
    expect(lines.some((l) => l.startsWith("Losing GPU telemetry or SSH alone never fails a node"))).toBe(
      true,
    );
    expect(lines).toContain(
      "Automatic failover is on; after one, another waits 5 min; 2 failovers within an hour freeze the cluster " +
        "(no more automatic failovers until the hour has passed).",
    );
    expect(lines.join("\n")).toMatch(/GPU temperature above 85 °C, GPU memory above 95 % used/);
    expect(lines.join("\n")).toMatch(/verify within 10 s/);
  });

  it("spells out each signal mode and warns about the triple check", () => {
    expect(describePolicy(applyPreset("conservative")).join("\n")).toMatch(
      /hung process that still accepts connections is never failed/,
    );
    expect(describePolicy(applyPreset("triple_check")).join("\n")).toContain(TRIPLE_CHECK_WARNING);
    expect(describePolicy(applyPreset("triple_check")).join("\n")).toMatch(/above 98 % for 10 s/);
  });

  it("describes edge settings honestly", () => {
    const lines = describePolicy({
      ...DEFAULT_POLICY,
      failuresToFail: 1,
      successesToRecover: 1,
      latencyThresholdMs: 1000,
      autoFailover: false,
    }).join("\n");
    expect(lines).toMatch(/failed after 1 failed probe .*a single blip is enough/);
    expect(lines).toMatch(/healthy again after 1 successful probe/);
    expect(lines).toMatch(/slow answers only count when they time out/);
    expect(lines).toMatch(/Automatic failover is off/);
    expect(
      describePolicy({ ...DEFAULT_POLICY, cooldownS: 0, freezeAfterFailoversPerHour: 1 }).join("\n"),
    ).toMatch(/there is no cooldown between them; 1 failover within an hour freezes the cluster/);
  });

  it("worst-case detection time is failures × interval + the longest timeout", () => {
    expect(worstCaseDetectionMs(DEFAULT_POLICY)).toBe(4000);
    expect(worstCaseDetectionMs(applyPreset("conservative"))).toBe(7000);
  });
});
