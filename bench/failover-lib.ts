/**
 * Helpers for bench/failover.ts: the open-loop HTTP client (a worker thread, so its schedule does
 * not wait on the main thread's controller, simulator and SSH work), the store of per-request
 * records, and the pure analysis of those records (windows, failures, the end of a disruption).
 *
 * Clock: every time here is epoch milliseconds with sub-millisecond precision,
 * `performance.timeOrigin + performance.now()`, in the worker as in the main thread (the same clock
 * the simulator's role log uses), so request times, fault times and database timestamps compare.
 */
import { Worker } from "node:worker_threads";
import { quantile, sortedAscending } from "./lib";

export const nowMs = () => performance.timeOrigin + performance.now();

/** Why a request has no HTTP status. */
export const REASON = { response: 0, timeout: 1, error: 2, cap: 3 } as const;

export type ClientOptions = {
  /** The cluster endpoint through nginx, e.g. http://127.0.0.1:40123 */
  url: string;
  rateRps: number;
  timeoutMs: number;
  maxInFlight: number;
  /** Node names in the order `node` indexes refer to; anything else is index `nodeNames.length`. */
  nodeNames: string[];
};

/** Fields per record in the batches the worker posts. */
const FIELDS = 6;

/**
 * The client itself, plain JavaScript for `new Worker(..., { eval: true })` (tsx does not load
 * TypeScript into worker threads). Open loop: request i is due at start + i / rate and is sent at
 * that time whatever happened to earlier ones; only the in-flight cap can stop a send, and such a
 * request is recorded as failed (reason cap), never delayed. Each request opens its own connection
 * (agent: false, Connection: close): a keep-alive client would also measure its own race with
 * nginx closing idle connections on reload, which robust clients retry and this one would not.
 * Records (scheduled, sent, ended, status, node index, reason) are posted every 100 ms.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const { url, rateRps, timeoutMs, maxInFlight, nodeNames } = workerData;
const now = () => performance.timeOrigin + performance.now();
const target = new URL(url);
const interval = 1000 / rateRps;
const FIELDS = ${FIELDS};
let out = new Float64Array(FIELDS * 4096);
let used = 0;
let inFlight = 0;
let stopped = false;
let i = 0;
const start = now() + 20;
let next = start;

function push(sched, sent, end, status, node, reason) {
  if (used + FIELDS > out.length) {
    const bigger = new Float64Array(out.length * 2);
    bigger.set(out.subarray(0, used));
    out = bigger;
  }
  out[used++] = sched; out[used++] = sent; out[used++] = end;
  out[used++] = status; out[used++] = node; out[used++] = reason;
}

function flush() {
  if (used === 0) return;
  const batch = out.slice(0, used);
  used = 0;
  parentPort.postMessage({ type: "records", data: batch }, [batch.buffer]);
}

function nodeIndex(name) {
  const k = nodeNames.indexOf(name);
  return k === -1 ? nodeNames.length : k;
}

function send(sched, seq) {
  const sent = now();
  if (inFlight >= maxInFlight) { push(sched, sent, sent, 0, -1, 3); return; }
  inFlight++;
  let done = false;
  const finish = (status, node, reason) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    inFlight--;
    push(sched, sent, now(), status, node, reason);
  };
  const req = http.request({
    host: target.hostname,
    port: target.port,
    path: "/api/v1/search?q=bench-" + (seq % 997) + "&k=3",
    agent: false,
    headers: { connection: "close" },
  }, (res) => {
    const chunks = [];
    res.on("data", (c) => chunks.push(c));
    res.on("end", () => {
      let node = -1;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (body && typeof body.node === "string") node = nodeIndex(body.node);
      } catch {}
      finish(res.statusCode || 0, node, 0);
    });
    res.on("error", () => finish(0, -1, 2));
  });
  const timer = setTimeout(() => { finish(0, -1, 1); req.destroy(); }, timeoutMs);
  req.on("error", () => finish(0, -1, 2));
  req.end();
}

function tick() {
  if (stopped) return;
  const t = now();
  // Bounded catch-up: if the thread was starved, send what is due now (a burst), never skip.
  for (let n = 0; next <= t && n < 10000; n++) {
    send(next, i);
    i++;
    next = start + i * interval;
  }
  setTimeout(tick, Math.max(0, next - now()));
}

const flusher = setInterval(flush, 100);
parentPort.on("message", (m) => {
  if (m && m.type === "stop") {
    stopped = true;
    const deadline = now() + timeoutMs + 1000;
    const wait = () => {
      if (inFlight > 0 && now() < deadline) { setTimeout(wait, 20); return; }
      clearInterval(flusher);
      flush();
      parentPort.postMessage({ type: "stopped", sent: i, inFlight });
    };
    wait();
  }
});
parentPort.postMessage({ type: "ready", start });
setTimeout(tick, Math.max(0, start - now()));
`;

/** Per-request records, appended in completion order (columns, to keep 300k requests cheap). */
export class RecordStore {
  sched: number[] = [];
  sent: number[] = [];
  end: number[] = [];
  status: number[] = [];
  node: number[] = [];
  reason: number[] = [];

  get length(): number {
    return this.sched.length;
  }

  push(batch: Float64Array): void {
    for (let k = 0; k + FIELDS <= batch.length; k += FIELDS) {
      this.sched.push(batch[k] as number);
      this.sent.push(batch[k + 1] as number);
      this.end.push(batch[k + 2] as number);
      this.status.push(batch[k + 3] as number);
      this.node.push(batch[k + 4] as number);
      this.reason.push(batch[k + 5] as number);
    }
  }

  /**
   * Requests scheduled in [from, to) among the last `lookback` records received: how many, how
   * many succeeded (HTTP 200) and how many of those `node` answered. For live steadiness checks.
   */
  recent(from: number, to: number, node: number, lookback = 5000): { n: number; ok: number; byNode: number } {
    let n = 0;
    let ok = 0;
    let byNode = 0;
    for (let k = this.sched.length - 1; k >= 0 && k >= this.sched.length - lookback; k--) {
      const s = this.sched[k] as number;
      if (s < from || s >= to) continue;
      n++;
      if (this.status[k] === 200) {
        ok++;
        if (this.node[k] === node) byNode++;
      }
    }
    return { n, ok, byNode };
  }

  /** The records sorted by scheduled time, for analysis once the client has stopped. */
  sorted(): SortedRecords {
    const idx = Array.from({ length: this.length }, (_, k) => k).sort(
      (a, b) => (this.sched[a] as number) - (this.sched[b] as number),
    );
    const pick = (col: number[]) => Float64Array.from(idx, (k) => col[k] as number);
    return new SortedRecords(
      pick(this.sched),
      pick(this.sent),
      pick(this.end),
      pick(this.status),
      pick(this.node),
      pick(this.reason),
    );
  }
}

export type WindowStats = {
  requests: number;
  /** Not HTTP 200 (an error status, a timeout, a network error, or not sent because of the cap). */
  failed: number;
  timeouts: number;
  networkErrors: number;
  capRejected: number;
  /** HTTP 200 answers per node index (`nodeNames.length` = some other node, -1 = no node in the body). */
  answeredBy: Map<number, number>;
  /**
   * Scheduled time of the first request after the last "bad" one in the window (bad = failed, or
   * answered by another node than `good`); the window start if none was bad; null if the last request
   * of the window was bad (the disruption had not ended when the window closed).
   */
  recoveredAt: number | null;
  lastBadAt: number | null;
};

export class SortedRecords {
  constructor(
    readonly sched: Float64Array,
    readonly sent: Float64Array,
    readonly end: Float64Array,
    readonly status: Float64Array,
    readonly node: Float64Array,
    readonly reason: Float64Array,
  ) {}

  get length(): number {
    return this.sched.length;
  }

  /** First index whose scheduled time is ≥ t. */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.sched.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sched[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Requests scheduled in [from, to). `goodNode`: the node whose HTTP 200 counts as recovered
   * (null: any node's 200 does).
   */
  window(from: number, to: number, goodNode: number | null): WindowStats {
    const i0 = this.lowerBound(from);
    const i1 = this.lowerBound(to);
    const answeredBy = new Map<number, number>();
    let failed = 0;
    let timeouts = 0;
    let networkErrors = 0;
    let capRejected = 0;
    let lastBad = -1;
    for (let k = i0; k < i1; k++) {
      const status = this.status[k] as number;
      const node = this.node[k] as number;
      if (status === 200) {
        answeredBy.set(node, (answeredBy.get(node) ?? 0) + 1);
        if (goodNode !== null && node !== goodNode) lastBad = k;
      } else {
        failed++;
        lastBad = k;
        const reason = this.reason[k];
        if (reason === REASON.timeout) timeouts++;
        else if (reason === REASON.error) networkErrors++;
        else if (reason === REASON.cap) capRejected++;
      }
    }
    let recoveredAt: number | null;
    if (i1 === i0) recoveredAt = null;
    else if (lastBad === -1) recoveredAt = from;
    else if (lastBad === i1 - 1) recoveredAt = null;
    else recoveredAt = this.sched[lastBad + 1] as number;
    return {
      requests: i1 - i0,
      failed,
      timeouts,
      networkErrors,
      capRejected,
      answeredBy,
      recoveredAt,
      lastBadAt: lastBad === -1 ? null : (this.sched[lastBad] as number),
    };
  }

  /** Client lateness (sent − scheduled) over every request, in ms. */
  lateness(): { p50: number; p99: number; max: number } {
    const xs = sortedAscending(Float64Array.from(this.sent, (s, k) => s - (this.sched[k] as number)));
    return { p50: round1(quantile(xs, 0.5)), p99: round1(quantile(xs, 0.99)), max: round1(quantile(xs, 1)) };
  }
}

/** The open-loop client in its worker thread. */
export class LoadClient {
  readonly store = new RecordStore();
  private worker: Worker | null = null;
  private stopped: Promise<{ sent: number; inFlight: number }> | null = null;
  private resolveStopped: ((v: { sent: number; inFlight: number }) => void) | null = null;
  startedAt = 0;
  failure: Error | null = null;

  constructor(readonly options: ClientOptions) {}

  async start(): Promise<void> {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.options });
    this.worker = worker;
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the load client did not start within 10 s")), 10_000);
      worker.on("message", (m: { type: string; data?: Float64Array; start?: number; sent?: number }) => {
        if (m.type === "records" && m.data) this.store.push(m.data);
        else if (m.type === "ready") {
          this.startedAt = m.start ?? nowMs();
          clearTimeout(timer);
          resolve();
        } else if (m.type === "stopped") {
          this.resolveStopped?.({ sent: m.sent ?? 0, inFlight: (m as { inFlight?: number }).inFlight ?? 0 });
        }
      });
      worker.on("error", (err) => {
        this.failure = err;
        clearTimeout(timer);
        reject(err);
        this.resolveStopped?.({ sent: 0, inFlight: -1 });
      });
      worker.on("exit", () => this.resolveStopped?.({ sent: 0, inFlight: -1 }));
    });
  }

  /** Stops scheduling, waits (bounded) for requests in flight, then ends the thread. */
  async stop(): Promise<{ sent: number; inFlight: number }> {
    const worker = this.worker;
    if (!worker || !this.stopped) return { sent: 0, inFlight: 0 };
    worker.postMessage({ type: "stop" });
    const bound = this.options.timeoutMs + 3_000;
    const result = await Promise.race([
      this.stopped,
      new Promise<{ sent: number; inFlight: number }>((resolve) =>
        setTimeout(() => resolve({ sent: 0, inFlight: -1 }), bound).unref(),
      ),
    ]);
    await worker.terminate();
    this.worker = null;
    return result;
  }

  /** Ends the thread at once (Ctrl-C path). */
  async terminate(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }
}

export type Percentiles = { p50: number; p99: number; n: number } | null;

/** p50 and p99 by the nearest-rank rule (bench/lib.ts quantile): with fewer than 100 values p99 is the max. */
export function percentiles(xs: readonly (number | null | undefined)[]): Percentiles {
  const vals = xs.filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  if (vals.length === 0) return null;
  const s = sortedAscending(vals);
  return { p50: Math.round(quantile(s, 0.5)), p99: Math.round(quantile(s, 0.99)), n: vals.length };
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Deterministic PRNG (mulberry32), so a soak's fault schedule can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Each member's state in an upstream include file written by renderUpstream:
 * `server 127.0.0.81:8000 max_fails=1 fail_timeout=2s backup;  # node-name`.
 */
export function parseUpstreamStates(text: string): Map<string, "active" | "backup" | "down"> {
  const out = new Map<string, "active" | "backup" | "down">();
  for (const line of text.split("\n")) {
    const m = /^\s*server\s+\S+([^;]*);\s*#\s*(\S+)/.exec(line);
    if (!m) continue;
    const params = m[1] ?? "";
    const state = /\bbackup\b/.test(params) ? "backup" : /\bdown\b/.test(params) ? "down" : "active";
    out.set(m[2] as string, state);
  }
  return out;
}
