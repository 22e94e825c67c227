/**
 * One simulated GPU inference node: the HTTP service a GTE-style semantic-search node exposes on
 * port 8000 (health, degrade, activate with an epoch, status, search), an SSH endpoint where a fake
 * `nvidia-smi` reads this node's GPU state, and a set of injectable faults.
 *
 * Faults act where the real failure would, so the controller sees what it would see in the field:
 * - crash      the process died: HTTP listener closed and sockets destroyed (connect → refused),
 *              GPU idle with its memory freed; the host (SSH) stays up.
 * - hang       the process is alive but stuck: TCP accepts, no request is ever answered.
 * - slow       only /health is delayed by `ms` (a GC pause or an overloaded event loop).
 * - http503    the app reports itself unhealthy; /health and search answer 503.
 * - gpu_saturated  100 % utilisation, near the power limit, still healthy (busy is not broken).
 * - gpu_overheated 92 °C.
 * - gpu_lost   the driver is gone: nvidia-smi fails with exit 9, inference cannot run (503).
 * - blackhole  SYNs to the HTTP port are dropped, so connects time out instead of being refused.
 * `recover` clears every fault and restarts what was down, keeping the role the node had: a
 * restarted ex-master still claims master until someone degrades it, as real services do.
 *
 * The role is fenced by epochs: activate with an epoch below the highest the node has seen is
 * refused (409), so a stale controller cannot make a second master. Every change of the node's
 * effective role goes to the fleet's RoleLog.
 *
 * Background work is lazy so a fleet of ~1,000 nodes idles on two cores: GPU noise is only
 * refreshed (every few seconds) while someone is running commands on the node over SSH.
 */
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import { z } from "zod";
import { Blackhole } from "./blackhole";
import {
  idleGpuState,
  SIM_BIN_DIR,
  SIM_GPU_STATE_ENV,
  type SimGpuState,
  writeGpuStateFile,
} from "./gpu-state";
import { HttpError, readJsonBody, sendJson } from "./http-json";
import { type EffectiveRole, preciseNowMs, type RoleLog, type SimRole } from "./role-log";
import { type AuthorizedKey, type HostKey, loadOrCreateHostKey, SimSshServer } from "./ssh-server";

export {
  type DoubleMasterInterval,
  findDoubleMasterIntervals,
  type RoleLogEntry,
  type SimRole,
} from "./role-log";

export const SIM_FAULTS = [
  "crash",
  "hang",
  "slow",
  "http503",
  "gpu_saturated",
  "gpu_overheated",
  "gpu_lost",
  "blackhole",
] as const;
export type SimFault = (typeof SIM_FAULTS)[number];
export type SimFaultCommand = SimFault | "recover";

/** crash, hang and blackhole describe what happens to TCP on the HTTP port; only one can hold. */
const TRANSPORT_FAULTS: readonly SimFault[] = ["crash", "hang", "blackhole"];

/** What /health says when the GPU driver is gone (the text a CUDA app logs when its device vanishes). */
export const GPU_LOST_HEALTH_ERROR = "CUDA error: unspecified launch failure (GPU has fallen off the bus)";

const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_NOISE_INTERVAL_MS = 5_000;
/** Keep refreshing GPU noise this long after the last command ended (the next poll is likely near). */
const OBSERVED_LINGER_MS = 30_000;
/** GPU memory held by the loaded model + FAISS index while the service process is up. */
const MODEL_MEMORY_MIB = 31_744;

export type SimNodeOptions = {
  name: string;
  host: string;
  cluster: string;
  role: SimRole;
  /** The highest epoch the node has seen at start. Default 0. */
  epoch?: number;
  /** 0 picks a free port on first start; later restarts (recover) reuse it. */
  httpPort: number;
  sshPort: number;
  /** Sim data dir: host keys, GPU state files and per-node working dirs live under it. */
  dataDir: string;
  authorizedKeys: () => readonly AuthorizedKey[];
  roleLog: RoleLog;
  noiseIntervalMs?: number;
};

export type SimNodeSnapshot = {
  name: string;
  host: string;
  cluster: string;
  role: SimRole;
  epoch: number;
  httpPort: number;
  sshPort: number;
  faults: SimFault[];
  slowMs: number | null;
  healthy: boolean;
  hostKeyFingerprint: string;
  gpuStateFile: string;
};

// Unknown keys are ignored, not refused, so a controller can add e.g. a switchover id.
const activateBody = z.object({ epoch: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) });
const degradeBody = z
  .object({ epoch: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional() })
  .optional();
const searchBody = z.object({
  query: z.string().min(1).max(2_000),
  k: z.number().int().min(1).max(100).optional(),
});

export class SimNode {
  readonly name: string;
  readonly host: string;
  readonly cluster: string;
  readonly gpuStateFile: string;

  private roleValue: SimRole;
  private highestEpoch: number;
  private httpPortValue: number;
  private readonly hostKey: HostKey;
  private readonly ssh: SimSshServer;
  private readonly faultSet = new Set<SimFault>();
  private slowMs: number | null = null;
  private indexSnapshotId: string;
  private startedAtMs = Date.now();
  private requestsServed = 0;

  private httpServer: http.Server | null = null;
  private blackhole: Blackhole | null = null;
  /** Requests held open by `hang`; destroyed when the node "restarts". */
  private readonly parked = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private lastLogged: { role: EffectiveRole; epoch: number } | null = null;

  /** Serialises fault/transport changes: each awaits the listener it opens or closes. */
  private queue: Promise<unknown> = Promise.resolve();
  private gpuWrite: Promise<void> = Promise.resolve();
  private noise = { util: 30, power: 0, temp: 0 };
  private noiseTimer: NodeJS.Timeout | null = null;
  private runningCommands = 0;
  private lastCommandEndMs = 0;
  private readonly noiseIntervalMs: number;
  private started = false;

  constructor(private readonly options: SimNodeOptions) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.name)) {
      throw new Error(
        `invalid node name ${JSON.stringify(options.name)} (lowercase letters, digits, dashes)`,
      );
    }
    this.name = options.name;
    this.host = options.host;
    this.cluster = options.cluster;
    this.roleValue = options.role;
    this.highestEpoch = options.epoch ?? 0;
    this.httpPortValue = options.httpPort;
    this.indexSnapshotId = snapshotIdFor(options.cluster, this.highestEpoch);
    this.noiseIntervalMs = options.noiseIntervalMs ?? DEFAULT_NOISE_INTERVAL_MS;
    this.gpuStateFile = path.resolve(options.dataDir, "gpu", `${options.name}.env`);
    this.hostKey = loadOrCreateHostKey(path.resolve(options.dataDir, "hostkeys"), options.name);
    const workDir = path.resolve(options.dataDir, "nodes", options.name);
    this.ssh = new SimSshServer({
      name: options.name,
      host: options.host,
      port: options.sshPort,
      hostKey: this.hostKey,
      authorizedKeys: options.authorizedKeys,
      cwd: workDir,
      commandEnv: () => ({
        PATH: `${SIM_BIN_DIR}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: workDir,
        LANG: "C.UTF-8",
        [SIM_GPU_STATE_ENV]: this.gpuStateFile,
        SWITCHYARD_SIM_NODE: options.name,
      }),
      onCommandStart: () => {
        this.runningCommands += 1;
        this.ensureNoiseTimer();
      },
      onCommandEnd: () => {
        this.runningCommands -= 1;
        this.lastCommandEndMs = Date.now();
      },
    });
  }

  get role(): SimRole {
    return this.roleValue;
  }
  get epoch(): number {
    return this.highestEpoch;
  }
  get httpPort(): number {
    return this.httpPortValue;
  }
  get sshPort(): number {
    return this.ssh.port;
  }
  get hostKeyFingerprint(): string {
    return this.hostKey.fingerprint;
  }
  get hostKeyPublicLine(): string {
    return this.hostKey.publicKeyLine;
  }
  get faults(): SimFault[] {
    return SIM_FAULTS.filter((f) => this.faultSet.has(f));
  }
  /** SSH connections, successful logins and commands since start. */
  get sshStats(): Readonly<{ connections: number; authenticated: number; commands: number }> {
    return { ...this.ssh.stats };
  }
  /** PIDs (= process groups) of commands running over SSH right now. */
  runningCommandPids(): number[] {
    return this.ssh.runningPids();
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await mkdir(path.dirname(this.gpuStateFile), { recursive: true });
    await mkdir(path.resolve(this.options.dataDir, "nodes", this.name), { recursive: true });
    await this.writeGpuState();
    await this.openHttp();
    await this.ssh.start();
    this.logRole("start");
  }

  /** Stops everything this node started: listeners, blackhole process, SSH commands, timers. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.queue.catch(() => {});
    if (this.noiseTimer) clearInterval(this.noiseTimer);
    this.noiseTimer = null;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.destroyParked();
    await Promise.all([this.closeHttp(), this.blackhole?.stop(), this.ssh.stop()]);
    this.blackhole = null;
    await this.gpuWrite.catch(() => {});
  }

  snapshot(): SimNodeSnapshot {
    return {
      name: this.name,
      host: this.host,
      cluster: this.cluster,
      role: this.roleValue,
      epoch: this.highestEpoch,
      httpPort: this.httpPortValue,
      sshPort: this.sshPort,
      faults: this.faults,
      slowMs: this.slowMs,
      healthy: this.isHealthy(),
      hostKeyFingerprint: this.hostKey.fingerprint,
      gpuStateFile: this.gpuStateFile,
    };
  }

  /** Applies a fault (or `recover`). Resolves once listeners, blackhole and GPU state reflect it. */
  applyFault(command: SimFaultCommand, options: { ms?: number } = {}): Promise<SimNodeSnapshot> {
    return this.serialized(async () => {
      if (command === "recover") {
        const wasDown = this.faultSet.has("crash");
        this.faultSet.clear();
        this.slowMs = null;
        await this.syncAfterFaultChange(wasDown);
        return this.snapshot();
      }
      if (command === "slow") {
        const ms = options.ms ?? 2_000;
        if (!Number.isInteger(ms) || ms < 1 || ms > 600_000)
          throw new Error("slow needs ms between 1 and 600000");
        this.slowMs = ms;
      }
      const wasDown = this.faultSet.has("crash");
      if (TRANSPORT_FAULTS.includes(command)) {
        for (const f of TRANSPORT_FAULTS) if (f !== command) this.faultSet.delete(f);
      }
      this.faultSet.add(command);
      await this.syncAfterFaultChange(wasDown);
      return this.snapshot();
    });
  }

  /** Clears one fault; the others stay. */
  clearFault(fault: SimFault): Promise<SimNodeSnapshot> {
    return this.serialized(async () => {
      const wasDown = this.faultSet.has("crash");
      this.faultSet.delete(fault);
      if (fault === "slow") this.slowMs = null;
      await this.syncAfterFaultChange(wasDown);
      return this.snapshot();
    });
  }

  /** Leave the pool. Idempotent. With an epoch, a stale one is refused like activate's. */
  degrade(epoch?: number): { ok: true; changed: boolean } | { ok: false; currentEpoch: number } {
    if (epoch !== undefined) {
      if (epoch < this.highestEpoch) return { ok: false, currentEpoch: this.highestEpoch };
      this.highestEpoch = epoch;
    }
    const changed = this.roleValue !== "standby";
    this.roleValue = "standby";
    this.logRole("degrade");
    this.scheduleGpuWrite();
    return { ok: true, changed };
  }

  /** Take over as master at `epoch`, refused if the node has seen a newer epoch. */
  activate(epoch: number): { ok: true; changed: boolean } | { ok: false; currentEpoch: number } {
    if (epoch < this.highestEpoch) return { ok: false, currentEpoch: this.highestEpoch };
    const changed = this.roleValue !== "master" || epoch !== this.highestEpoch;
    this.highestEpoch = epoch;
    this.roleValue = "master";
    this.indexSnapshotId = snapshotIdFor(this.cluster, epoch);
    this.logRole("activate");
    this.scheduleGpuWrite();
    return { ok: true, changed };
  }

  /** The GPU as nvidia-smi on this node reports it right now. */
  gpuState(): SimGpuState {
    const base = idleGpuState(this.name);
    const f = this.faultSet;
    const n = this.noise;
    const state: SimGpuState = { ...base, powerDrawW: round2(72 + n.power), temperatureC: 40 + n.temp };
    if (f.has("gpu_lost")) state.mode = "driver_lost";
    const processUp = !f.has("crash");
    if (processUp) {
      state.memoryUsedMib = MODEL_MEMORY_MIB;
      state.powerDrawW = round2(118 + n.power);
      state.temperatureC = 42 + n.temp;
    }
    if (processUp && this.isServing()) {
      state.utilizationGpuPct = n.util;
      state.utilizationMemoryPct = Math.round(n.util / 3);
      state.memoryUsedMib = MODEL_MEMORY_MIB + 1_536;
      state.powerDrawW = round2(150 + n.util * 5 + n.power);
      state.temperatureC = 50 + Math.round(n.util / 6) + n.temp;
    }
    if (f.has("gpu_saturated")) {
      state.utilizationGpuPct = 100;
      state.utilizationMemoryPct = 64;
      state.memoryUsedMib = 78_112;
      state.powerDrawW = round2(Math.min(state.powerLimitW - 1, 688 + n.power));
      state.temperatureC = 78 + n.temp;
    }
    if (f.has("gpu_overheated")) {
      state.temperatureC = 92;
      // A hot H100 throttles its SM clock; a controller may show that next to the temperature.
      state.clocksSmMhz = 1_410;
    }
    return state;
  }

  private isServing(): boolean {
    const f = this.faultSet;
    return (
      this.roleValue === "master" &&
      !f.has("crash") &&
      !f.has("hang") &&
      !f.has("blackhole") &&
      !f.has("http503") &&
      !f.has("gpu_lost")
    );
  }

  private isHealthy(): boolean {
    const f = this.faultSet;
    return (
      !f.has("crash") && !f.has("hang") && !f.has("blackhole") && !f.has("http503") && !f.has("gpu_lost")
    );
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private async syncAfterFaultChange(wasDown: boolean): Promise<void> {
    if (!this.started) throw new Error(`node ${this.name} is not running`);
    if (!this.faultSet.has("hang")) this.destroyParked();
    await this.syncTransport();
    const isDown = this.faultSet.has("crash");
    if (wasDown && !isDown) {
      // The process restarted: fresh uptime and counters, same role (it is on disk in real life).
      this.startedAtMs = Date.now();
      this.requestsServed = 0;
    }
    this.logRole(isDown ? "crash" : wasDown ? "recover" : "fault");
    await this.writeGpuState();
  }

  private async syncTransport(): Promise<void> {
    const want = this.faultSet.has("crash")
      ? "closed"
      : this.faultSet.has("blackhole")
        ? "blackhole"
        : "open";
    if (want !== "blackhole" && this.blackhole) {
      await this.blackhole.stop();
      this.blackhole = null;
    }
    if (want === "open") {
      await this.openHttp();
      return;
    }
    await this.closeHttp();
    if (want === "blackhole" && !this.blackhole) {
      this.blackhole = await Blackhole.start(this.host, this.httpPortValue);
    }
  }

  private async openHttp(): Promise<void> {
    if (this.httpServer) return;
    const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `node ${this.name}: cannot listen on ${this.host}:${this.httpPortValue} (${err.code ?? err.message})`,
          ),
        );
      server.once("error", onError);
      server.listen(this.httpPortValue, this.host, () => {
        server.removeListener("error", onError);
        const address = server.address();
        if (address && typeof address === "object") this.httpPortValue = address.port;
        resolve();
      });
    });
    server.on("error", () => {});
    this.httpServer = server;
  }

  private async closeHttp(): Promise<void> {
    const server = this.httpServer;
    if (!server) return;
    this.httpServer = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A dead process takes its sockets with it: no graceful keep-alive drain.
    server.closeAllConnections();
    await closed;
  }

  private destroyParked(): void {
    for (const res of this.parked) res.socket?.destroy();
    this.parked.clear();
  }

  private logRole(reason: string): void {
    const role: EffectiveRole = this.faultSet.has("crash") ? "down" : this.roleValue;
    const last = this.lastLogged;
    if (last && last.role === role && last.epoch === this.highestEpoch) return;
    // While down, role changes cannot happen over HTTP; programmatic ones are logged on restart.
    this.options.roleLog.append({
      node: this.name,
      cluster: this.cluster,
      from: last?.role ?? null,
      to: role,
      epoch: this.highestEpoch,
      atMs: preciseNowMs(),
      reason,
    });
    this.lastLogged = { role, epoch: this.highestEpoch };
  }

  private writeGpuState(): Promise<void> {
    // Chained so writes land in order; each renders the state current when it runs.
    const next = this.gpuWrite.then(() => writeGpuStateFile(this.gpuStateFile, this.gpuState()));
    this.gpuWrite = next.catch(() => {});
    return next;
  }

  private scheduleGpuWrite(): void {
    void this.writeGpuState().catch(() => {});
  }

  private ensureNoiseTimer(): void {
    if (this.noiseTimer || !this.started) return;
    this.noiseTimer = setInterval(() => {
      if (this.runningCommands === 0 && Date.now() - this.lastCommandEndMs > OBSERVED_LINGER_MS) {
        if (this.noiseTimer) clearInterval(this.noiseTimer);
        this.noiseTimer = null;
        return;
      }
      this.noise = {
        util: 20 + Math.floor(Math.random() * 21),
        power: Math.round((Math.random() * 10 - 5) * 100) / 100,
        temp: Math.floor(Math.random() * 3) - 1,
      };
      this.scheduleGpuWrite();
    }, this.noiseIntervalMs);
    this.noiseTimer.unref();
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.faultSet.has("hang")) {
      // Accepted and read, never answered; held until the node restarts or stops.
      this.parked.add(res);
      res.once("close", () => this.parked.delete(res));
      return;
    }
    this.route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return sendJson(res, err.status, err.body);
      sendJson(res, 500, { error: "internal_error", message: (err as Error).message });
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sim.invalid");
    const pathname = url.pathname;
    const method = req.method ?? "GET";
    const routes: Record<string, { methods: readonly string[]; run: () => Promise<void> }> = {
      "/health": { methods: ["GET"], run: () => this.handleHealth(res) },
      "/api/v1/degrade": { methods: ["POST"], run: () => this.handleDegrade(req, res) },
      "/api/v1/activate": { methods: ["POST"], run: () => this.handleActivate(req, res) },
      "/api/v1/status": { methods: ["GET"], run: async () => sendJson(res, 200, this.status()) },
      // GET is the idempotent variant, so a load balancer may retry it on another member.
      "/api/v1/search": {
        methods: ["GET", "POST"],
        run: () => (method === "POST" ? this.handleSearch(req, res) : this.handleSearchQuery(req, url, res)),
      },
    };
    const route = routes[pathname];
    if (!route) {
      req.resume();
      return sendJson(res, 404, { error: "not_found", path: pathname });
    }
    if (!route.methods.includes(method) && !(route.methods.includes("GET") && method === "HEAD")) {
      req.resume();
      const allow = route.methods.join(", ");
      res.setHeader("allow", allow);
      return sendJson(res, 405, { error: "method_not_allowed", allow });
    }
    this.requestsServed += 1;
    await route.run();
  }

  private async handleHealth(res: ServerResponse): Promise<void> {
    if (this.slowMs !== null) await this.delay(this.slowMs);
    const identity = { role: this.roleValue, epoch: this.highestEpoch, node: this.name };
    if (this.faultSet.has("gpu_lost")) {
      return sendJson(res, 503, { status: "unhealthy", ...identity, error: GPU_LOST_HEALTH_ERROR });
    }
    if (this.faultSet.has("http503")) return sendJson(res, 503, { status: "unhealthy", ...identity });
    sendJson(res, 200, { status: "healthy", ...identity });
  }

  private async handleDegrade(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = degradeBody.safeParse(await readJsonBody(req, MAX_BODY_BYTES));
    if (!body.success) return sendJson(res, 400, badRequest(body.error));
    const result = this.degrade(body.data?.epoch);
    if (!result.ok) return sendJson(res, 409, { error: "stale_epoch", epoch: result.currentEpoch });
    sendJson(res, 200, {
      status: "ok",
      node: this.name,
      role: this.roleValue,
      epoch: this.highestEpoch,
      changed: result.changed,
    });
  }

  private async handleActivate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readJsonBody(req, MAX_BODY_BYTES);
    const body = activateBody.safeParse(raw);
    if (!body.success)
      return sendJson(res, 400, badRequest(body.error, 'expected {"epoch": <non-negative integer>}'));
    if (body.data.epoch < this.highestEpoch) {
      return sendJson(res, 409, { error: "stale_epoch", epoch: this.highestEpoch });
    }
    if (!this.isHealthy()) {
      // It cannot load the model/index onto a GPU it cannot use; the epoch is still remembered.
      this.highestEpoch = body.data.epoch;
      return sendJson(res, 503, { error: "unhealthy", node: this.name, faults: this.faults });
    }
    const result = this.activate(body.data.epoch);
    if (!result.ok) return sendJson(res, 409, { error: "stale_epoch", epoch: result.currentEpoch });
    sendJson(res, 200, {
      status: "ok",
      node: this.name,
      role: this.roleValue,
      epoch: this.highestEpoch,
      indexSnapshotId: this.indexSnapshotId,
      changed: result.changed,
    });
  }

  private async handleSearch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = searchBody.safeParse(await readJsonBody(req, MAX_BODY_BYTES));
    if (!body.success)
      return sendJson(res, 400, badRequest(body.error, 'expected {"query": string, "k"?: 1..100}'));
    await this.answerSearch(res, body.data.query, body.data.k);
  }

  /** GET /api/v1/search?q=...&k=...: the same search, idempotent, with the query in the URL. */
  private async handleSearchQuery(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    req.resume();
    const qs = url.searchParams.getAll("q");
    const ks = url.searchParams.getAll("k");
    const kText = ks[0];
    const parsed = searchBody.safeParse({
      query: qs.length === 1 ? qs[0] : undefined,
      k: kText === undefined ? undefined : /^[0-9]{1,3}$/.test(kText) ? Number(kText) : Number.NaN,
    });
    if (!parsed.success || qs.length !== 1 || ks.length > 1) {
      return sendJson(res, 400, {
        error: "bad_request",
        message: "expected ?q=<1..2000 characters>&k=<1..100>, each at most once",
        issues: parsed.success
          ? [{ path: "query", message: "q and k may each appear at most once" }]
          : parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
      });
    }
    await this.answerSearch(res, parsed.data.query, parsed.data.k);
  }

  private async answerSearch(res: ServerResponse, query: string, k = 5): Promise<void> {
    if (this.faultSet.has("gpu_lost")) {
      return sendJson(res, 503, { error: "unhealthy", message: GPU_LOST_HEALTH_ERROR });
    }
    if (this.faultSet.has("http503")) return sendJson(res, 503, { error: "unhealthy" });
    const started = performance.now();
    const hits = fakeHits(query, k);
    await this.delay(2 + (hits.seed % 6));
    sendJson(res, 200, {
      node: this.name,
      role: this.roleValue,
      indexSnapshotId: this.indexSnapshotId,
      query,
      k,
      hits: hits.hits,
      tookMs: Math.round((performance.now() - started) * 100) / 100,
    });
  }

  private status(): Record<string, unknown> {
    const gpu = this.gpuState();
    return {
      node: this.name,
      cluster: this.cluster,
      role: this.roleValue,
      epoch: this.highestEpoch,
      status: this.isHealthy() ? "healthy" : "unhealthy",
      faults: this.faults,
      slowMs: this.slowMs,
      gpu: {
        mode: gpu.mode,
        name: gpu.name,
        uuid: gpu.uuid,
        utilizationGpuPct: gpu.utilizationGpuPct,
        utilizationMemoryPct: gpu.utilizationMemoryPct,
        memoryUsedMib: gpu.memoryUsedMib,
        memoryTotalMib: gpu.memoryTotalMib,
        temperatureC: gpu.temperatureC,
        powerDrawW: gpu.powerDrawW,
      },
      uptimeSec: Math.round((Date.now() - this.startedAtMs) / 10) / 100,
      startedAt: new Date(this.startedAtMs).toISOString(),
      indexSnapshotId: this.indexSnapshotId,
      requestsServed: this.requestsServed,
    };
  }
}

function snapshotIdFor(cluster: string, epoch: number): string {
  return `${cluster}-snap-${String(epoch).padStart(6, "0")}`;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function badRequest(error: z.ZodError, hint?: string): Record<string, unknown> {
  return {
    error: "bad_request",
    message: hint ?? "invalid request body",
    issues: error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
  };
}

/** Deterministic hits: the same query always returns the same documents, on every node. */
function fakeHits(
  query: string,
  k: number,
): { seed: number; hits: Array<{ id: string; score: number; title: string }> } {
  const digest = (i: number) => createHash("sha256").update(`${query}\u0000${i}`).digest("hex");
  const hits = Array.from({ length: k }, (_, i) => {
    const h = digest(i);
    return {
      id: `doc-${h.slice(0, 10)}`,
      score: Math.round((0.92 - i * 0.035 - Number.parseInt(h.slice(10, 12), 16) / 25_500) * 10_000) / 10_000,
      title: `Passage ${h.slice(12, 18)}`,
    };
  });
  return { seed: Number.parseInt(digest(-1).slice(0, 4), 16), hits };
}
