import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findDoubleMasterIntervals, RoleLog, type RoleLogEntry } from "./role-log";

const entry = (node: string, to: RoleLogEntry["to"], atMs: number): RoleLogEntry => ({
  node,
  cluster: "c",
  from: null,
  to,
  epoch: 1,
  atMs,
  reason: "test",
});

describe("findDoubleMasterIntervals", () => {
  it("finds nothing in a clean switchover (degrade before activate)", () => {
    const log = [
      entry("a", "master", 0),
      entry("b", "standby", 0),
      entry("a", "standby", 10),
      entry("b", "master", 11),
    ];
    expect(findDoubleMasterIntervals(log, ["a", "b"])).toEqual([]);
  });

  it("finds an overlap when activate comes before degrade, with its bounds", () => {
    const log = [entry("a", "master", 0), entry("b", "master", 10.25), entry("a", "standby", 12.5)];
    expect(findDoubleMasterIntervals(log, ["a", "b"])).toEqual([
      { startMs: 10.25, endMs: 12.5, nodes: ["a", "b"] },
    ]);
  });

  it("sorts by time, treats equal timestamps as simultaneous and leaves an ongoing overlap open", () => {
    const log = [
      entry("b", "master", 5),
      entry("a", "standby", 5),
      entry("a", "master", 0),
      entry("a", "master", 9),
    ];
    expect(findDoubleMasterIntervals(log, ["a", "b"])).toEqual([
      { startMs: 9, endMs: null, nodes: ["a", "b"] },
    ]);
  });

  it("does not count a crashed (down) master, and ignores nodes outside the cluster", () => {
    const log = [
      entry("a", "master", 0),
      entry("a", "down", 5),
      entry("b", "master", 6),
      entry("x", "master", 7),
      entry("a", "master", 20),
      entry("a", "standby", 21),
    ];
    expect(findDoubleMasterIntervals(log, ["a", "b"])).toEqual([
      { startMs: 20, endMs: 21, nodes: ["a", "b"] },
    ]);
  });
});

describe("RoleLog", () => {
  it("appends to memory and to a JSONL file with sub-millisecond timestamps", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-rolelog-"));
    try {
      const log = new RoleLog(path.join(dir, "role-log.jsonl"));
      log.append({ node: "a", cluster: "c", from: null, to: "master", epoch: 1, reason: "start" });
      log.append({ node: "a", cluster: "c", from: "master", to: "standby", epoch: 2, reason: "degrade" });
      await log.close();
      const lines = (await readFile(path.join(dir, "role-log.jsonl"), "utf8")).trim().split("\n");
      expect(lines.map((l) => JSON.parse(l))).toEqual(log.entries);
      const [first, second] = log.entries;
      expect(second?.atMs).toBeGreaterThan(first?.atMs ?? Number.POSITIVE_INFINITY);
      expect(Math.abs((first?.atMs ?? 0) - Date.now())).toBeLessThan(5_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
