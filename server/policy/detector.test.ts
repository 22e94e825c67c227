import { describe, expect, it } from "vitest";
import {
  assessFleetBlip,
  describeProbeFailure,
  HTTP_FAILED,
  NodeDetector,
  probeSignals,
  TCP_FAILED,
  type Transition,
} from "./detector";
import { applyPreset, DEFAULT_POLICY, POLICY_PRESET_IDS, type Policy, worstCaseDetectionMs } from "./presets";
import { gpu, probe } from "./test-helpers";
import type { NodeState, ProbeObservation } from "./types";

type ProbeKind = "ok" | "refused" | "blackholed" | "hang" | "503" | "slow";

/** A probe started at `start`, stamped when its verdict is known. */
function probeAt(kind: ProbeKind, start: number, policy: Policy): ProbeObservation {
  switch (kind) {
    case "ok":
      return probe.ok(start + 21, 20);
    case "refused":
      return probe.refused(start + 1);
    case "blackholed":
      return probe.blackholed(start + policy.tcpTimeoutMs, policy.tcpTimeoutMs);
    case "hang":
      return probe.hang(start + policy.httpTimeoutMs, policy.httpTimeoutMs);
    case "503":
      return probe.status(start + 16, 503);
    case "slow":
      return probe.slow(start + 812, 812);
  }
}

/** Runs probes spaced by the policy interval; `kindAt(i)` picks the i-th probe's outcome. */
function runProbes(
  d: NodeDetector,
  policy: Policy,
  count: number,
  kindAt: (i: number) => ProbeKind,
  startAt = 0,
): { transitions: Transition[]; states: NodeState[] } {
  const transitions: Transition[] = [];
  const states: NodeState[] = [];
  for (let i = 0; i < count; i++) {
    const t = d.observeProbe(probeAt(kindAt(i), startAt + i * policy.probeIntervalMs, policy));
    if (t) transitions.push(t);
    states.push(d.state);
  }
  return { transitions, states };
}

const path = (ts: Transition[]) => ts.map((t) => `${t.from}→${t.to}`);

describe("NodeDetector: from unknown", () => {
  it.each<[ProbeKind, NodeState, string]>([
    ["ok", "healthy", "first probe succeeded"],
    ["refused", "suspect", "probe failed (1/3): TCP connect refused"],
    ["503", "suspect", "probe failed (1/3): HTTP 503"],
  ])("first probe %s → %s", (kind, state, reason) => {
    const d = new NodeDetector(DEFAULT_POLICY);
    expect(d.state).toBe("unknown");
    const t = d.observeProbe(probeAt(kind, 0, DEFAULT_POLICY));
    expect(t).toMatchObject({ from: "unknown", to: state, reason });
    expect(d.state).toBe(state);
    expect(d.stateSince).toBe(t?.at);
  });

  it("unknown → suspect → failed counts the first failure", () => {
    const d = new NodeDetector(DEFAULT_POLICY);
    const { transitions } = runProbes(d, DEFAULT_POLICY, 3, () => "refused");
    expect(path(transitions)).toEqual(["unknown→suspect", "suspect→failed"]);
  });
});

describe("NodeDetector: blips shorter than the window never fail a node", () => {
  const kinds: ProbeKind[] = ["refused", "blackholed", "hang", "503", "slow"];
  const cases = kinds.flatMap((kind) => [1, 2].map((len) => [kind, len] as const));
  it.each(cases)("%s × %i with failuresToFail 3", (kind, len) => {
    const d = new NodeDetector(DEFAULT_POLICY);
    const { transitions, states } = runProbes(d, DEFAULT_POLICY, 20, (i) =>
      i >= 5 && i < 5 + len ? kind : "ok",
    );
    expect(states).not.toContain("failed");
    expect(path(transitions)).toEqual(["unknown→healthy", "healthy→suspect", "suspect→healthy"]);
    expect(transitions[2]?.reason).toBe(`probe succeeded after ${len} failed probe${len === 1 ? "" : "s"}`);
    expect(d.state).toBe("healthy");
    expect(d.consecutiveFailures).toBe(0);
  });

  it("alternating failures never accumulate", () => {
    const d = new NodeDetector(DEFAULT_POLICY);
    const { states } = runProbes(d, DEFAULT_POLICY, 50, (i) => (i % 3 === 2 ? "ok" : "refused"));
    expect(states).not.toContain("failed");
  });
});

describe("NodeDetector: a crash fails the node at the Nth probe, within N × interval + timeout", () => {
  it.each<[string, Policy, ProbeKind, number]>([
    ["default, process crashed (TCP refused)", DEFAULT_POLICY, "refused", 3],
    ["default, host gone (TCP black-holed)", DEFAULT_POLICY, "blackholed", 3],
    ["conservative, process crashed", applyPreset("conservative"), "refused", 5],
    ["conservative, host gone", applyPreset("conservative"), "blackholed", 5],
    ["failuresToFail 1 skips suspect", { ...DEFAULT_POLICY, failuresToFail: 1 }, "refused", 1],
    ["slow interval", { ...DEFAULT_POLICY, probeIntervalMs: 5000, failuresToFail: 4 }, "blackholed", 4],
  ])("%s", (_name, policy, kind, n) => {
    const crashAt = 9 * policy.probeIntervalMs + 0.4 * policy.probeIntervalMs; // between two probes
    const firstBadProbe = 10;
    const d = new NodeDetector(policy);
    const failedAtProbe: number[] = [];
    let failedTransition: Transition | undefined;
    for (let i = 0; i < 30; i++) {
      const t = d.observeProbe(probeAt(i >= firstBadProbe ? kind : "ok", i * policy.probeIntervalMs, policy));
      if (t?.to === "failed") {
        failedAtProbe.push(i);
        failedTransition = t;
      }
    }
    expect(failedAtProbe).toEqual([firstBadProbe + n - 1]);
    expect(d.state).toBe("failed");
    expect(failedTransition?.at).toBeDefined();
    const detectionMs = (failedTransition?.at ?? Number.POSITIVE_INFINITY) - crashAt;
    expect(detectionMs).toBeLessThanOrEqual(worstCaseDetectionMs(policy));
    expect(failedTransition?.from).toBe(n === 1 ? "healthy" : "suspect");
    expect(failedTransition?.reason).toMatch(
      kind === "refused" ? /TCP connect refused$/ : /TCP connect timed out after \d+ (ms|s)$/,
    );
  });

  it("reads like an incident line", () => {
    const d = new NodeDetector(DEFAULT_POLICY);
    const { transitions } = runProbes(d, DEFAULT_POLICY, 4, (i) => (i === 0 ? "ok" : "refused"));
    expect(transitions.map((t) => t.reason)).toEqual([
      "first probe succeeded",
      "probe failed (1/3): TCP connect refused",
      "3 consecutive failed probes: TCP connect refused",
    ]);
  });
});

describe("NodeDetector: recovery needs successesToRecover successes", () => {
  it.each([1, 3, 5])("successesToRecover %i", (needed) => {
    const policy = { ...DEFAULT_POLICY, successesToRecover: needed };
    const d = new NodeDetector(policy);
    runProbes(d, policy, 4, () => "refused");
    expect(d.state).toBe("failed");
    const { transitions, states } = runProbes(d, policy, needed + 2, () => "ok", 10_000);
    if (needed === 1) {
      expect(path(transitions)).toEqual(["failed→healthy"]);
      expect(transitions[0]?.reason).toBe("probe succeeded");
    } else {
      expect(path(transitions)).toEqual(["failed→recovering", "recovering→healthy"]);
      expect(transitions[0]?.reason).toBe(`probe succeeded (1/${needed} to recover)`);
      expect(transitions[1]?.reason).toBe(`${needed} consecutive successful probes`);
      expect(states.slice(0, needed - 1).every((s) => s === "recovering")).toBe(true);
    }
    expect(states[needed - 1]).toBe("healthy");
  });

  it("a failure while recovering sends the node straight back to failed", () => {
    const d = new NodeDetector(DEFAULT_POLICY);
    runProbes(d, DEFAULT_POLICY, 3, () => "refused");
    const { transitions } = runProbes(d, DEFAULT_POLICY, 4, (i) => (i === 2 ? "503" : "ok"), 10_000);
    expect(path(transitions)).toEqual(["failed→recovering", "recovering→failed", "failed→recovering"]);
    expect(transitions[1]?.reason).toBe("probe failed while recovering: HTTP 503");
    expect(d.consecutiveSuccesses).toBe(1);
  });

  it("a failed node stays failed without transitions while probes keep failing", () => {
    const d = new NodeDetector(DEFAULT_POLICY);
    const { transitions } = runProbes(d, DEFAULT_POLICY, 100, () => "refused");
    expect(transitions).toHaveLength(2);
    expect(d.consecutiveFailures).toBe(100);
  });
});

describe("NodeDetector: which signals must agree", () => {
  it.each<[string, Policy, ProbeKind, NodeState, RegExp | null]>([
    ["hang fails under any", DEFAULT_POLICY, "hang", "failed", /HTTP timed out after 1 s$/],
    ["hang never fails under tcp_and_http", applyPreset("conservative"), "hang", "healthy", null],
    ["503 fails under any", DEFAULT_POLICY, "503", "failed", /HTTP 503$/],
    ["503 never fails under tcp_and_http", applyPreset("conservative"), "503", "healthy", null],
    [
      "slow health over threshold fails under any",
      DEFAULT_POLICY,
      "slow",
      "failed",
      /health latency 812 ms > 500 ms$/,
    ],
    ["slow health never fails under tcp_and_http", applyPreset("conservative"), "slow", "healthy", null],
    [
      "crash fails under tcp_and_http",
      applyPreset("conservative"),
      "refused",
      "failed",
      /TCP connect refused$/,
    ],
  ])("%s", (_name, policy, kind, finalState, reason) => {
    const d = new NodeDetector(policy);
    const { transitions } = runProbes(d, policy, 30, (i) => (i < 3 ? "ok" : kind));
    expect(d.state).toBe(finalState);
    if (reason) expect(transitions.at(-1)?.reason).toMatch(reason);
    else expect(path(transitions)).toEqual(["unknown→healthy"]);
  });

  it("slow health at exactly the threshold is not a failure", () => {
    const d = new NodeDetector(DEFAULT_POLICY);
    for (let i = 0; i < 10; i++) d.observeProbe(probe.slow(i * 1000, 500));
    expect(d.state).toBe("healthy");
  });

  it("under tcp_and_http the signals still explain themselves", () => {
    const d = new NodeDetector(applyPreset("conservative"));
    d.observeProbe(probe.hang(1000, 2000));
    expect(d.lastProbeFailed).toBe(false);
    expect(d.lastProbeFailure).toBe("HTTP timed out after 2 s");
  });
});

describe("NodeDetector: GPU utilisation alone never fails a node", () => {
  it.each(POLICY_PRESET_IDS)("preset %s: 100 %% utilisation for 2 minutes with healthy probes", (id) => {
    const policy = applyPreset(id);
    const d = new NodeDetector(policy);
    const transitions: Transition[] = [];
    for (let t = 0; t <= 120_000; t += 1000) {
      d.observeGpu(gpu.ok(t, 100, 84, 94));
      const tr = d.observeProbe(probe.ok(t + 20));
      if (tr) transitions.push(tr);
    }
    expect(path(transitions)).toEqual(["unknown→healthy"]);
    expect(d.gpuSaturatedFor(120_020)).toBeGreaterThanOrEqual(120_000);
  });
});

describe("NodeDetector: triple check (signalsRequired all)", () => {
  const policy = applyPreset("triple_check");

  it("does not fail a crashed node, because a crashed process leaves its GPU idle (documented behaviour)", () => {
    const d = new NodeDetector(policy);
    const transitions: Transition[] = [];
    for (let i = 0; i < 120; i++) {
      const t = i * 1000;
      d.observeGpu(gpu.ok(t, i < 10 ? 100 : 0)); // busy, then the process dies and the GPU goes idle
      const tr = d.observeProbe(i < 10 ? probe.ok(t + 20) : probe.refused(t + 1));
      if (tr) transitions.push(tr);
    }
    expect(path(transitions)).toEqual(["unknown→healthy"]);
    expect(d.state).toBe("healthy");
    // The signals are failing; the policy just does not count them. The UI can say so.
    expect(d.lastProbeFailed).toBe(false);
    expect(d.lastProbeFailure).toBe("TCP connect refused");
  });

  it("does fail the node when TCP, HTTP and > 98 % GPU for 10 s all agree", () => {
    const d = new NodeDetector(policy);
    const transitions: Transition[] = [];
    for (let i = 0; i < 40; i++) {
      const t = i * 1000;
      d.observeGpu(gpu.ok(t, 100)); // wedged kernel: GPU pinned, service unreachable
      const tr = d.observeProbe(i < 20 ? probe.ok(t + 20) : probe.blackholed(t + 500));
      if (tr) transitions.push(tr);
    }
    expect(path(transitions)).toEqual(["unknown→healthy", "healthy→suspect", "suspect→failed"]);
    expect(transitions[2]?.at).toBe(22_500);
    expect(transitions[2]?.reason).toBe(
      "3 consecutive failed probes: TCP connect timed out after 500 ms; GPU utilisation above 98 % for 22.5 s",
    );
  });

  it("only counts probes once the GPU has been saturated for the whole window", () => {
    const d = new NodeDetector(policy);
    const transitions: Transition[] = [];
    for (let i = 0; i < 40; i++) {
      const t = i * 1000;
      d.observeGpu(gpu.ok(t, i >= 15 ? 99 : 40)); // saturated from 15 s
      const tr = d.observeProbe(i < 10 ? probe.ok(t + 20) : probe.refused(t + 1));
      if (tr) transitions.push(tr);
    }
    // First counted failure at 25 s (saturated ≥ 10 s), third at 27 s.
    expect(path(transitions)).toEqual(["unknown→healthy", "healthy→suspect", "suspect→failed"]);
    expect(transitions[1]?.at).toBe(25_001);
    expect(transitions[2]?.at).toBe(27_001);
  });

  it("a saturation streak is broken by a dip, lost telemetry, or a gap in samples", () => {
    const cases: Array<[string, (t: number) => ReturnType<typeof gpu.ok> | null]> = [
      ["dip to 50 % at 5 s", (t) => gpu.ok(t, t === 5000 ? 50 : 100)],
      ["telemetry lost at 5 s", (t) => (t === 5000 ? gpu.lost(t) : gpu.ok(t, 100))],
      ["no samples 3–9 s", (t) => (t > 2000 && t < 9000 ? null : gpu.ok(t, 100))],
    ];
    for (const [name, sample] of cases) {
      const d = new NodeDetector(policy);
      for (let t = 0; t <= 12_000; t += 1000) {
        const s = sample(t);
        if (s) d.observeGpu(s);
      }
      expect(d.gpuSaturatedFor(12_000), name).toBeLessThan(10_000);
      expect(d.observeProbe(probe.refused(12_001))?.to, name).toBe("healthy");
    }
  });

  it("a stale saturation streak no longer holds", () => {
    const d = new NodeDetector(policy);
    for (let t = 0; t <= 20_000; t += 1000) d.observeGpu(gpu.ok(t, 100));
    expect(d.gpuSaturatedFor(20_000)).toBe(20_000);
    expect(d.gpuSaturatedFor(30_000)).toBe(0);
  });
});

describe("NodeDetector: lost GPU telemetry alone never fails a node", () => {
  it.each(POLICY_PRESET_IDS)("preset %s", (id) => {
    const policy = applyPreset(id);
    const d = new NodeDetector(policy);
    const transitions: Transition[] = [];
    for (let t = 0; t <= 60_000; t += 1000) {
      if (t >= 5000) d.observeGpu(gpu.lost(t, "ssh: connection reset"));
      else d.observeGpu(gpu.ok(t, 30));
      const tr = d.observeProbe(probe.ok(t + 20));
      if (tr) transitions.push(tr);
    }
    expect(path(transitions)).toEqual(["unknown→healthy"]);
    expect(d.gpuTelemetryLost).toBe(true);
    expect(d.gpuTelemetryLostSince).toBe(5000);
    expect(d.gpuTelemetryLostReason).toBe("ssh: connection reset");
    d.observeGpu(gpu.ok(61_000, 30));
    expect(d.gpuTelemetryLost).toBe(false);
    expect(d.gpuTelemetryLostSince).toBeNull();
  });
});

describe("NodeDetector: policy changes and restored state", () => {
  it("setPolicy applies from the next probe", () => {
    const d = new NodeDetector({ ...DEFAULT_POLICY, failuresToFail: 10 });
    runProbes(d, DEFAULT_POLICY, 4, () => "refused");
    expect(d.state).toBe("suspect");
    d.setPolicy({ ...DEFAULT_POLICY, failuresToFail: 3 });
    expect(d.state).toBe("suspect");
    expect(d.observeProbe(probe.refused(10_000))).toMatchObject({
      from: "suspect",
      to: "failed",
      reason: "5 consecutive failed probes: TCP connect refused",
    });
    expect(d.policy.failuresToFail).toBe(3);
  });

  it("switching to tcp_and_http stops counting hangs", () => {
    const d = new NodeDetector(DEFAULT_POLICY);
    runProbes(d, DEFAULT_POLICY, 2, (i) => (i === 0 ? "ok" : "hang"));
    expect(d.state).toBe("suspect");
    d.setPolicy(applyPreset("conservative"));
    expect(d.observeProbe(probe.hang(5000, 2000))?.to).toBe("healthy");
  });

  it("a detector restored as failed recovers normally", () => {
    const d = new NodeDetector(DEFAULT_POLICY, { state: "failed", since: 123 });
    expect(d.state).toBe("failed");
    expect(d.stateSince).toBe(123);
    expect(d.observeProbe(probe.refused(1000))).toBeNull();
    expect(d.observeProbe(probe.ok(2000))?.to).toBe("recovering");
  });

  it("a clock stepping backwards does not freeze the detector", () => {
    const d = new NodeDetector(DEFAULT_POLICY);
    d.observeProbe(probe.ok(1_000_000));
    runProbes(d, DEFAULT_POLICY, 3, () => "refused", 0);
    expect(d.state).toBe("failed");
  });
});

describe("probe classification", () => {
  it.each<[string, ProbeObservation, number, string | null]>([
    ["all good", probe.ok(0), 0, null],
    ["refused", probe.refused(0), TCP_FAILED | HTTP_FAILED, "TCP connect refused"],
    ["black-holed", probe.blackholed(0), TCP_FAILED | HTTP_FAILED, "TCP connect timed out after 500 ms"],
    ["hang", probe.hang(0), HTTP_FAILED, "HTTP timed out after 1 s"],
    ["503", probe.status(0, 503), HTTP_FAILED, "HTTP 503"],
    ["301 with httpOk true still fails", { ...probe.ok(0), httpStatus: 301 }, HTTP_FAILED, "HTTP 301"],
    ["slow", probe.slow(0, 812.4), HTTP_FAILED, "health latency 812 ms > 500 ms"],
    [
      "200 judged unhealthy by the prober",
      { ...probe.ok(0), httpOk: false, error: 'body: {"status":"degraded"}' },
      HTTP_FAILED,
      'health check failed (HTTP 200): body: {"status":"degraded"}',
    ],
    [
      "connection reset during /health",
      { ...probe.hang(0), httpMs: 30, error: "ECONNRESET" },
      HTTP_FAILED,
      "HTTP request failed: connection reset",
    ],
    [
      "unreachable host",
      { ...probe.refused(0), error: "connect EHOSTUNREACH 10.0.0.7:8000" },
      TCP_FAILED | HTTP_FAILED,
      "TCP connect failed: host unreachable",
    ],
    [
      "TCP failed but HTTP answered with a status",
      { ...probe.status(0, 502), tcpOk: false, error: null },
      TCP_FAILED | HTTP_FAILED,
      "TCP connect failed; HTTP 502",
    ],
    [
      "multi-line error text is squeezed",
      { ...probe.refused(0), error: `weird\n\n${"x".repeat(500)}` },
      TCP_FAILED | HTTP_FAILED,
      `TCP connect failed: weird ${"x".repeat(153)}…`,
    ],
  ])("%s", (_name, obs, bits, reason) => {
    expect(probeSignals(obs, DEFAULT_POLICY)).toBe(bits);
    expect(describeProbeFailure(obs, DEFAULT_POLICY)).toBe(reason);
  });
});

describe("assessFleetBlip", () => {
  it.each<[string, { total: number; failedThisTick: number; canaryOk: boolean }, false | string]>([
    ["quiet tick", { total: 1000, failedThisTick: 0, canaryOk: true }, false],
    ["one node down", { total: 1000, failedThisTick: 1, canaryOk: true }, false],
    ["exactly half of 4", { total: 4, failedThisTick: 2, canaryOk: true }, false],
    ["3 of 4", { total: 4, failedThisTick: 3, canaryOk: true }, "mass_failure"],
    ["501 of 1000", { total: 1000, failedThisTick: 501, canaryOk: true }, "mass_failure"],
    ["2 of 3: too small a fleet to tell", { total: 3, failedThisTick: 2, canaryOk: true }, false],
    ["1 of 1", { total: 1, failedThisTick: 1, canaryOk: true }, false],
    ["canary unreachable", { total: 10, failedThisTick: 1, canaryOk: false }, "canary_unreachable"],
    [
      "canary unreachable, empty fleet",
      { total: 0, failedThisTick: 0, canaryOk: false },
      "canary_unreachable",
    ],
  ])("%s", (_name, input, expected) => {
    const a = assessFleetBlip(input);
    if (expected === false) expect(a).toEqual({ hold: false });
    else {
      expect(a).toMatchObject({ hold: true, reason: expected });
      expect(a.hold && a.message).toMatch(/holding failover decisions/);
    }
  });
});
