/**
 * GPU telemetry for the controller: one persistent SSH connection per node, one long-lived
 * `nvidia-smi --query-gpu=... -lms <ms>` channel on it, lines parsed into samples and handed to the
 * detector tick by tick (DESIGN.md, data flow 2 and 4).
 *
 * Why it is built this way:
 * - Losing telemetry is a signal, not an error to swallow. A driver error line, a stream that ends,
 *   a dropped connection or a silent stream each produce exactly one `onTelemetryLost` with a
 *   literal code, and the first good sample afterwards one `onTelemetryRestored`. The detector
 *   decides what that means (losing SSH alone never fails a node over).
 * - Never trust on first use here. A node without a pinned host key is not connected at all, and
 *   a presented key that does not match the pin stops all SSH to that node until an operator pins
 *   a different fingerprint (`upsert`): retrying automatically would keep handing an impostor our
 *   authentication attempts.
 * - A thousand nodes must not cost the controller a core. There is one shared staleness sweep
 *   (not a timer per node), one shared flush timer that only runs while a tick is incomplete, no
 *   per-line work beyond the parser, and ticks are delivered the moment they are complete (the
 *   GPU count is known from a once-per-connection inventory query or from the previous tick).
 * - Reconnects must not stampede. Connection attempts pass a FIFO gate (at most
 *   `maxConcurrentHandshakes` in flight), and every retry waits a full-jitter exponential backoff,
 *   so a thousand nodes coming back after a network blip spread themselves out. The backoff only
 *   resets once a stream has stayed healthy for 30 s, so a flapping node keeps backing off.
 * - The controller's own stalls are not the fleet's: a staleness sweep that runs late (GC pause,
 *   starved CPU) does not judge until the backlog of lines has been read.
 * - The remote command is built from constants only; the sole variable part is the validated
 *   integer sample interval. Nothing a node or an operator typed reaches a shell.
 * - Private keys are copied into memory for reconnects, never logged, never exposed by
 *   `status()`/`stats()`, and zeroed when a node is removed or its key replaced.
 *
 * Lines come from `stream()` in server/ssh, which already reassembles them from chunks (bounded
 * length, CR stripped), so the parser's `createGpuLineSplitter` would only split them a second time.
 */

import type { GpuObservation } from "@/server/policy/types";
import {
  connectSsh,
  exec,
  HostKeyMismatchError,
  HostKeyNotPinnedError,
  normalizeSshFingerprint,
  SshAuthError,
  SshConfigError,
  type SshConnection,
  SshConnectionClosedError,
  SshExecError,
  SshTimeoutError,
  stream,
} from "@/server/ssh";
import {
  classifyNvidiaSmiExit,
  detectNvidiaSmiFailure,
  GPU_INVENTORY_FIELDS,
  GPU_QUERY_FIELDS,
  type GpuSample,
  parseGpuCsv,
  parseGpuLine,
} from "./parse-nvidia-smi";

// ---------------------------------------------------------------------------------------------
// Public types

/** Why telemetry for a node is (or stayed) unavailable. */
export type TelemetryLossCode =
  | "driver_unreachable"
  | "no_devices"
  | "gpu_lost"
  | "stream_ended"
  | "stale"
  | "ssh_unreachable"
  | "ssh_auth_failed"
  | "ssh_config_invalid"
  | "host_key_mismatch"
  | "host_key_not_pinned";

export type TelemetryLossReason = { code: TelemetryLossCode; message: string };

export type CollectorEvents = {
  /** One complete tick of a node: one sample per GPU, all with the same nvidia-smi timestamp. */
  onSamples(nodeId: string, samples: GpuSample[], at: number): void;
  /** Once per loss (not on every failed retry); `reason` is the first cause. */
  onTelemetryLost(nodeId: string, reason: TelemetryLossReason, at: number): void;
  /** The first good tick after a loss. */
  onTelemetryRestored(nodeId: string, at: number): void;
  /** The node presented another host key than the pinned one; no more SSH until re-pinned. */
  onHostKeyMismatch(nodeId: string, expected: string, actual: string, at: number): void;
};

export type GpuCollectorNode = {
  id: string;
  name: string;
  host: string;
  port: number;
  username: string;
  /** Copied on upsert; never logged or exposed. */
  privateKey: Buffer;
  /** Pinned `SHA256:` fingerprint; null = not pinned, and then the node is never connected. */
  hostKeyFingerprint: string | null;
};

export type CollectorState =
  | "connecting"
  | "streaming"
  | "backoff"
  | "host_key_mismatch"
  | "not_pinned"
  | "stopped";

export type CollectorNodeStatus = {
  state: CollectorState;
  /** When `state` was entered (collector clock). */
  since: number;
  lastSampleAt: number | null;
  /** The most recent loss reason (kept after recovery, for display). */
  lastError: TelemetryLossReason | null;
  /** Retries (connection or channel) since the node was added. */
  reconnects: number;
};

export type CollectorStats = {
  nodes: number;
  connectionsOpen: number;
  streamsOpen: number;
  /** Nodes whose telemetry is flowing right now. */
  streaming: number;
  /** Nodes whose telemetry is currently lost. */
  telemetryLost: number;
  handshakesInFlight: number;
  handshakesQueued: number;
  /** The most handshakes ever in flight at once (never above maxConcurrentHandshakes). */
  handshakesPeak: number;
  samplesTotal: number;
  linesUnparsable: number;
  reconnects: number;
  /** Exceptions thrown by event listeners (caught so one bad listener cannot stop telemetry). */
  listenerErrors: number;
};

export type GpuCollectorOptions = {
  events: CollectorEvents;
  /** nvidia-smi `-lms` interval. Default 1000. */
  sampleIntervalMs?: number;
  /** Connection attempts in flight at once; the rest wait in FIFO order. Default 16. */
  maxConcurrentHandshakes?: number;
  /** SSH handshake deadline, TCP connect included. Default 10 000. */
  readyTimeoutMs?: number;
  /** SSH keepalive; a dead peer is noticed after 3 missed replies. Default 10 000. */
  keepaliveIntervalMs?: number;
  /** Full-jitter exponential backoff between retries. Default 1 s doubling up to 60 s. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** No line for this long = telemetry lost (`stale`). Default 3 × interval + 2 s. */
  staleAfterMs?: number;
  /** Run the one-shot inventory query (names, driver, GPU count) once per connection. Default true. */
  inventory?: boolean;
  /** Clock for event times and staleness. Default Date.now. */
  now?: () => number;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
};

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests and for the controller)

const MIN_INTERVAL_MS = 50;
const MAX_INTERVAL_MS = 3_600_000;

/**
 * The streaming command. Built from constants; the interval is the only variable and must be an
 * integer in range, so nothing else can ever reach the remote shell.
 */
export function gpuStreamCommand(intervalMs: number): string {
  assertInt("sampleIntervalMs", intervalMs, MIN_INTERVAL_MS, MAX_INTERVAL_MS);
  return `nvidia-smi --query-gpu=${GPU_QUERY_FIELDS.join(",")} --format=csv,noheader,nounits -lms ${intervalMs}`;
}

/** One-shot inventory (names, total memory, driver) once per connection. */
export const GPU_INVENTORY_COMMAND = `nvidia-smi --query-gpu=${GPU_INVENTORY_FIELDS.join(",")} --format=csv,noheader,nounits`;

/** Full jitter: uniform in [0, min(max, initial × 2^attempt)). */
export function backoffDelayMs(
  attempt: number,
  backoff: { initialMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  const cap = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(random() * cap);
}

/**
 * Combines one tick of a node's GPUs into the single observation the policy engine reads: the
 * worst GPU decides (max utilisation, max temperature, max memory used %). Missing values are
 * skipped; a field no GPU reports is null.
 */
export function toGpuObservation(samples: readonly GpuSample[], at: number): GpuObservation {
  if (samples.length === 0) return { at, ok: false, reason: "no GPU samples" };
  let util: number | null = null;
  let temp: number | null = null;
  let mem: number | null = null;
  for (const s of samples) {
    if (s.utilizationGpuPct !== null && (util === null || s.utilizationGpuPct > util))
      util = s.utilizationGpuPct;
    if (s.temperatureC !== null && (temp === null || s.temperatureC > temp)) temp = s.temperatureC;
    if (s.memoryUsedMib !== null && s.memoryTotalMib !== null && s.memoryTotalMib > 0) {
      const pct = (s.memoryUsedMib / s.memoryTotalMib) * 100;
      if (mem === null || pct > mem) mem = pct;
    }
  }
  return { at, ok: true, utilizationPct: util, temperatureC: temp, memoryUsedPct: mem };
}

/** The observation to record when telemetry is lost. */
export function lostGpuObservation(reason: TelemetryLossReason, at: number): GpuObservation {
  return { at, ok: false, reason: `${reason.code}: ${reason.message}` };
}

/**
 * Groups streamed samples into ticks. nvidia-smi prints one line per GPU per tick, all with the
 * same timestamp. A tick is delivered as soon as the expected number of GPUs has reported; else
 * when a line with another timestamp (or a GPU index already seen for this timestamp) arrives, or
 * when the caller flushes it after a short delay.
 *
 * The expected count starts from the inventory (or is unknown) and is corrected from what the
 * stream shows: when a timestamp is over, the number of GPUs that reported for it becomes the
 * count (a GPU that stopped reporting shrinks it), and a timestamp with more GPUs than expected
 * grows it at once. A timer flush never changes the count, so a slow chunk cannot split later ticks.
 */
export class GpuTickAssembler {
  private samples: GpuSample[] = [];
  private ts = 0;
  /** GPU indices seen for timestamp `ts`, delivered or not. */
  private readonly seen: number[] = [];
  /** Expected GPUs per tick; 0 = unknown. */
  expected = 0;
  /** When the pending tick's first line arrived (caller's clock). */
  startedAt = 0;

  get pending(): number {
    return this.samples.length;
  }

  /** Initial guess, e.g. the number of GPUs the inventory query listed. */
  setExpected(count: number): void {
    this.expected = count;
  }

  /** Adds a sample; appends the ticks it completes (0, 1 or 2) to `out`. */
  push(sample: GpuSample, at: number, out: GpuSample[][]): void {
    const ts = sample.timestamp === null ? -1 : sample.timestamp.getTime();
    if (this.seen.length > 0 && (ts !== this.ts || this.seen.includes(sample.index))) {
      if (this.samples.length > 0) out.push(this.take());
      this.expected = this.seen.length;
      this.seen.length = 0;
    }
    if (this.samples.length === 0) this.startedAt = at;
    this.samples.push(sample);
    this.ts = ts;
    this.seen.push(sample.index);
    if (this.expected > 0 && this.seen.length > this.expected) this.expected = this.seen.length;
    if (this.expected > 0 && this.seen.length >= this.expected) out.push(this.take());
  }

  /** Closes the pending tick (after the flush delay, or when the stream ends). */
  flush(): GpuSample[] | null {
    return this.samples.length === 0 ? null : this.take();
  }

  /** Forgets the pending tick (a new stream starts); the expected count is kept. */
  clear(): void {
    this.samples = [];
    this.seen.length = 0;
  }

  private take(): GpuSample[] {
    const tick = this.samples;
    this.samples = [];
    return tick;
  }
}

// ---------------------------------------------------------------------------------------------
// The collector

type Phase =
  | "idle"
  | "gate"
  | "connecting"
  | "opening"
  | "streaming"
  | "backoff"
  | "host_key_mismatch"
  | "not_pinned"
  | "stopped";

type Run = {
  conn: SshConnection;
  abort: AbortController;
  gotLine: boolean;
  gotSample: boolean;
  /** When the first tick arrived (0 = none yet). */
  firstSampleAt: number;
};

type InventoryInfo = { name: string | null; driverVersion: string | null };

type Entry = {
  id: string;
  spec: GpuCollectorNode;
  phase: Phase;
  since: number;
  removed: boolean;
  /** Telemetry as last reported to listeners. */
  telemetry: "unknown" | "ok" | "lost";
  lastSampleAt: number | null;
  lastError: TelemetryLossReason | null;
  reconnects: number;
  /** Failures since the last stream that stayed healthy for stableAfterMs: drives the backoff. */
  attempt: number;
  /** Pinned fingerprint that a mismatch was reported for; SSH stays off while it is still pinned. */
  blockedFingerprint: string | null;
  queued: boolean;
  connecting: { abort: AbortController } | null;
  conn: SshConnection | null;
  unsubscribeClose: (() => void) | null;
  run: Run | null;
  lastLineAt: number;
  timer: NodeJS.Timeout | null;
  ticks: GpuTickAssembler;
  inventory: { byUuid: Map<string, InventoryInfo>; byIndex: Map<number, InventoryInfo> } | null;
  inventoryPending: boolean;
};

const GPU_SIDE_CODES: ReadonlySet<string> = new Set(["driver_unreachable", "no_devices", "gpu_lost"]);

export class GpuCollector {
  private readonly events: CollectorEvents;
  private readonly intervalMs: number;
  private readonly command: string;
  private readonly maxHandshakes: number;
  private readonly readyTimeoutMs: number;
  private readonly keepaliveIntervalMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly staleAfterMs: number;
  private readonly inventoryEnabled: boolean;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sweepMs: number;
  private readonly stableAfterMs: number;
  private readonly flushDelayMs: number;

  private readonly entries = new Map<string, Entry>();
  private running = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  private lastSweepAt = 0;
  /** When sweeps started passing because of stalls (0 = judging normally). */
  private skippingSince = 0;
  private graceUntil = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly pendingTicks = new Set<Entry>();
  private readonly gateQueue: Entry[] = [];
  private handshakes = 0;
  private handshakesPeak = 0;
  /** Connection attempts and closes still settling; stop() waits for them. */
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly ticksOut: GpuSample[][] = [];
  private counters = { samples: 0, unparsable: 0, reconnects: 0, listenerErrors: 0 };

  constructor(options: GpuCollectorOptions) {
    if (!options?.events) throw new SshConfigError("GpuCollector needs events");
    this.events = options.events;
    this.intervalMs = options.sampleIntervalMs ?? 1_000;
    this.command = gpuStreamCommand(this.intervalMs);
    this.maxHandshakes = options.maxConcurrentHandshakes ?? 16;
    assertInt("maxConcurrentHandshakes", this.maxHandshakes, 1, 10_000);
    this.readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    assertInt("readyTimeoutMs", this.readyTimeoutMs, 100, 600_000);
    this.keepaliveIntervalMs = options.keepaliveIntervalMs ?? 10_000;
    assertInt("keepaliveIntervalMs", this.keepaliveIntervalMs, 0, 600_000);
    this.backoff = {
      initialMs: options.backoff?.initialMs ?? 1_000,
      maxMs: options.backoff?.maxMs ?? 60_000,
    };
    assertInt("backoff.initialMs", this.backoff.initialMs, 1, 3_600_000);
    assertInt("backoff.maxMs", this.backoff.maxMs, this.backoff.initialMs, 3_600_000);
    this.staleAfterMs = options.staleAfterMs ?? 3 * this.intervalMs + 2_000;
    assertInt("staleAfterMs", this.staleAfterMs, this.intervalMs, 24 * 3_600_000);
    this.inventoryEnabled = options.inventory ?? true;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.sweepMs = Math.min(1_000, this.intervalMs);
    this.stableAfterMs = Math.max(30_000, 3 * this.staleAfterMs);
    // Lines of one tick arrive within a millisecond of each other; this only matters before the
    // GPU count is known or when a GPU stops reporting.
    this.flushDelayMs = Math.max(10, Math.min(100, Math.floor(this.intervalMs / 4)));
  }

  /** Adds a node or updates it. Connection settings that change restart its connection. */
  upsert(node: GpuCollectorNode): void {
    const spec = validateNode(node);
    const existing = this.entries.get(spec.id);
    if (!existing) {
      const entry: Entry = {
        id: spec.id,
        spec,
        phase: "stopped",
        since: this.now(),
        removed: false,
        telemetry: "unknown",
        lastSampleAt: null,
        lastError: null,
        reconnects: 0,
        attempt: 0,
        blockedFingerprint: null,
        queued: false,
        connecting: null,
        conn: null,
        unsubscribeClose: null,
        run: null,
        lastLineAt: 0,
        timer: null,
        ticks: new GpuTickAssembler(),
        inventory: null,
        inventoryPending: false,
      };
      this.entries.set(spec.id, entry);
      if (this.running) this.begin(entry);
      return;
    }
    const old = existing.spec;
    const fingerprintChanged = old.hostKeyFingerprint !== spec.hostKeyFingerprint;
    const changed =
      fingerprintChanged ||
      old.host !== spec.host ||
      old.port !== spec.port ||
      old.username !== spec.username ||
      !old.privateKey.equals(spec.privateKey);
    existing.spec = spec;
    if (old.privateKey !== spec.privateKey) old.privateKey.fill(0);
    // An operator pinning another fingerprint is the only thing that re-enables a blocked node.
    if (fingerprintChanged) existing.blockedFingerprint = null;
    if (!changed || !this.running) return;
    this.teardown(existing);
    existing.attempt = 0;
    this.begin(existing);
  }

  /** Stops watching a node and closes its connection. */
  remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.removed = true;
    this.entries.delete(id);
    this.teardown(entry);
    entry.spec.privateKey.fill(0);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastSweepAt = this.now();
    this.skippingSince = 0;
    this.graceUntil = 0;
    this.sweepTimer = setInterval(() => this.sweep(), this.sweepMs);
    for (const entry of this.entries.values()) this.begin(entry);
  }

  /** Closes every channel and connection and clears every timer; resolves when all are gone. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.pendingTicks.clear();
    for (const entry of this.entries.values()) {
      this.teardown(entry);
      this.setPhase(entry, "stopped");
    }
    for (const entry of this.gateQueue) entry.queued = false;
    this.gateQueue.length = 0;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  status(id: string): CollectorNodeStatus | null {
    const e = this.entries.get(id);
    if (!e) return null;
    return {
      state: publicState(e.phase),
      since: e.since,
      lastSampleAt: e.lastSampleAt,
      lastError: e.lastError,
      reconnects: e.reconnects,
    };
  }

  stats(): CollectorStats {
    let connectionsOpen = 0;
    let streamsOpen = 0;
    let streaming = 0;
    let lost = 0;
    for (const e of this.entries.values()) {
      if (e.conn) connectionsOpen += 1;
      if (e.run) streamsOpen += 1;
      if (e.phase === "streaming") streaming += 1;
      if (e.telemetry === "lost") lost += 1;
    }
    let queued = 0;
    for (const e of this.gateQueue) if (e.phase === "gate") queued += 1;
    return {
      nodes: this.entries.size,
      connectionsOpen,
      streamsOpen,
      streaming,
      telemetryLost: lost,
      handshakesInFlight: this.handshakes,
      handshakesQueued: queued,
      handshakesPeak: this.handshakesPeak,
      samplesTotal: this.counters.samples,
      linesUnparsable: this.counters.unparsable,
      reconnects: this.counters.reconnects,
      listenerErrors: this.counters.listenerErrors,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle of one node

  private begin(e: Entry): void {
    const fingerprint = e.spec.hostKeyFingerprint;
    if (fingerprint === null) {
      this.setPhase(e, "not_pinned");
      this.lost(e, {
        code: "host_key_not_pinned",
        message: `host key not pinned for ${e.spec.name}: pin its fingerprint before GPU telemetry is collected`,
      });
      return;
    }
    if (e.blockedFingerprint === fingerprint) {
      // Still the fingerprint the node failed to match: stay off until an operator re-pins.
      this.setPhase(e, "host_key_mismatch");
      return;
    }
    this.requestConnect(e);
  }

  /** Cancels whatever the node is doing (timer, queued or running handshake, stream, connection). */
  private teardown(e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    if (e.phase === "gate") this.setPhase(e, "idle");
    if (e.connecting) {
      e.connecting.abort.abort();
      e.connecting = null;
    }
    if (e.run) {
      e.run.abort.abort();
      e.run = null;
    }
    e.ticks.clear();
    this.pendingTicks.delete(e);
    this.dropConnection(e);
  }

  private requestConnect(e: Entry): void {
    this.setPhase(e, "gate");
    if (!e.queued) {
      e.queued = true;
      this.gateQueue.push(e);
    }
    this.pumpGate();
  }

  private pumpGate(): void {
    while (this.running && this.handshakes < this.maxHandshakes && this.gateQueue.length > 0) {
      const e = this.gateQueue.shift() as Entry;
      e.queued = false;
      if (e.removed || e.phase !== "gate") continue;
      this.connect(e);
    }
  }

  private connect(e: Entry): void {
    this.setPhase(e, "connecting");
    this.handshakes += 1;
    if (this.handshakes > this.handshakesPeak) this.handshakesPeak = this.handshakes;
    const attempt = { abort: new AbortController() };
    e.connecting = attempt;
    const spec = e.spec;
    const settled = connectSsh({
      host: spec.host,
      port: spec.port,
      username: spec.username,
      privateKey: spec.privateKey,
      hostKeyFingerprint: spec.hostKeyFingerprint,
      readyTimeoutMs: this.readyTimeoutMs,
      keepaliveIntervalMs: this.keepaliveIntervalMs,
      node: spec.name,
      signal: attempt.abort.signal,
    }).then(
      (conn) => {
        this.releaseHandshake();
        if (e.connecting !== attempt || !this.running || e.removed) {
          this.track(conn.close());
          return;
        }
        e.connecting = null;
        this.adopt(e, conn);
      },
      (err: unknown) => {
        this.releaseHandshake();
        if (e.connecting !== attempt) return;
        e.connecting = null;
        this.connectFailed(e, err);
      },
    );
    this.track(settled);
  }

  private releaseHandshake(): void {
    this.handshakes -= 1;
    this.pumpGate();
  }

  private adopt(e: Entry, conn: SshConnection): void {
    e.conn = conn;
    e.inventory = null;
    e.unsubscribeClose = conn.onClose((err) => {
      if (e.conn !== conn) return;
      this.connectionClosed(e, err);
    });
    this.startStream(e);
  }

  private connectFailed(e: Entry, err: unknown): void {
    if (err instanceof HostKeyMismatchError) {
      e.blockedFingerprint = e.spec.hostKeyFingerprint;
      this.setPhase(e, "host_key_mismatch");
      const at = this.now();
      this.emit(() => this.events.onHostKeyMismatch(e.id, err.expected, err.actual, at));
      if (!e.removed) this.lost(e, { code: "host_key_mismatch", message: err.message });
      return;
    }
    this.scheduleRetry(e);
    this.lost(e, describeConnectError(e.spec.name, err));
  }

  private connectionClosed(e: Entry, err: Error | null): void {
    e.conn = null;
    e.unsubscribeClose = null;
    e.inventory = null;
    if (!e.run) return; // A retry is already scheduled; it will reconnect.
    const detail = err ? `: ${err.message}` : "";
    this.failStream(
      e,
      { code: "ssh_unreachable", message: `SSH connection to ${e.spec.name} lost${detail}` },
      false,
    );
  }

  private dropConnection(e: Entry): void {
    const conn = e.conn;
    e.conn = null;
    e.unsubscribeClose?.();
    e.unsubscribeClose = null;
    e.inventory = null;
    if (conn) this.track(conn.close());
  }

  private scheduleRetry(e: Entry): void {
    if (!this.running || e.removed) return;
    const delay = backoffDelayMs(e.attempt, this.backoff, this.random);
    e.attempt += 1;
    this.setPhase(e, "backoff");
    if (e.timer) clearTimeout(e.timer);
    e.timer = setTimeout(() => {
      e.timer = null;
      if (!this.running || e.removed) return;
      e.reconnects += 1;
      this.counters.reconnects += 1;
      if (e.conn && !e.conn.closed) this.startStream(e);
      else {
        this.dropConnection(e);
        this.requestConnect(e);
      }
    }, delay);
  }

  // -------------------------------------------------------------------------------------------
  // The stream

  private startStream(e: Entry): void {
    const conn = e.conn;
    if (!conn) return;
    const run: Run = {
      conn,
      abort: new AbortController(),
      gotLine: false,
      gotSample: false,
      firstSampleAt: 0,
    };
    e.run = run;
    e.lastLineAt = this.now();
    e.ticks.clear();
    this.setPhase(e, "opening");
    stream(conn, this.command, {
      signal: run.abort.signal,
      onLine: (line) => this.onLine(e, run, line),
      onStderrLine: (line) => this.onStderrLine(e, run, line),
    }).then(
      () => this.streamEnded(e, run, null),
      (err: unknown) => this.streamEnded(e, run, err),
    );
    if (this.inventoryEnabled && e.inventory === null && !e.inventoryPending) this.fetchInventory(e, run);
  }

  private onLine(e: Entry, run: Run, line: string): void {
    if (e.run !== run) return;
    const at = this.now();
    e.lastLineAt = at;
    run.gotLine = true;
    if (line.length === 0) return;
    const parsed = parseGpuLine(line, GPU_QUERY_FIELDS);
    if (!parsed.ok) {
      const { code, message } = parsed.error;
      if (GPU_SIDE_CODES.has(code)) {
        this.failStream(e, { code: code as TelemetryLossCode, message }, true);
      } else if (code !== "empty") {
        this.counters.unparsable += 1;
      }
      return;
    }
    const sample = parsed.sample;
    const inv = e.inventory;
    if (inv) {
      const info =
        (sample.uuid === null ? undefined : inv.byUuid.get(sample.uuid)) ?? inv.byIndex.get(sample.index);
      if (info) {
        sample.name = info.name;
        sample.driverVersion = info.driverVersion;
      }
    }
    const out = this.ticksOut;
    e.ticks.push(sample, at, out);
    if (out.length > 0) {
      // Copy out before delivering: a listener may re-enter (e.g. remove the node).
      const first = out[0] as GpuSample[];
      const second = out[1];
      out.length = 0;
      this.deliver(e, run, first, at);
      if (second && e.run === run) this.deliver(e, run, second, at);
    }
    if (e.run === run && e.ticks.pending > 0) this.armFlush(e);
    else this.pendingTicks.delete(e);
  }

  private onStderrLine(e: Entry, run: Run, line: string): void {
    if (e.run !== run) return;
    e.lastLineAt = this.now();
    run.gotLine = true;
    const failure = detectNvidiaSmiFailure(line);
    if (failure && GPU_SIDE_CODES.has(failure.code)) {
      this.failStream(e, { code: failure.code as TelemetryLossCode, message: failure.message }, true);
    }
  }

  private deliver(e: Entry, run: Run | null, samples: GpuSample[], at: number): void {
    const restored = e.telemetry === "lost";
    e.telemetry = "ok";
    e.lastSampleAt = at;
    this.counters.samples += samples.length;
    if (run && !run.gotSample) {
      run.gotSample = true;
      run.firstSampleAt = at;
      this.setPhase(e, "streaming");
    }
    if (restored) this.emit(() => this.events.onTelemetryRestored(e.id, at));
    if (!e.removed) this.emit(() => this.events.onSamples(e.id, samples, at));
  }

  private streamEnded(e: Entry, run: Run, err: unknown): void {
    if (e.run !== run) return;
    if (err === null) {
      this.failStream(
        e,
        { code: "stream_ended", message: "nvidia-smi stopped streaming (exit code 0)" },
        true,
      );
      return;
    }
    if (err instanceof SshExecError) {
      if (err.exitCode === null) {
        this.failStream(
          e,
          { code: "stream_ended", message: `nvidia-smi was stopped by signal ${err.signal ?? "unknown"}` },
          true,
        );
        return;
      }
      const c = classifyNvidiaSmiExit(err.exitCode, err.stdout, err.stderr);
      if (c && GPU_SIDE_CODES.has(c.code)) {
        this.failStream(e, { code: c.code as TelemetryLossCode, message: c.message }, true);
      } else {
        const detail = c ? `: ${c.message}` : "";
        this.failStream(
          e,
          { code: "stream_ended", message: `nvidia-smi exited with code ${err.exitCode}${detail}` },
          true,
        );
      }
      return;
    }
    if (err instanceof SshConnectionClosedError) {
      this.failStream(
        e,
        { code: "ssh_unreachable", message: `SSH connection to ${e.spec.name} lost` },
        false,
      );
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    // A refused channel leaves the connection usable; anything unexpected gets a fresh one.
    const keep = (err as { code?: string }).code === "SSH_CHANNEL_FAILED";
    this.failStream(e, { code: "stream_ended", message: `GPU telemetry stream failed: ${message}` }, keep);
  }

  /**
   * Ends the current stream: delivers a complete-looking pending tick, reports the loss once,
   * and schedules a retry (the channel only if the connection is kept, else a reconnect).
   */
  private failStream(e: Entry, reason: TelemetryLossReason, keepConnection: boolean): void {
    const run = e.run;
    if (!run) return;
    e.run = null;
    run.abort.abort();
    // Only a stream that stayed healthy for a while earns a fresh backoff. Resetting on its first
    // tick would let a flapping node (one line, then silence or an error) retry at full speed
    // forever, and under overload every such retry spawns more work on the very host that is slow.
    if (run.gotSample && this.now() - run.firstSampleAt >= this.stableAfterMs) e.attempt = 0;
    this.pendingTicks.delete(e);
    const pending = e.telemetry === "ok" ? e.ticks.flush() : null;
    e.ticks.clear();
    if (GPU_SIDE_CODES.has(reason.code)) {
      // The GPU set may differ once the driver is back.
      e.inventory = null;
    }
    if (!keepConnection) this.dropConnection(e);
    this.scheduleRetry(e);
    if (pending) this.deliver(e, null, pending, this.now());
    if (!e.removed) this.lost(e, reason);
  }

  private fetchInventory(e: Entry, run: Run): void {
    e.inventoryPending = true;
    exec(run.conn, GPU_INVENTORY_COMMAND, {
      signal: run.abort.signal,
      timeoutMs: Math.max(1_000, this.readyTimeoutMs),
      maxOutputBytes: 64 * 1024,
    }).then(
      (result) => {
        if (!this.inventoryFinished(e, run)) return;
        const parsed = parseGpuCsv(result.stdout, GPU_INVENTORY_FIELDS, { header: false });
        if (!parsed.ok) return;
        const byUuid = new Map<string, InventoryInfo>();
        const byIndex = new Map<number, InventoryInfo>();
        for (const s of parsed.samples) {
          const info = { name: s.name, driverVersion: s.driverVersion };
          if (s.uuid !== null) byUuid.set(s.uuid, info);
          byIndex.set(s.index, info);
        }
        e.inventory = { byUuid, byIndex };
        e.ticks.setExpected(parsed.samples.length);
      },
      () => {
        // Not fatal: the stream reports a broken driver on its own, and ticks still group.
        this.inventoryFinished(e, run);
      },
    );
  }

  /** True if the result belongs to the current stream; else asks again for the stream now running. */
  private inventoryFinished(e: Entry, run: Run): boolean {
    e.inventoryPending = false;
    if (e.run === run) return true;
    const current = e.run;
    if (current && e.inventory === null && !e.removed && this.running) this.fetchInventory(e, current);
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Shared timers

  private armFlush(e: Entry): void {
    this.pendingTicks.add(e);
    if (this.flushTimer || !this.running) return;
    this.flushTimer = setTimeout(() => this.flushDue(), this.flushDelayMs);
  }

  private flushDue(): void {
    this.flushTimer = null;
    const at = this.now();
    for (const e of this.pendingTicks) {
      if (at - e.ticks.startedAt < this.flushDelayMs - 1) continue;
      this.pendingTicks.delete(e);
      const tick = e.ticks.flush();
      if (tick) this.deliver(e, e.run, tick, at);
    }
    if (this.pendingTicks.size > 0 && this.running) {
      this.flushTimer = setTimeout(() => this.flushDue(), this.flushDelayMs);
    }
  }

  /**
   * One pass over every node per sweep period: a stream with no line for staleAfterMs is dead.
   *
   * A sweep that runs late means this process was stalled (GC, CPU starvation); lines that arrived
   * meanwhile are still waiting to be read, because timers run before I/O in an event-loop turn
   * (and an overdue interval fires again on the next turn). Judging then would declare the whole
   * fleet stale at once and reconnect every node, so after a late sweep nothing is judged for one
   * sweep period. A loop that is late all the time still gets judged every staleAfterMs.
   */
  private sweep(): void {
    const at = this.now();
    if (at - this.lastSweepAt > 2 * this.sweepMs) this.graceUntil = at + this.sweepMs;
    this.lastSweepAt = at;
    if (at < this.graceUntil) {
      if (this.skippingSince === 0) this.skippingSince = at;
      if (at - this.skippingSince < this.staleAfterMs) return;
    }
    this.skippingSince = 0;
    for (const e of this.entries.values()) {
      const run = e.run;
      if (!run || at - e.lastLineAt <= this.staleAfterMs) continue;
      this.failStream(
        e,
        {
          code: "stale",
          message: `no output from nvidia-smi on ${e.spec.name} for ${Math.round(at - e.lastLineAt)} ms (interval ${this.intervalMs} ms)`,
        },
        // A stream that did talk and then went quiet is most likely a hung nvidia-smi: a new
        // channel on the same connection is enough. One that never said anything (typically the
        // retry after that) points at the connection itself (half-open TCP): reconnect.
        run.gotLine,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Small helpers

  private lost(e: Entry, reason: TelemetryLossReason): void {
    e.lastError = reason;
    if (e.telemetry === "lost") return;
    e.telemetry = "lost";
    const at = this.now();
    this.emit(() => this.events.onTelemetryLost(e.id, reason, at));
  }

  private setPhase(e: Entry, phase: Phase): void {
    if (e.phase === phase) return;
    const wasPublic = publicState(e.phase);
    e.phase = phase;
    if (publicState(phase) !== wasPublic) e.since = this.now();
  }

  private emit(fn: () => void): void {
    try {
      fn();
    } catch {
      this.counters.listenerErrors += 1;
    }
  }

  private track(promise: Promise<unknown>): void {
    const p = promise.catch(() => {});
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }
}

function publicState(phase: Phase): CollectorState {
  switch (phase) {
    case "idle":
    case "stopped":
      return "stopped";
    case "gate":
    case "connecting":
    case "opening":
      return "connecting";
    default:
      return phase;
  }
}

function describeConnectError(name: string, err: unknown): TelemetryLossReason {
  if (err instanceof SshAuthError) return { code: "ssh_auth_failed", message: err.message };
  if (err instanceof SshConfigError) return { code: "ssh_config_invalid", message: err.message };
  if (err instanceof HostKeyNotPinnedError) return { code: "host_key_not_pinned", message: err.message };
  if (err instanceof SshTimeoutError) return { code: "ssh_unreachable", message: err.message };
  const message = err instanceof Error ? err.message : `SSH connection to ${name} failed`;
  return { code: "ssh_unreachable", message };
}

function assertInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SshConfigError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
}

function validateNode(node: GpuCollectorNode): GpuCollectorNode {
  if (typeof node.id !== "string" || node.id === "") throw new SshConfigError("node id is required");
  if (typeof node.host !== "string" || node.host === "")
    throw new SshConfigError(`node ${node.id}: host is required`);
  assertInt(`node ${node.id}: port`, node.port, 1, 65_535);
  if (typeof node.username !== "string" || node.username === "")
    throw new SshConfigError(`node ${node.id}: username is required`);
  if (!Buffer.isBuffer(node.privateKey) || node.privateKey.length === 0)
    throw new SshConfigError(`node ${node.id}: privateKey must be a non-empty Buffer`);
  const fingerprint =
    node.hostKeyFingerprint === null ? null : normalizeSshFingerprint(node.hostKeyFingerprint);
  return {
    id: node.id,
    name: typeof node.name === "string" && node.name !== "" ? node.name : node.id,
    host: node.host,
    port: node.port,
    username: node.username,
    // Our own copy: the caller may zero theirs, and we zero ours on remove/replace.
    privateKey: Buffer.from(node.privateKey),
    hostKeyFingerprint: fingerprint,
  };
}
