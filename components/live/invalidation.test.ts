// Which cached queries a live event refreshes: the contract other pages rely on.
import { describe, expect, it } from "vitest";
import { ALL_LIVE_KEYS, invalidationKeys, parseLiveEvent } from "./invalidation";

const base = { id: 1, kind: "node.state", clusterId: null, nodeId: null, switchoverId: null };

describe("invalidationKeys", () => {
  it.each([
    ["a fleet-wide event", base, [["fleet", "overview"], ["events"]]],
    [
      "a node state change",
      { ...base, clusterId: "c1", nodeId: "n1" },
      [["fleet", "overview"], ["events"], ["cluster", "c1"]],
    ],
    [
      "switchover progress",
      { ...base, id: null, kind: "switchover.step", clusterId: "c1", switchoverId: "s1" },
      [["fleet", "overview"], ["events"], ["cluster", "c1"], ["switchover", "s1"], ["switchovers"]],
    ],
    [
      "a pool change requested without a switchover id yet",
      { ...base, kind: "switchover.requested", clusterId: "c1" },
      [["fleet", "overview"], ["events"], ["cluster", "c1"], ["switchovers"]],
    ],
  ])("%s", (_, event, keys) => {
    expect(invalidationKeys(event)).toEqual(keys);
  });

  it("a resync refreshes every live key by prefix", () => {
    expect(ALL_LIVE_KEYS).toEqual([
      ["fleet", "overview"],
      ["switchover"],
      ["switchovers"],
      ["cluster"],
      ["events"],
    ]);
  });
});

describe("parseLiveEvent", () => {
  it("keeps the ids it needs and rejects what is not an event", () => {
    expect(
      parseLiveEvent(JSON.stringify({ ...base, clusterId: "c1", message: "x", severity: "info", at: "t" })),
    ).toEqual({ ...base, clusterId: "c1" });
    expect(parseLiveEvent("not json")).toBeNull();
    expect(parseLiveEvent("null")).toBeNull();
    expect(parseLiveEvent(JSON.stringify({ id: 1 }))).toBeNull();
    expect(parseLiveEvent(JSON.stringify({ kind: "k", clusterId: 5 }))).toEqual({
      id: null,
      kind: "k",
      clusterId: null,
      nodeId: null,
      switchoverId: null,
    });
  });
});
