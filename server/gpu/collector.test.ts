import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { type FleetHandle, type FleetNodeSpec, startFleet } from "@/sim/fleet";
import type { SimNode } from "@/sim/node";
import { findFreePort, startTestFleet, type TestFleet } from "@/sim/testing";
import {
  backoffDelayMs,
  type CollectorEvents,
  GPU_INVENTORY_COMMAND,
  GpuCollector,
  type GpuCollectorNode,
  type GpuCollectorOptions,
  GpuTickAssembler,
  gpuStreamCommand,
  type TelemetryLossReason,
  toGpuObservation,
} from "./collector";
import { GPU_QUERY_FIELDS, type GpuSample, parseGpuLine } from "./parse-nvidia-smi";

// ---------------------------------------------------------------------------------------------
// Helpers

type Recorder = {
  events: CollectorEvents;
  batches: Array<{ id: string; samples: GpuSample[]; at: number }>;
  lost: Array<{ id: string; reason: TelemetryLossReason; at: number }>;
  restored: Array<{ id: string; at: number }>;
  mismatches: Array<{ id: string; expected: string; actual: string; at: number }>;
  batchesFor(id: string): Array<{ samples: GpuSample[]; at: number }>;
  lostFor(id: string): Array<{ reason: TelemetryLossReason; at: number }>;
};

function recorder(): Recorder {
  const r: Recorder = {
    batches: [],
    lost: [],
    restored: [],
    mismatches: [],
    events: {
      onSamples: (id, samples, at) => r.batches.push({ id, samples, at }),
      onTelemetryLost: (id, reason, at) => r.lost.push({ id, reason, at }),
      onTelemetryRestored: (id, at) => r.restored.push({ id, at }),
      onHostKeyMismatch: (id, expected, actual, at) => r.mismatches.push({ id, expected, actual, at }),
    },
    batchesFor: (id) => r.batches.filter((b) => b.id === id),
    lostFor: (id) => r.lost.filter((l) => l.id === id),
  };
  return r;
}

async function waitFor(
  what: string | (() => string),
  cond: () => boolean,
  timeoutMs: number,
  stepMs = 20,
): Promise<number> {
  const started = performance.now();
  while (!cond()) {
    if (performance.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms: ${typeof what === "function" ? what() : what}`);
    await sleep(stepMs);
  }
  return performance.now() - started;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "?";
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const INTERVAL_MS = 200;
const collectors: GpuCollector[] = [];

function makeCollector(events: CollectorEvents, options: Partial<GpuCollectorOptions> = {}): GpuCollector {
  const c = new GpuCollector({
    events,
    sampleIntervalMs: INTERVAL_MS,
    readyTimeoutMs: 5_000,
    keepaliveIntervalMs: 5_000,
    backoff: { initialMs: 200, maxMs: 1_000 },
    ...options,
  });
  collectors.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(collectors.splice(0).map((c) => c.stop()));
});

function nodeSpec(n: SimNode, privateKey: string, over: Partial<GpuCollectorNode> = {}): GpuCollectorNode {
  return {
    id: n.name,
    name: n.name,
    host: n.host,
    port: n.sshPort,
    username: "switchyard",
    privateKey: Buffer.from(privateKey),
    hostKeyFingerprint: n.hostKeyFingerprint,
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------
// Pure parts

const LINE = (ts: string, index: number, util: number, temp: number, used: number) =>
  `${ts}, ${index}, GPU-0000000${index}-0000-0000-0000-000000000000, ${util}, 5, ${used}, 81559, ${temp}, 200.00, 700.00, 1980, P0, 0`;

function sample(line: string): GpuSample {
  const r = parseGpuLine(line, GPU_QUERY_FIELDS);
  if (!r.ok) throw new Error(r.error.message);
  return r.sample;
}

describe("GpuTickAssembler", () => {
  const T1 = "2026/11/24 19:36:43.728";
  const T2 = "2026/11/24 19:36:44.729";
  const T3 = "2026/11/24 19:36:45.731";

  it("groups one line per GPU by timestamp and learns the GPU count from the first tick", () => {
    const a = new GpuTickAssembler();
    const out: GpuSample[][] = [];
    for (const [i, line] of [
      LINE(T1, 0, 10, 40, 100),
      LINE(T1, 1, 20, 41, 200),
      LINE(T1, 2, 30, 42, 300),
    ].entries()) {
      a.push(sample(line), i, out);
    }
    // Count unknown: the tick stays open until the next timestamp shows up.
    expect(out).toHaveLength(0);
    expect(a.pending).toBe(3);
    a.push(sample(LINE(T2, 0, 11, 40, 100)), 10, out);
    expect(out).toHaveLength(1);
    expect(out[0]?.map((s) => s.index)).toEqual([0, 1, 2]);
    expect(out[0]?.every((s) => s.timestamp?.getTime() === Date.UTC(2026, 10, 24, 19, 36, 43, 728))).toBe(
      true,
    );
    expect(a.expected).toBe(3);
    out.length = 0;
    // Now the count is known: the tick is delivered as soon as its last GPU arrives.
    a.push(sample(LINE(T2, 1, 21, 41, 200)), 11, out);
    expect(out).toHaveLength(0);
    a.push(sample(LINE(T2, 2, 31, 42, 300)), 12, out);
    expect(out).toHaveLength(1);
    expect(out[0]?.map((s) => s.utilizationGpuPct)).toEqual([11, 21, 31]);
    expect(a.pending).toBe(0);
  });

  it("closes a tick on a repeated GPU index and on flush", () => {
    const a = new GpuTickAssembler();
    const out: GpuSample[][] = [];
    a.push(sample(LINE(T1, 0, 1, 40, 1)), 0, out);
    expect(a.flush()?.map((s) => s.utilizationGpuPct)).toEqual([1]);
    expect(a.flush()).toBeNull();
    // A timer flush does not teach the count: the next line of the same tick is still expected.
    expect(a.expected).toBe(0);
    // Same timestamp, same GPU: a new tick, and the finished one had exactly one GPU.
    a.push(sample(LINE(T1, 0, 2, 40, 1)), 1, out);
    expect(a.expected).toBe(1);
    expect(out).toHaveLength(1);
    a.push(sample(LINE(T1, 0, 3, 40, 1)), 2, out);
    expect(out.map((t) => t.map((s) => s.utilizationGpuPct))).toEqual([[2], [3]]);
  });

  it("starts from the inventory count and follows GPUs that stop or start reporting", () => {
    const b = new GpuTickAssembler();
    b.setExpected(2);
    const out: GpuSample[][] = [];
    const T4 = "2026/11/24 19:36:46.733";
    const T5 = "2026/11/24 19:36:47.735";
    b.push(sample(LINE(T1, 0, 5, 40, 1)), 0, out);
    expect(out).toHaveLength(0);
    b.push(sample(LINE(T1, 1, 6, 40, 1)), 0, out);
    expect(out.map((t) => t.length)).toEqual([2]);
    // GPU 1 stops reporting: the short tick is closed by the next timestamp, and the count shrinks.
    b.push(sample(LINE(T2, 0, 7, 40, 1)), 0, out);
    b.push(sample(LINE(T3, 0, 8, 40, 1)), 0, out);
    expect(out.map((t) => t.length)).toEqual([2, 1, 1]);
    expect(b.expected).toBe(1);
    // It comes back: one tick arrives in two parts, then the count has grown and ticks are whole.
    b.push(sample(LINE(T4, 0, 9, 40, 1)), 0, out);
    b.push(sample(LINE(T4, 1, 10, 40, 1)), 0, out);
    expect(b.expected).toBe(2);
    b.push(sample(LINE(T5, 0, 11, 40, 1)), 0, out);
    b.push(sample(LINE(T5, 1, 12, 40, 1)), 0, out);
    expect(out.map((t) => t.map((s) => s.utilizationGpuPct))).toEqual([
      [5, 6],
      [7],
      [8],
      [9],
      [10],
      [11, 12],
    ]);
    expect(b.pending).toBe(0);
  });
});

describe("toGpuObservation", () => {
  it("takes the worst GPU of a node: max utilisation, temperature and memory used %", () => {
    const T = "2026/11/24 19:36:43.728";
    const s0 = sample(LINE(T, 0, 100, 60, 8_000)); // busy but cool, 9.8 % memory
    const s1 = sample(LINE(T, 1, 3, 88, 78_000)); // idle but hot, 95.6 % memory
    const obs = toGpuObservation([s0, s1], 1234);
    expect(obs.ok).toBe(true);
    if (!obs.ok) return;
    expect(obs.at).toBe(1234);
    expect(obs.utilizationPct).toBe(100);
    expect(obs.temperatureC).toBe(88);
    expect(obs.memoryUsedPct).toBeCloseTo((78_000 / 81_559) * 100, 6);
  });

  it("skips missing values and reports no samples as not ok", () => {
    const s = sample(
      "2026/11/24 19:36:43.728, 0, GPU-x, [N/A], [N/A], [N/A], [N/A], 41, [N/A], [N/A], [N/A], P0, [N/A]",
    );
    const obs = toGpuObservation([s], 1);
    expect(obs).toEqual({ at: 1, ok: true, utilizationPct: null, temperatureC: 41, memoryUsedPct: null });
    expect(toGpuObservation([], 2)).toEqual({ at: 2, ok: false, reason: "no GPU samples" });
  });
});

describe("commands and backoff", () => {
  it("builds the streaming command from constants and a validated integer only", () => {
    expect(gpuStreamCommand(1000)).toBe(
      `nvidia-smi --query-gpu=${GPU_QUERY_FIELDS.join(",")} --format=csv,noheader,nounits -lms 1000`,
    );
    expect(GPU_INVENTORY_COMMAND).toMatch(/^nvidia-smi --query-gpu=[a-z_.,]+ --format=csv,noheader,nounits$/);
    for (const bad of [1.5, -1, 0, Number.NaN, 10, "1000; rm -rf /" as unknown as number]) {
      expect(() => gpuStreamCommand(bad)).toThrow(/sampleIntervalMs/);
    }
  });

  it("uses full jitter, doubling up to the cap", () => {
    const b = { initialMs: 1_000, maxMs: 60_000 };
    expect(backoffDelayMs(0, b, () => 0)).toBe(0);
    expect(backoffDelayMs(0, b, () => 0.999_999)).toBe(999);
    expect(backoffDelayMs(3, b, () => 0.5)).toBe(4_000);
    expect(backoffDelayMs(10, b, () => 0.999_999)).toBe(59_999);
    expect(backoffDelayMs(500, b, () => 0.5)).toBe(30_000);
  });

  it("refuses bad node input without keeping anything", () => {
    const c = makeCollector(recorder().events);
    const ok = {
      id: "n1",
      name: "n1",
      host: "127.0.0.2",
      port: 22,
      username: "switchyard",
      privateKey: Buffer.from("k"),
      hostKeyFingerprint: null,
    };
    expect(() => c.upsert({ ...ok, port: 70_000 })).toThrow(/port/);
    expect(() => c.upsert({ ...ok, hostKeyFingerprint: "md5:aa:bb" })).toThrow(/SHA256/);
    expect(() => c.upsert({ ...ok, id: "" })).toThrow(/id/);
    expect(c.status("n1")).toBeNull();
    expect(c.stats().nodes).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Against the simulator

describe("GpuCollector against a simulated fleet", () => {
  let t: TestFleet;
  let nodes: SimNode[];
  const key = () => t.clientPrivateKey;

  beforeAll(async () => {
    t = await startTestFleet(
      Array.from({ length: 6 }, (_, i) => ({
        name: `gpu-${i + 1}`,
        host: `127.0.0.${31 + i}`,
        cluster: `collector-${Math.floor(i / 2) + 1}`,
        role: i % 2 === 0 ? ("master" as const) : ("standby" as const),
      })),
    );
    nodes = [...t.fleet.nodes];
  });

  afterAll(async () => {
    await t?.stop();
  });

  const node = (i: number) => nodes[i] as SimNode;

  it("streams one tick per interval per node with the idle GPU's values", async () => {
    const r = recorder();
    const c = makeCollector(r.events);
    for (const n of nodes.slice(0, 3)) c.upsert(nodeSpec(n, key()));
    expect(c.status("gpu-1")?.state).toBe("stopped");
    c.start();
    await waitFor(
      "6 ticks from each of 3 nodes",
      () => nodes.slice(0, 3).every((n) => r.batchesFor(n.name).length >= 6),
      8_000,
    );

    for (const n of nodes.slice(0, 3)) {
      const batches = r.batchesFor(n.name);
      const gaps = batches.slice(1).map((b, i) => b.at - (batches[i]?.at ?? 0));
      expect(median(gaps)).toBeGreaterThan(INTERVAL_MS * 0.6);
      expect(median(gaps)).toBeLessThan(INTERVAL_MS * 1.8);
      for (const b of batches) expect(b.samples).toHaveLength(1);
      const s = batches.at(-1)?.samples[0] as GpuSample;
      expect(s.index).toBe(0);
      expect(s.uuid).toMatch(/^GPU-[0-9a-f-]{36}$/);
      expect(s.memoryTotalMib).toBe(81_559);
      expect(s.powerLimitW).toBe(700);
      expect(s.pstate).toBe("P0");
      expect(s.eccUncorrected).toBe(0);
      expect(s.temperatureC).toBeGreaterThanOrEqual(40);
      expect(s.temperatureC).toBeLessThanOrEqual(60);
      expect(s.timestamp).toBeInstanceOf(Date);
      // From the once-per-connection inventory query.
      expect(s.name).toBe("NVIDIA H100 80GB HBM3");
      expect(s.driverVersion).toBe("580.159.04");
      const st = c.status(n.name);
      expect(st?.state).toBe("streaming");
      expect(st?.lastSampleAt).toBe(batches.at(-1)?.at);
      expect(st?.lastError).toBeNull();
    }
    // The standby idles (model loaded, no traffic); the master serves with some utilisation.
    const standby = r.batchesFor("gpu-2").at(-1)?.samples[0] as GpuSample;
    expect(standby.utilizationGpuPct).toBe(0);
    expect(standby.memoryUsedMib).toBe(31_744);
    const master = r.batchesFor("gpu-1").at(-1)?.samples[0] as GpuSample;
    expect(master.utilizationGpuPct).toBeGreaterThanOrEqual(20);
    expect(master.utilizationGpuPct).toBeLessThanOrEqual(40);
    const obs = toGpuObservation(standby ? [standby] : [], 1);
    expect(obs.ok && obs.memoryUsedPct).toBeCloseTo((31_744 / 81_559) * 100, 6);

    expect(r.lost).toEqual([]);
    expect(r.restored).toEqual([]);
    const stats = c.stats();
    expect(stats).toMatchObject({
      nodes: 3,
      connectionsOpen: 3,
      streamsOpen: 3,
      streaming: 3,
      telemetryLost: 0,
    });
    expect(stats.samplesTotal).toBeGreaterThanOrEqual(18);
    expect(stats.linesUnparsable).toBe(0);
  });

  it("shows gpu_saturated as 100 % utilisation within about a second", async () => {
    const r = recorder();
    const c = makeCollector(r.events);
    const n = node(1);
    c.upsert(nodeSpec(n, key()));
    c.start();
    await waitFor("first tick", () => r.batches.length > 0, 5_000);
    try {
      const applied = performance.now();
      await n.applyFault("gpu_saturated");
      const seen = await waitFor(
        "a tick at 100 %",
        () => r.batches.some((b) => b.samples[0]?.utilizationGpuPct === 100),
        2_000,
      );
      expect(performance.now() - applied).toBeLessThan(1_200);
      expect(seen).toBeLessThan(1_200);
      const busy = r.batches.find((b) => b.samples[0]?.utilizationGpuPct === 100)?.samples[0];
      expect(busy?.memoryUsedMib).toBe(78_112);
      // Busy is not broken: telemetry keeps flowing, nothing is reported lost.
      expect(r.lost).toEqual([]);
    } finally {
      await n.applyFault("recover");
    }
  });

  it("reports gpu_lost as driver_unreachable once, restarts only the channel, and restores after recover", async () => {
    const r = recorder();
    const c = makeCollector(r.events);
    const n = node(2);
    const other = node(3);
    c.upsert(nodeSpec(n, key()));
    c.upsert(nodeSpec(other, key()));
    c.start();
    await waitFor("both streaming", () => c.stats().streaming === 2, 5_000);
    const connectionsBefore = n.sshStats.connections;
    try {
      const applied = performance.now();
      await n.applyFault("gpu_lost");
      await waitFor("telemetry lost", () => r.lostFor(n.name).length > 0, 2_000);
      expect(performance.now() - applied).toBeLessThan(1_200);
      const lost = r.lostFor(n.name)[0];
      expect(lost?.reason.code).toBe("driver_unreachable");
      expect(lost?.reason.message).toMatch(/driver/);
      expect(c.status(n.name)?.lastError?.code).toBe("driver_unreachable");
      // Keep the driver down through several retries: still reported only once.
      await waitFor("a few retries", () => (c.status(n.name)?.reconnects ?? 0) >= 3, 6_000);
      expect(r.lostFor(n.name)).toHaveLength(1);
      expect(["backoff", "connecting"]).toContain(c.status(n.name)?.state);
    } finally {
      await n.applyFault("recover");
    }
    const batchesAtRecover = r.batchesFor(n.name).length;
    await waitFor("telemetry restored", () => r.restored.some((x) => x.id === n.name), 4_000);
    await waitFor("ticks again", () => r.batchesFor(n.name).length >= batchesAtRecover + 3, 3_000);
    expect(r.restored.filter((x) => x.id === n.name)).toHaveLength(1);
    expect(c.status(n.name)?.state).toBe("streaming");
    // The SSH connection survived the driver failure: only the channel was restarted.
    expect(n.sshStats.connections).toBe(connectionsBefore);
    // The healthy neighbour never noticed.
    expect(r.lostFor(other.name)).toEqual([]);
  });

  it("reports a wrong pinned fingerprint once and never connects again until re-pinned", async () => {
    const r = recorder();
    const c = makeCollector(r.events);
    const n = node(3);
    const wrong = node(4).hostKeyFingerprint;
    const before = { ...n.sshStats };
    c.upsert(nodeSpec(n, key(), { hostKeyFingerprint: wrong }));
    c.start();
    await waitFor("mismatch", () => r.mismatches.length > 0, 5_000);
    await sleep(2_000);
    expect(r.mismatches).toEqual([
      { id: n.name, expected: wrong, actual: n.hostKeyFingerprint, at: expect.any(Number) },
    ]);
    expect(r.lostFor(n.name).map((l) => l.reason.code)).toEqual(["host_key_mismatch"]);
    expect(c.status(n.name)?.state).toBe("host_key_mismatch");
    // Exactly one TCP connection reached the node, and it never authenticated or ran anything.
    expect(n.sshStats.connections - before.connections).toBe(1);
    expect(n.sshStats.authenticated).toBe(before.authenticated);
    expect(n.sshStats.commands).toBe(before.commands);

    // An update that keeps the same (wrong) pin does not re-enable it...
    c.upsert(nodeSpec(n, key(), { hostKeyFingerprint: wrong, name: "renamed" }));
    await sleep(500);
    expect(n.sshStats.connections - before.connections).toBe(1);
    expect(c.status(n.name)?.state).toBe("host_key_mismatch");
    // ...an operator pinning the right key does.
    c.upsert(nodeSpec(n, key()));
    await waitFor("restored after re-pin", () => r.restored.length === 1, 5_000);
    expect(c.status(n.name)?.state).toBe("streaming");
    expect(r.mismatches).toHaveLength(1);
  });

  it("never connects to a node whose host key is not pinned", async () => {
    const r = recorder();
    const c = makeCollector(r.events);
    const n = node(4);
    const before = n.sshStats.connections;
    c.upsert(nodeSpec(n, key(), { hostKeyFingerprint: null }));
    c.start();
    expect(c.status(n.name)?.state).toBe("not_pinned");
    expect(r.lost).toEqual([
      {
        id: n.name,
        reason: { code: "host_key_not_pinned", message: expect.stringMatching(/not pinned/) },
        at: expect.any(Number),
      },
    ]);
    await sleep(1_000);
    expect(n.sshStats.connections).toBe(before);
    expect(c.stats()).toMatchObject({ connectionsOpen: 0, handshakesInFlight: 0, handshakesPeak: 0 });
  });

  it("reports a refused client key as ssh_auth_failed and keeps retrying with backoff", async () => {
    const r = recorder();
    const c = makeCollector(r.events);
    const n = node(5);
    c.upsert(nodeSpec(n, generateEd25519KeyPair().privateKey));
    c.start();
    await waitFor("lost", () => r.lost.length > 0, 5_000);
    expect(r.lost[0]?.reason.code).toBe("ssh_auth_failed");
    expect(r.lost[0]?.reason.message).not.toMatch(/PRIVATE KEY/);
    await sleep(1_000);
    expect(r.lost).toHaveLength(1);
    expect(c.status(n.name)?.reconnects).toBeGreaterThanOrEqual(1);
  });

  it("reports a silent stream as stale once, restarts its channel and restores", async () => {
    const r = recorder();
    const c = makeCollector(r.events, { staleAfterMs: 800 });
    const n = node(0);
    c.upsert(nodeSpec(n, key()));
    c.start();
    await waitFor("streaming", () => c.status(n.name)?.state === "streaming", 5_000);
    await waitFor("inventory done", () => n.runningCommandPids().length === 1, 3_000);
    const connectionsBefore = n.sshStats.connections;
    // Freeze the remote nvidia-smi (a hung driver call looks exactly like this).
    const [pgid] = n.runningCommandPids();
    process.kill(-(pgid as number), "SIGSTOP");
    const frozen = performance.now();
    await waitFor("stale", () => r.lost.length > 0, 3_000);
    expect(performance.now() - frozen).toBeGreaterThan(600);
    expect(performance.now() - frozen).toBeLessThan(1_800);
    expect(r.lost[0]?.reason.code).toBe("stale");
    await waitFor("restored", () => r.restored.length > 0, 5_000);
    // The stream had been talking, so the connection is fine: only the channel is replaced.
    expect(n.sshStats.connections).toBe(connectionsBefore);
    expect(r.lost).toHaveLength(1);
    await waitFor("old stream killed", () => !n.runningCommandPids().includes(pgid as number), 3_000);
  });

  it("does not declare the fleet stale because the controller itself stalled", async () => {
    const r = recorder();
    const c = makeCollector(r.events, { staleAfterMs: 800 });
    for (const n of nodes.slice(0, 3)) c.upsert(nodeSpec(n, key()));
    c.start();
    await waitFor("streaming", () => c.stats().streaming === 3, 5_000);
    const ticks = r.batches.length;
    // Block this process (a long GC pause, a starved CPU) for longer than staleAfterMs. The nodes
    // keep printing meanwhile; their lines are only read after the stall.
    const until = performance.now() + 1_500;
    while (performance.now() < until) {
      // busy
    }
    await sleep(1_500);
    expect(r.lost).toEqual([]);
    expect(r.batches.length).toBeGreaterThan(ticks + 3);
    expect(c.stats().streaming).toBe(3);
  });

  it("keeps at most maxConcurrentHandshakes handshakes in flight", async () => {
    const r = recorder();
    const c = makeCollector(r.events, { maxConcurrentHandshakes: 2 });
    for (const n of nodes) c.upsert(nodeSpec(n, key()));
    c.start();
    expect(c.stats()).toMatchObject({ handshakesInFlight: 2, handshakesQueued: 4 });
    let maxSeen = 0;
    await waitFor(
      "all 6 streaming",
      () => {
        maxSeen = Math.max(maxSeen, c.stats().handshakesInFlight);
        return c.stats().streaming === 6;
      },
      8_000,
      2,
    );
    expect(maxSeen).toBeLessThanOrEqual(2);
    expect(c.stats().handshakesPeak).toBe(2);
    expect(r.lost).toEqual([]);
  });

  it("stop() closes every channel and connection and leaves no remote process or handle behind", async () => {
    // Earlier tests' collectors were stopped in afterEach; under a loaded CI box their remote
    // commands can take a few seconds to be reaped. Wait generously, and name what is left.
    const leftovers = () =>
      nodes.flatMap((n) => n.runningCommandPids().map((pid) => `${n.name}:${pid}:${cmdline(pid)}`));
    await waitFor(
      () => `fleet idle (still running: ${leftovers().join(", ")})`,
      () => leftovers().length === 0,
      15_000,
    );
    const handles = () => {
      const info = process.getActiveResourcesInfo();
      return {
        sockets: info.filter((x) => x === "TCPSocketWrap").length,
        timers: info.filter((x) => x === "Timeout").length,
      };
    };
    const baseline = handles();
    const r = recorder();
    const c = makeCollector(r.events);
    for (const n of nodes) c.upsert(nodeSpec(n, key()));
    c.start();
    await waitFor("all streaming", () => c.stats().streaming === 6, 8_000);
    expect(nodes.every((n) => n.runningCommandPids().length >= 1)).toBe(true);
    expect(handles().sockets).toBeGreaterThanOrEqual(baseline.sockets + 6);

    await c.stop();
    const batchesAtStop = r.batches.length;
    expect(c.stats()).toMatchObject({
      connectionsOpen: 0,
      streamsOpen: 0,
      handshakesInFlight: 0,
      streaming: 0,
    });
    for (const n of nodes) expect(c.status(n.name)?.state).toBe("stopped");
    await waitFor(
      "no remote nvidia-smi",
      () => nodes.every((n) => n.runningCommandPids().length === 0),
      3_000,
    );
    await waitFor(
      "handles back to baseline",
      () => handles().sockets <= baseline.sockets && handles().timers <= baseline.timers,
      3_000,
    );
    await sleep(3 * INTERVAL_MS);
    expect(r.batches.length).toBe(batchesAtStop);
    expect(r.lost).toEqual([]);
  });
});

describe("GpuCollector when the fleet goes away", () => {
  let dataDir: string;
  let fleet: FleetHandle | null = null;
  const specs: FleetNodeSpec[] = [
    { name: "down-1", host: "127.0.0.41", cluster: "down", role: "master" },
    { name: "down-2", host: "127.0.0.42", cluster: "down", role: "standby" },
  ];
  const client = generateEd25519KeyPair("collector-test");
  let ports: { http: number; ssh: number };

  const launch = async () =>
    await startFleet({
      nodes: specs,
      dataDir,
      httpPort: ports.http,
      sshPort: ports.ssh,
      authorizedKeys: client.publicKey,
      controlPort: null,
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-collector-"));
    const hosts = specs.map((s) => s.host);
    const http = await findFreePort(hosts);
    let ssh = await findFreePort(hosts);
    while (ssh === http) ssh = await findFreePort(hosts);
    ports = { http, ssh };
    fleet = await launch();
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("loses telemetry when SSH goes down, backs off, restores on restart, and stops at a changed host key", async () => {
    const r = recorder();
    const c = makeCollector(r.events, { backoff: { initialMs: 250, maxMs: 1_000 } });
    const first = fleet as FleetHandle;
    for (const n of first.nodes) c.upsert(nodeSpec(n, client.privateKey));
    c.start();
    await waitFor("both streaming", () => c.stats().streaming === 2, 5_000);

    await first.stop();
    fleet = null;
    await waitFor("both lost", () => r.lost.length === 2, 3_000);
    for (const l of r.lost) expect(["ssh_unreachable", "stream_ended"]).toContain(l.reason.code);

    // Down for 3 s: retries continue, jittered, but only a few per second.
    const before = specs.map((s) => c.status(s.name)?.reconnects ?? 0);
    await sleep(3_000);
    const retries = specs.map((s, i) => (c.status(s.name)?.reconnects ?? 0) - (before[i] ?? 0));
    for (const n of retries) {
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(12);
    }
    expect(r.lost).toHaveLength(2);
    for (const s of specs) expect(c.status(s.name)?.lastError?.code).toBe("ssh_unreachable");

    // down-2 is "reinstalled": a new host key. down-1 comes back unchanged, on the same ports.
    await rm(path.join(dataDir, "hostkeys", "down-2"), { force: true });
    await rm(path.join(dataDir, "hostkeys", "down-2.pub"), { force: true });
    const second = await launch();
    fleet = second;
    const reinstalled = second.getNode("down-2");
    expect(reinstalled.hostKeyFingerprint).not.toBe(first.getNode("down-2").hostKeyFingerprint);

    await waitFor("down-1 restored", () => r.restored.some((x) => x.id === "down-1"), 5_000);
    await waitFor("down-2 mismatch", () => r.mismatches.length > 0, 5_000);
    await sleep(2_000);
    expect(r.mismatches).toEqual([
      {
        id: "down-2",
        expected: first.getNode("down-2").hostKeyFingerprint,
        actual: reinstalled.hostKeyFingerprint,
        at: expect.any(Number),
      },
    ]);
    expect(reinstalled.sshStats).toEqual({ connections: 1, authenticated: 0, commands: 0 });
    expect(c.status("down-2")).toMatchObject({
      state: "host_key_mismatch",
      lastError: { code: "host_key_mismatch" },
    });
    // Already reported lost when SSH went down: not reported again.
    expect(r.lostFor("down-2")).toHaveLength(1);
    expect(c.status("down-1")?.state).toBe("streaming");

    // The operator re-trusts the new key.
    c.upsert(nodeSpec(reinstalled, client.privateKey));
    await waitFor("down-2 restored", () => r.restored.some((x) => x.id === "down-2"), 5_000);
    expect(c.status("down-2")?.state).toBe("streaming");
  });
});
