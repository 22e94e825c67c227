import { describe, expect, it } from "vitest";
import {
  type AlertKind,
  type AutoFailoverGuardInput,
  autoFailoverGuard,
  failoverRateAlert,
  HOUR_MS,
  NodeAlertState,
} from "./alerts";
import { DEFAULT_POLICY, type Policy } from "./presets";
import { gpu, probe } from "./test-helpers";

const kinds = (s: NodeAlertState, now: number): AlertKind[] => s.evaluate(now).map((a) => a.kind);

describe("NodeAlertState: GPU temperature and memory (latest sample)", () => {
  it.each<[string, number | null, number | null, Array<[AlertKind, "warning" | "critical", string]>]>([
    ["normal", 70, 60, []],
    ["temperature at the threshold", 85, 60, []],
    ["temperature above", 86, 60, [["gpu_temperature", "warning", "GPU temperature 86 °C > 85 °C"]]],
    ["temperature 10 °C above", 95, 60, [["gpu_temperature", "critical", "GPU temperature 95 °C > 85 °C"]]],
    ["memory at the threshold", 60, 95, []],
    ["memory above", 60, 97.25, [["gpu_memory", "warning", "GPU memory 97.3 % used > 95 %"]]],
    [
      "both",
      90,
      99,
      [
        ["gpu_temperature", "warning", "GPU temperature 90 °C > 85 °C"],
        ["gpu_memory", "warning", "GPU memory 99 % used > 95 %"],
      ],
    ],
    ["fields not reported", null, null, []],
  ])("%s", (_name, temp, mem, expected) => {
    const s = new NodeAlertState(DEFAULT_POLICY);
    s.observeGpu(gpu.ok(1000, 50, temp, mem));
    expect(s.evaluate(1000).map((a) => [a.kind, a.severity, a.message])).toEqual(expected);
  });

  it("follows the latest sample: cooling down resolves the alert", () => {
    const s = new NodeAlertState(DEFAULT_POLICY);
    s.observeGpu(gpu.ok(1000, 50, 91));
    expect(kinds(s, 1000)).toEqual(["gpu_temperature"]);
    s.observeGpu(gpu.ok(2000, 50, 80));
    expect(kinds(s, 2000)).toEqual([]);
  });

  it("uses the policy's thresholds, including after setPolicy", () => {
    const s = new NodeAlertState({ ...DEFAULT_POLICY, gpuTempAlertC: 75 });
    s.observeGpu(gpu.ok(1000, 50, 80));
    expect(kinds(s, 1000)).toEqual(["gpu_temperature"]);
    s.setPolicy(DEFAULT_POLICY);
    expect(kinds(s, 1000)).toEqual([]);
  });
});

describe("NodeAlertState: GPU saturation is an alert when sustained, never a failure", () => {
  const feed = (s: NodeAlertState, from: number, to: number, util: (t: number) => number, step = 1000) => {
    for (let t = from; t <= to; t += step) s.observeGpu(gpu.ok(t, util(t)));
  };

  it.each<[string, (s: NodeAlertState) => void, number, boolean]>([
    ["100 % for 10 s", (s) => feed(s, 0, 10_000, () => 100), 10_000, true],
    ["99 % for 30 s", (s) => feed(s, 0, 30_000, () => 99), 30_000, true],
    ["100 % for 9 s", (s) => feed(s, 0, 9000, () => 100), 9000, false],
    ["exactly 98 % (not above) for 30 s", (s) => feed(s, 0, 30_000, () => 98), 30_000, false],
    ["100 % with a dip at 5 s", (s) => feed(s, 0, 12_000, (t) => (t === 5000 ? 60 : 100)), 12_000, false],
    ["100 % but samples stopped 6 s ago", (s) => feed(s, 0, 20_000, () => 100), 26_001, false],
    ["100 % across a 6 s hole in samples", (s) => feed(s, 0, 18_000, () => 100, 6000), 18_000, false],
    [
      "100 % interrupted by lost telemetry",
      (s) => {
        feed(s, 0, 5000, () => 100);
        s.observeGpu(gpu.lost(6000));
        feed(s, 7000, 12_000, () => 100);
      },
      12_000,
      false,
    ],
  ])("%s → firing %s", (_name, setup, now, firing) => {
    const s = new NodeAlertState(DEFAULT_POLICY);
    setup(s);
    const alert = s.evaluate(now).find((a) => a.kind === "gpu_saturation");
    expect(Boolean(alert)).toBe(firing);
    if (alert) {
      expect(alert.severity).toBe("warning");
      expect(alert.message).toMatch(
        /^GPU utilisation above 98 % for \d+(\.\d)? s: saturated.*\(not a failure\)$/,
      );
    }
  });
});

describe("NodeAlertState: health latency sustained for 60 s", () => {
  const run = (
    s: NodeAlertState,
    from: number,
    to: number,
    ms: (t: number) => number | "timeout" | "down",
  ) => {
    for (let t = from; t <= to; t += 1000) {
      const m = ms(t);
      s.observeProbe(m === "timeout" ? probe.hang(t) : m === "down" ? probe.refused(t) : probe.slow(t, m));
    }
  };

  it.each<[string, (s: NodeAlertState) => void, number, string | null]>([
    [
      "812 ms for 60 s",
      (s) => run(s, 0, 60_000, () => 812),
      60_000,
      "/health slower than 500 ms for 1 min (last 812 ms)",
    ],
    ["812 ms for 59 s", (s) => run(s, 0, 59_000, () => 812), 59_000, null],
    ["fast", (s) => run(s, 0, 120_000, () => 30), 120_000, null],
    [
      "one fast probe at 30 s resets the clock",
      (s) => run(s, 0, 80_000, (t) => (t === 30_000 ? 30 : 812)),
      80_000,
      null,
    ],
    [
      "timeouts count as slow",
      (s) => run(s, 0, 90_000, (t) => (t % 2000 === 0 ? "timeout" : 700)),
      90_000,
      "/health slower than 500 ms for 1 min 30 s (last probe timed out)",
    ],
    ["TCP down is not slow", (s) => run(s, 0, 90_000, (t) => (t === 45_000 ? "down" : 812)), 90_000, null],
    ["probes stopped arriving", (s) => run(s, 0, 60_000, () => 812), 120_000, null],
  ])("%s", (_name, setup, now, message) => {
    const s = new NodeAlertState(DEFAULT_POLICY);
    setup(s);
    const alert = s.evaluate(now).find((a) => a.kind === "health_latency");
    expect(alert?.message ?? null).toBe(message);
    if (alert) expect(alert.severity).toBe("warning");
  });
});

describe("NodeAlertState: GPU telemetry lost", () => {
  it("fires while the latest GPU observation is a loss, and says since when", () => {
    const s = new NodeAlertState(DEFAULT_POLICY);
    s.observeGpu(gpu.ok(0, 50, 91));
    s.observeGpu(
      gpu.lost(1000, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."),
    );
    s.observeGpu(
      gpu.lost(2000, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."),
    );
    const alerts = s.evaluate(31_000);
    // The stale temperature reading no longer fires; only the loss does.
    expect(alerts).toEqual([
      {
        kind: "gpu_telemetry_lost",
        severity: "warning",
        message:
          "GPU telemetry lost for 30 s: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA " +
          "driver. (not a failure by itself)",
      },
    ]);
    s.observeGpu(gpu.ok(32_000, 10));
    expect(s.evaluate(32_000)).toEqual([]);
  });

  it("bounds the node's text to one line", () => {
    const s = new NodeAlertState(DEFAULT_POLICY);
    s.observeGpu(gpu.lost(0, `line one\nline two ${"z".repeat(1000)}`));
    const message = s.evaluate(0)[0]?.message ?? "";
    expect(message).not.toContain("\n");
    expect(message.length).toBeLessThan(250);
  });

  it("never fires before any telemetry", () => {
    expect(new NodeAlertState(DEFAULT_POLICY).evaluate(0)).toEqual([]);
  });
});

describe("failoverRateAlert", () => {
  const now = 10 * HOUR_MS;
  it.each<[string, number[], Partial<Policy>, { count: number; until: number } | null]>([
    ["none", [], {}, null],
    ["one in the hour (limit 2)", [now - 60_000], {}, null],
    ["two in the hour", [now - 50 * 60_000, now - 10 * 60_000], {}, { count: 2, until: now + 10 * 60_000 }],
    ["two, one older than an hour", [now - HOUR_MS, now - 10 * 60_000], {}, null],
    [
      "three in the hour, unsorted",
      [now - 5 * 60_000, now - 40 * 60_000, now - 20 * 60_000],
      {},
      { count: 3, until: now + 40 * 60_000 },
    ],
    ["limit 1", [now - 59 * 60_000], { freezeAfterFailoversPerHour: 1 }, { count: 1, until: now + 60_000 }],
  ])("%s", (_name, times, patch, expected) => {
    const alert = failoverRateAlert(times, now, { ...DEFAULT_POLICY, ...patch });
    if (expected === null) expect(alert).toBeNull();
    else {
      expect(alert).toMatchObject({ kind: "failover_rate", severity: "critical", ...expected });
      expect(alert?.message).toMatch(new RegExp(`^${expected.count} failovers? in the last hour`));
    }
  });
});

describe("autoFailoverGuard", () => {
  const now = 5 * HOUR_MS;
  const base: AutoFailoverGuardInput = {
    now,
    lastAutoFailoverAt: null,
    failoverTimesMs: [],
    policy: DEFAULT_POLICY,
    maintenance: false,
    inFlight: false,
    standbyHealthy: true,
  };

  it.each<[string, Partial<AutoFailoverGuardInput>, string | null, number | undefined, RegExp]>([
    ["allowed", {}, null, undefined, /./],
    ["disabled", { policy: { ...DEFAULT_POLICY, autoFailover: false } }, "disabled", undefined, /off/],
    ["maintenance", { maintenance: true }, "maintenance", undefined, /maintenance/],
    ["in flight", { inFlight: true }, "in_flight", undefined, /already in flight/],
    [
      "no healthy standby",
      { standbyHealthy: false },
      "no_healthy_standby",
      undefined,
      /nothing to fail over to/,
    ],
    [
      "cooldown",
      { lastAutoFailoverAt: now - 120_000, failoverTimesMs: [now - 120_000] },
      "cooldown",
      now + 180_000,
      /ran 2 min ago; the next may start in 3 min \(cooldown 5 min\)/,
    ],
    [
      "cooldown over",
      { lastAutoFailoverAt: now - 300_000, failoverTimesMs: [now - 300_000] },
      null,
      undefined,
      /./,
    ],
    [
      "no cooldown configured",
      { lastAutoFailoverAt: now - 1000, policy: { ...DEFAULT_POLICY, cooldownS: 0 } },
      null,
      undefined,
      /./,
    ],
    [
      "frozen by the failover rate",
      { lastAutoFailoverAt: now - 30 * 60_000, failoverTimesMs: [now - 45 * 60_000, now - 30 * 60_000] },
      "frozen",
      now + 15 * 60_000,
      /frozen for 15 min: 2 failovers in the last hour \(limit 2\)/,
    ],
    [
      "frozen by an admin",
      { frozenUntil: now + 10 * 60_000 },
      "frozen",
      now + 10 * 60_000,
      /frozen for 10 min: the cluster was frozen/,
    ],
    ["an admin freeze in the past", { frozenUntil: now - 1 }, null, undefined, /./],
  ])("%s", (_name, patch, reason, until, message) => {
    const d = autoFailoverGuard({ ...base, ...patch });
    if (reason === null) {
      expect(d).toEqual({ allowed: true });
      return;
    }
    expect(d).toMatchObject({ allowed: false, reason });
    if (d.allowed) return;
    expect(d.until).toBe(until);
    expect(d.message).toMatch(message);
  });

  it("checks in a fixed order: disabled, maintenance, in flight, no standby, frozen, cooldown", () => {
    const everything: AutoFailoverGuardInput = {
      ...base,
      policy: { ...DEFAULT_POLICY, autoFailover: false },
      maintenance: true,
      inFlight: true,
      standbyHealthy: false,
      lastAutoFailoverAt: now - 1000,
      failoverTimesMs: [now - 2000, now - 1000],
    };
    const order: string[] = [];
    let input = everything;
    const relax: Array<(i: AutoFailoverGuardInput) => AutoFailoverGuardInput> = [
      (i) => ({ ...i, policy: DEFAULT_POLICY }),
      (i) => ({ ...i, maintenance: false }),
      (i) => ({ ...i, inFlight: false }),
      (i) => ({ ...i, standbyHealthy: true }),
      (i) => ({ ...i, failoverTimesMs: [now - 1000] }),
      (i) => ({ ...i, lastAutoFailoverAt: null }),
    ];
    for (const step of relax) {
      const d = autoFailoverGuard(input);
      order.push(d.allowed ? "allowed" : d.reason);
      input = step(input);
    }
    order.push(autoFailoverGuard(input).allowed ? "allowed" : "blocked");
    expect(order).toEqual([
      "disabled",
      "maintenance",
      "in_flight",
      "no_healthy_standby",
      "frozen",
      "cooldown",
      "allowed",
    ]);
  });

  it("a freeze and an admin freeze together last until the later one", () => {
    const d = autoFailoverGuard({
      ...base,
      failoverTimesMs: [now - 50 * 60_000, now - 40 * 60_000],
      frozenUntil: now + 30 * 60_000,
    });
    expect(d).toMatchObject({ allowed: false, reason: "frozen", until: now + 30 * 60_000 });
  });
});
