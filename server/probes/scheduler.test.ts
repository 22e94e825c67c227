// ProbeScheduler with real sockets: plain net servers that answer, answer slowly, or hang.
// Runs are short (about 2 s) with a 200 ms interval so each node gets about ten probes.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeInputError, type ProbeResult } from "./probe-node";
import { ProbeScheduler, type ProbeTiming } from "./scheduler";

type TestServer = {
  port: number;
  /** Requests being answered right now (between request head and response), and the peak. */
  active: number;
  maxActive: number;
  requests: number;
  close(): Promise<void>;
};

/** Answers every request with 200 + JSON after `delayMs`; `hang: true` never answers. */
async function startServer(options: { delayMs?: number; hang?: boolean } = {}): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const body = '{"status":"healthy","role":"master","epoch":1}';
  const response = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const state = { active: 0, maxActive: 0, requests: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = "";
    socket.on("data", (chunk: Buffer) => {
      if (head.includes("\r\n\r\n")) return;
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      state.requests++;
      if (options.hang) return;
      state.active++;
      state.maxActive = Math.max(state.maxActive, state.active);
      const answer = () => {
        state.active--;
        socket.end(response);
      };
      if (!options.delayMs) return answer();
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, options.delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get active() {
      return state.active;
    },
    get maxActive() {
      return state.maxActive;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let ok: TestServer;
let slow: TestServer;
let hang: TestServer;

beforeAll(async () => {
  [ok, slow, hang] = await Promise.all([
    startServer(),
    startServer({ delayMs: 150 }),
    startServer({ hang: true }),
  ]);
});

afterAll(async () => {
  await Promise.all([ok?.close(), slow?.close(), hang?.close()]);
});

type Seen = { nodeId: string; result: ProbeResult; timing: ProbeTiming };

function collector() {
  const seen: Seen[] = [];
  return {
    seen,
    onResult: (nodeId: string, result: ProbeResult, timing: ProbeTiming) =>
      seen.push({ nodeId, result, timing }),
    of: (nodeId: string) => seen.filter((s) => s.nodeId === nodeId),
  };
}

const target = (server: TestServer, i = 0) => ({
  host: "127.0.0.1",
  port: server.port,
  healthPath: `/health?n=${i}`,
});
const SCHEDULE = { intervalMs: 200, tcpTimeoutMs: 500, httpTimeoutMs: 1_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("ProbeScheduler", () => {
  it("probes each of 50 nodes about every interval, each on its own phase, without drift", async () => {
    const c = collector();
    const scheduler = new ProbeScheduler({ onResult: c.onResult });
    for (let i = 0; i < 50; i++) scheduler.upsert(`n${i}`, target(ok, i), SCHEDULE);
    const started = scheduler.stats();
    expect(started).toMatchObject({ nodes: 50, inFlight: 0, probesTotal: 0 });
    const t0 = performance.timeOrigin + performance.now();
    scheduler.start();
    await sleep(2_050);
    await scheduler.stop();

    const firstOffsets: number[] = [];
    for (let i = 0; i < 50; i++) {
      const mine = c.of(`n${i}`);
      // 2,050 ms at 200 ms from a random phase: 10 or 11 probes; allow ±2 around 10.
      expect(mine.length, `n${i}`).toBeGreaterThanOrEqual(8);
      expect(mine.length, `n${i}`).toBeLessThanOrEqual(12);
      expect(mine.every((s) => s.result.tcpOk && s.result.httpOk)).toBe(true);
      const first = mine[0] as Seen;
      firstOffsets.push(first.timing.scheduledAt - t0);
      // Slots are phase + k·interval from the *scheduled* time; only the ±2 % (4 ms) jitter varies.
      mine.forEach((s, k) => {
        const offset = s.timing.scheduledAt - first.timing.scheduledAt - k * SCHEDULE.intervalMs;
        expect(Math.abs(offset), `n${i} probe ${k}`).toBeLessThanOrEqual(4.01);
      });
    }
    // First probes spread over the interval: not all in the same 20 ms, nowhere near.
    expect(Math.min(...firstOffsets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...firstOffsets)).toBeLessThan(SCHEDULE.intervalMs + 1);
    expect(Math.max(...firstOffsets) - Math.min(...firstOffsets)).toBeGreaterThan(100);
    expect(new Set(firstOffsets.map((o) => Math.floor(o / 20))).size).toBeGreaterThanOrEqual(5);
    // Per-cycle jitter is real (not every slot lands exactly on phase + k·interval).
    const jitters = c.seen.map((s) => Math.abs((s.timing.scheduledAt - t0) % SCHEDULE.intervalMs));
    expect(new Set(jitters.map((j) => Math.round(j))).size).toBeGreaterThan(50);
    expect(scheduler.stats()).toMatchObject({
      nodes: 50,
      inFlight: 0,
      queued: 0,
      probesTotal: c.seen.length,
    });
  });

  it("hanging nodes hold a slot only until their timeouts and never delay the healthy ones", async () => {
    const c = collector();
    // A small pool makes the point: 3 of 8 slots can be held by hung nodes at any moment.
    const scheduler = new ProbeScheduler({ onResult: c.onResult, concurrency: 8 });
    for (let i = 0; i < 50; i++) scheduler.upsert(`ok${i}`, target(ok, i), SCHEDULE);
    for (let i = 0; i < 3; i++) {
      scheduler.upsert(`hung${i}`, target(hang, i), { ...SCHEDULE, httpTimeoutMs: 500 });
    }
    scheduler.start();
    await sleep(2_050);
    const stats = scheduler.stats();
    await scheduler.stop();

    const healthy = c.seen.filter((s) => s.nodeId.startsWith("ok"));
    const lateness = healthy.map((s) => s.timing.latenessMs);
    expect(percentile(lateness, 0.99)).toBeLessThan(50);
    expect(stats.latenessP99Ms).toBeLessThan(50);
    for (let i = 0; i < 50; i++) expect(c.of(`ok${i}`).length).toBeGreaterThanOrEqual(8);
    for (let i = 0; i < 3; i++) {
      const hung = c.of(`hung${i}`);
      // Each hung probe takes 500 ms, so the 200 ms slots in between are skipped, not queued.
      expect(hung.length).toBeGreaterThanOrEqual(2);
      expect(hung.length).toBeLessThanOrEqual(4);
      for (const s of hung)
        expect(s.result).toMatchObject({ tcpOk: true, httpOk: false, error: "HTTP timed out after 500 ms" });
    }
    expect(stats.skipsTotal).toBeGreaterThanOrEqual(3 * 4);
    expect(stats.maxInFlight).toBeLessThanOrEqual(8);
  });

  it("never has more than `concurrency` probes in flight; the rest wait in FIFO order", async () => {
    const c = collector();
    const scheduler = new ProbeScheduler({ onResult: c.onResult, concurrency: 4 });
    for (let i = 0; i < 20; i++) scheduler.upsert(`s${i}`, target(slow, i), SCHEDULE);
    let maxQueued = 0;
    scheduler.start();
    const deadline = performance.now() + 1_500;
    while (performance.now() < deadline) {
      const s = scheduler.stats();
      expect(s.inFlight).toBeLessThanOrEqual(4);
      maxQueued = Math.max(maxQueued, s.queued);
      await sleep(10);
    }
    const stats = scheduler.stats();
    await scheduler.stop();

    // 20 nodes × 5 probes/s × 150 ms = 15 probe-seconds per second wanted, 4 available: saturated.
    expect(slow.maxActive).toBe(4);
    expect(stats.maxInFlight).toBe(4);
    expect(maxQueued).toBeGreaterThan(0);
    expect(stats.skipsTotal).toBeGreaterThan(0);
    // Queued probes started late, and in the order they were due.
    expect(Math.max(...c.seen.map((s) => s.timing.latenessMs))).toBeGreaterThan(100);
    const byStart = [...c.seen].sort(
      (a, b) => a.timing.startedAt - b.timing.startedAt || a.timing.scheduledAt - b.timing.scheduledAt,
    );
    for (let i = 1; i < byStart.length; i++) {
      expect((byStart[i] as Seen).timing.scheduledAt).toBeGreaterThanOrEqual(
        (byStart[i - 1] as Seen).timing.scheduledAt,
      );
    }
  });

  it("stop() aborts in-flight probes, delivers nothing afterwards and leaves no timer", async () => {
    await sleep(300); // let the slow server's timers from the previous test run out
    const timersBefore = activeTimers();
    const c = collector();
    const scheduler = new ProbeScheduler({ onResult: c.onResult });
    for (let i = 0; i < 10; i++)
      scheduler.upsert(`h${i}`, target(hang, i), { ...SCHEDULE, httpTimeoutMs: 5_000 });
    for (let i = 0; i < 10; i++) scheduler.upsert(`o${i}`, target(ok, i), SCHEDULE);
    scheduler.start();
    await sleep(400);
    expect(scheduler.stats().inFlight).toBeGreaterThanOrEqual(10);
    const stopping = performance.now();
    await scheduler.stop();
    expect(performance.now() - stopping).toBeLessThan(200);
    const delivered = c.seen.length;
    expect(scheduler.stats()).toMatchObject({ inFlight: 0, queued: 0 });
    expect(activeTimers()).toBe(timersBefore);
    await sleep(300);
    expect(c.seen.length).toBe(delivered);
    expect(c.seen.some((s) => s.nodeId.startsWith("h"))).toBe(false);
  });

  it("remove() stops a node at once; upsert() changes the interval from the next slot", async () => {
    const c = collector();
    const scheduler = new ProbeScheduler({ onResult: c.onResult });
    scheduler.upsert("gone", target(ok, 1), { ...SCHEDULE, intervalMs: 100 });
    scheduler.upsert("faster", target(ok, 2), { ...SCHEDULE, intervalMs: 1_000 });
    scheduler.start();
    await sleep(250);
    expect(scheduler.remove("gone")).toBe(true);
    expect(scheduler.remove("gone")).toBe(false);
    const goneCount = c.of("gone").length;
    expect(goneCount).toBeGreaterThanOrEqual(1);
    scheduler.upsert("faster", target(ok, 3), { ...SCHEDULE, intervalMs: 100 });
    await sleep(1_050);
    await scheduler.stop();
    expect(c.of("gone").length).toBe(goneCount);
    // At 1 s it would have had at most 2 probes by now; at 100 ms it has about ten.
    expect(c.of("faster").length).toBeGreaterThanOrEqual(7);
    expect(scheduler.stats().nodes).toBe(1);
  });

  it("validates upserts before changing anything", () => {
    const scheduler = new ProbeScheduler({ onResult: () => {} });
    expect(() =>
      scheduler.upsert("x", { host: "127.0.0.1", port: 80, healthPath: "/h\r\nX: 1" }, SCHEDULE),
    ).toThrow(ProbeInputError);
    expect(() => scheduler.upsert("x", target(ok), { ...SCHEDULE, intervalMs: 5 })).toThrow(/intervalMs/);
    expect(() => scheduler.upsert("x", target(ok), { ...SCHEDULE, httpTimeoutMs: -1 })).toThrow(
      ProbeInputError,
    );
    expect(scheduler.has("x")).toBe(false);
    expect(() => new ProbeScheduler({ onResult: () => {}, concurrency: 0 })).toThrow(RangeError);
  });

  it("keeps going when onResult throws", async () => {
    const errors: string[] = [];
    let calls = 0;
    const scheduler = new ProbeScheduler({
      onResult: () => {
        calls++;
        throw new Error("boom");
      },
      onError: (_err, nodeId) => errors.push(nodeId),
    });
    scheduler.upsert("a", target(ok), { ...SCHEDULE, intervalMs: 100 });
    scheduler.start();
    await sleep(450);
    await scheduler.stop();
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(errors.length).toBe(calls);
  });
});
