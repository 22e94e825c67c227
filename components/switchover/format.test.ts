// The switchover UI's wording and geometry: what the confirm button promises, and where bars go.
import { describe, expect, it } from "vitest";
import type { ClusterPreflight, StandbyPreflight } from "@/server/switchover/preflight";
import { describeMove, formatMs, layoutTimeline, moveLabel, stateTone } from "./format";

function standby(id: string, name: string): StandbyPreflight {
  return {
    id,
    name,
    priority: 10,
    state: "healthy",
    reportedRole: "standby",
    maintenance: false,
    lastSeenAt: null,
    lastProbe: null,
    telemetry: { status: "fresh", lastSampleAt: null, ageMs: 0, error: null, gpus: [] },
    checks: [],
    level: "ok",
    recommended: true,
  };
}

const PREFLIGHT: ClusterPreflight = {
  generatedAt: "2025-01-01T00:00:00.000Z",
  cluster: {
    id: "c",
    name: "gte-pro-search",
    mode: "active_standby",
    epoch: 7,
    maintenance: false,
    frozenUntil: null,
  },
  primary: { id: "a", name: "gte-a", state: "healthy", reportedRole: "master" },
  loadBalancer: { name: "lb", host: "127.0.0.1", endpointUrl: "http://127.0.0.1:18080/" },
  inFlight: null,
  checks: [],
  standbys: [standby("b", "gte-b"), standby("c2", "gte-c")],
  recommendedTargetId: "b",
  blockers: [],
};

describe("describeMove", () => {
  it("names the cluster, both nodes, the epochs and the steps", () => {
    expect(describeMove(PREFLIGHT, "b", false)).toBe(
      "Move gte-pro-search from gte-a to gte-b now (epoch 7 → 8): degrade gte-a, switch nginx, activate gte-b",
    );
    expect(describeMove(PREFLIGHT, "c2", false)).toContain("to gte-c now");
  });

  it("a drill goes there and back, two epochs", () => {
    expect(describeMove(PREFLIGHT, "b", true)).toBe(
      "Drill gte-pro-search: move from gte-a to gte-b and back (epoch 7 → 8 → 9): degrade gte-a, switch nginx, activate gte-b, then the same back",
    );
  });

  it("says when the primary is failed or there is no load balancer, and has nothing to say without a target", () => {
    const p = {
      ...PREFLIGHT,
      primary: {
        ...(PREFLIGHT.primary as NonNullable<ClusterPreflight["primary"]>),
        state: "failed" as const,
      },
      loadBalancer: null,
    };
    expect(describeMove(p, "b", false)).toBe(
      "Move gte-pro-search from gte-a to gte-b now (epoch 7 → 8): fence gte-a (failed), no traffic switch (no load balancer), activate gte-b",
    );
    expect(describeMove(PREFLIGHT, "zzz", false)).toBeNull();
    expect(describeMove({ ...PREFLIGHT, primary: null }, "b", false)).toBeNull();
  });
});

describe("formatMs", () => {
  it.each([
    [0, "0 ms"],
    [340, "340 ms"],
    [3421, "3.42 s"],
    [12_345, "12.3 s"],
    [125_000, "2 min 5 s"],
    [120_000, "2 min"],
    [7_500_000, "2 h 5 min"],
    [null, "—"],
    [Number.NaN, "—"],
  ])("%s → %s", (ms, text) => {
    expect(formatMs(ms)).toBe(text);
  });
});

describe("layoutTimeline", () => {
  const t0 = Date.parse("2025-01-01T00:00:00.000Z");
  const iso = (ms: number) => new Date(t0 + ms).toISOString();
  const sw = { requestedAt: iso(-100), startedAt: iso(0), finishedAt: iso(1000) };

  it("places bars by start and size by duration, relative to the switchover's start", () => {
    const { spanMs, bars } = layoutTimeline(
      sw,
      [
        { state: "succeeded", startedAt: iso(0), durationMs: 250, finishedAt: iso(250) },
        { state: "succeeded", startedAt: iso(500), durationMs: 500, finishedAt: iso(1000) },
        { state: "pending", startedAt: null, durationMs: null, finishedAt: null },
      ],
      t0 + 5000,
    );
    expect(spanMs).toBe(1000);
    expect(bars[0]).toEqual({ leftPct: 0, widthPct: 25, offsetMs: 0, elapsedMs: 250 });
    expect(bars[1]).toEqual({ leftPct: 50, widthPct: 50, offsetMs: 500, elapsedMs: 500 });
    expect(bars[2]).toEqual({ leftPct: 0, widthPct: 0, offsetMs: null, elapsedMs: null });
  });

  it("a running step grows with now, and a 2 ms step stays visible", () => {
    const running = { ...sw, finishedAt: null };
    const steps = [
      { state: "succeeded", startedAt: iso(0), durationMs: 2, finishedAt: iso(2) },
      { state: "running", startedAt: iso(1000), durationMs: null, finishedAt: null },
    ];
    const early = layoutTimeline(running, steps, t0 + 2000);
    const later = layoutTimeline(running, steps, t0 + 4000);
    expect(early.bars[1]?.elapsedMs).toBe(1000);
    expect(later.bars[1]?.elapsedMs).toBe(3000);
    expect(later.bars[1]?.widthPct).toBe(75);
    expect(early.bars[0]?.widthPct).toBeGreaterThan(0.5);
  });
});

describe("labels", () => {
  it("tones and moves", () => {
    expect(stateTone("completed")).toBe("ok");
    expect(stateTone("rolled_back")).toBe("warn");
    expect(stateTone("failed")).toBe("bad");
    expect(stateTone("fencing")).toBe("idle");
    expect(moveLabel({ kind: "manual", from: "a", to: "b" })).toBe("a → b");
    expect(moveLabel({ kind: "eject", from: "p1", to: "p1" })).toBe("p1");
  });
});
