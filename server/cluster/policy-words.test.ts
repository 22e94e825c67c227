import { describe, expect, it } from "vitest";
import { applyPreset, DEFAULT_POLICY, TRIPLE_CHECK_WARNING } from "@/server/policy/presets";
import { summarizePolicy } from "./policy-words";

describe("summarizePolicy", () => {
  it("puts the default policy in four sentences", () => {
    const s = summarizePolicy(DEFAULT_POLICY);
    expect(s.sentences).toEqual([
      "Probes every 1 s (TCP 500 ms, HTTP 1 s).",
      "A node fails after 3 consecutive failures of any signal (TCP or HTTP) and recovers after 3 successes. A /health answer slower than 500 ms counts as a failure.",
      "Automatic failover: on, 5 min cooldown, frozen after 2 in an hour.",
      "Verify deadline 10 s.",
    ]);
    expect(s).toMatchObject({
      presetLabel: "Default",
      warning: null,
      worstCaseDetection: "4 s",
      isDefault: false,
    });
  });

  it("says when no policy row exists and the defaults apply", () => {
    const s = summarizePolicy(null);
    expect(s.isDefault).toBe(true);
    expect(s.sentences).toEqual(summarizePolicy(DEFAULT_POLICY).sentences);
  });

  it("carries the triple check's warning, and the conservative blind spot", () => {
    const triple = summarizePolicy(applyPreset("triple_check"));
    expect(triple.warning).toBe(TRIPLE_CHECK_WARNING);
    expect(triple.sentences[1]).toContain("of TCP, HTTP and GPU saturation together");
    const conservative = summarizePolicy(applyPreset("conservative"));
    expect(conservative.warning).toMatch(/hung process/);
    expect(conservative.sentences[1]).toBe(
      "A node fails after 5 consecutive failures of both TCP and HTTP together and recovers after 5 successes. A /health answer slower than 1 s counts as a failure.",
    );
  });

  it("words the edges: one probe, failover off, no cooldown, an unknown preset", () => {
    const s = summarizePolicy({
      ...DEFAULT_POLICY,
      preset: "custom-2025",
      failuresToFail: 1,
      successesToRecover: 1,
      latencyThresholdMs: 2000,
      autoFailover: false,
      verifyDeadlineMs: 90_000,
    });
    expect(s.sentences[1]).toBe(
      "A node fails after 1 failure of any signal (TCP or HTTP) and recovers after 1 success.",
    );
    expect(s.sentences[2]).toMatch(/^Automatic failover: off/);
    expect(s.sentences[3]).toBe("Verify deadline 1 min 30 s.");
    expect(s.presetLabel).toBe("custom-2025");
    expect(summarizePolicy({ ...DEFAULT_POLICY, cooldownS: 0 }).sentences[2]).toBe(
      "Automatic failover: on, no cooldown, frozen after 2 in an hour.",
    );
  });
});
