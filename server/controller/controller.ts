// The controller: the process that watches the fleet.
//
// Exactly one replica leads (lease row + fencing epoch, see lease.ts); followers only retry the
// lease. The leader runs the prober (TCP + GET /health per node), the GPU collector (one SSH
// connection per node streaming nvidia-smi), the detectors and alert evaluators (pure, in memory:
// decisions never wait on the database), and a once-a-tick writer that batches everything to
// Postgres with the epoch as a fence.
//
// The database is a sink, not a dependency of decisions: when Postgres goes away the leader keeps
// probing and detecting, buffers what it would have written (bounded; the oldest raw samples are
// dropped first and counted, state changes are never dropped), and flushes in order when the
// database is back. If the lease changed hands meanwhile, the fence refuses the stale writes.
import { randomUUID } from "node:crypto";
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { and, eq, gte, inArray, isNull } from "drizzle-orm";
import { createDb, type Db } from "@/db/client";
import { alerts, clusterAvailabilityChanges, nodeStateChanges, nodes, switchovers } from "@/db/schema";
import { loadPrivateKey } from "@/server/credentials/store";
import { GpuCollector, toGpuObservation } from "@/server/gpu/collector";
import type { GpuSample } from "@/server/gpu/parse-nvidia-smi";
import {
  ensurePartitions,
  type GpuSampleRow,
  type HeartbeatRow,
  insertGpuSamples,
  insertHeartbeats,
  rollupHours,
  rollupMinutes,
  runRetention,
} from "@/server/history";
import { type ControllerMetrics, createControllerMetrics } from "@/server/metrics/controller-metrics";
import { startMetricsServer } from "@/server/metrics/serve-metrics";
import { INVENTORY_CHANNEL, listen, recordEvent } from "@/server/notify/events";
import { type AlertKind, autoFailoverGuard, failoverRateAlert, NodeAlertState } from "@/server/policy/alerts";
import { assessFleetBlip, NodeDetector, type Transition } from "@/server/policy/detector";
import type { ProbeResult } from "@/server/probes/probe-node";
import { ProbeScheduler, type ProbeSchedulerStats } from "@/server/probes/scheduler";
import { SwitchoverExecutor } from "@/server/switchover/engine";
import { requestPoolChange, requestSwitchover, SwitchoverRequestError } from "@/server/switchover/request";
import {
  type Inventory,
  type InventoryCluster,
  type InventoryNode,
  isClusterAvailable,
  loadInventory,
} from "./inventory";
import { acquireOrRenewLease, assertLeaseEpoch, CONTROLLER_LEASE, releaseLease } from "./lease";

export type ControllerOptions = {
  databaseUrl: string;
  /** Key that opens sealed SSH credentials; without it there is no GPU telemetry. */
  secretKey: Buffer | null;
  holderId?: string;
  leaseTtlMs?: number;
  /** null: no metrics endpoint. */
  metricsPort?: number | null;
  metricsHost?: string;
  probeConcurrency?: number;
  gpuSampleIntervalMs?: number;
  gpu?: boolean;
  /** Buffer cap for raw rows while the database is unreachable. */
  maxBufferedRows?: number;
  log?: (line: string) => void;
};

type NodeRuntime = {
  node: InventoryNode;
  clusterName: string;
  detector: NodeDetector;
  alerts: NodeAlertState;
  /** Alert kinds open in the database for this node. */
  openAlerts: Set<string>;
  suspectSince: number | null;
  lastProbe: ProbeResult | null;
  seenDirty: boolean;
  lastGpu: GpuSample[] | null;
};

type StateWrite = {
  kind: "transition";
  nodeId: string;
  clusterId: string;
  nodeName: string;
  transition: Transition;
  reportedRole: string | null;
};
type AvailabilityWrite = {
  kind: "availability";
  clusterId: string;
  clusterName: string;
  available: boolean;
  at: number;
  reason: string;
};
type AlertWrite =
  | {
      kind: "alert_fire";
      nodeId: string | null;
      clusterId: string;
      alertKind: string;
      severity: "warning" | "critical";
      message: string;
      at: number;
    }
  | {
      kind: "alert_resolve";
      nodeId: string | null;
      clusterId: string;
      alertKind: string;
      at: number;
      message: string;
    };
type EventWrite = { kind: "event"; event: Parameters<typeof recordEvent>[1] };
type Write = StateWrite | AvailabilityWrite | AlertWrite | EventWrite;

export type ControllerStatus = {
  holderId: string;
  leader: boolean;
  epoch: number | null;
  nodes: number;
  bufferedRows: number;
  pendingWrites: number;
  droppedRows: number;
  dbHealthy: boolean;
  lastFlushAt: number | null;
  probes: ProbeSchedulerStats | null;
  gpu: ReturnType<GpuCollector["stats"]> | null;
  /** Event-loop delay since the last status read: a blocked loop makes every probe late. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
};

const TICK_MS = 1000;
/** Alert kinds NodeAlertState decides (fire and resolve); others are raised by events. */
const EVALUATED_ALERT_KINDS: ReadonlySet<string> = new Set<AlertKind>([
  "gpu_temperature",
  "gpu_memory",
  "gpu_saturation",
  "health_latency",
  "gpu_telemetry_lost",
]);

export class Controller {
  readonly holderId: string;
  private readonly opts: Required<Omit<ControllerOptions, "secretKey" | "log" | "holderId">> & {
    secretKey: Buffer | null;
    log: (line: string) => void;
  };
  private readonly handle: ReturnType<typeof createDb>;
  private readonly db: Db;
  private readonly metrics: ControllerMetrics;
  private metricsServer: { close: () => Promise<void> } | null = null;

  private leader = false;
  private epoch: number | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private leaseBusy = false;
  private tickBusy = false;

  private inventory: Inventory = { clusters: new Map(), nodes: new Map() };
  private runtimes = new Map<string, NodeRuntime>();
  private clusterAvailable = new Map<string, boolean | null>();
  private prober: ProbeScheduler | null = null;
  private collector: GpuCollector | null = null;
  private executor: SwitchoverExecutor | null = null;
  /** Per cluster: start times of automatic failovers in the last hour (cooldown and freeze). */
  private autoFailovers = new Map<string, number[]>();
  /** Per cluster: a decision in progress (request being written), and the last reason it was blocked. */
  private deciding = new Set<string>();
  private lastBlock = new Map<string, string>();
  /** When a stale master was last fenced, per node (at most every 10 s). */
  private lastFence = new Map<string, number>();
  private lastPickUp = 0;
  private unlisten: (() => Promise<void>) | null = null;
  private reloadRequested = false;
  private lastInventoryLoad = 0;

  private heartbeats: HeartbeatRow[] = [];
  private gpuRows: GpuSampleRow[] = [];
  private writes: Write[] = [];
  private droppedRows = 0;
  private dbHealthy = true;
  private lastFlushAt: number | null = null;
  private lastMaintenance = 0;
  private probeFailuresThisTick = 0;
  private probesThisTick = 0;
  private blipHeld = false;

  constructor(options: ControllerOptions) {
    this.holderId = options.holderId ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.opts = {
      databaseUrl: options.databaseUrl,
      secretKey: options.secretKey,
      leaseTtlMs: options.leaseTtlMs ?? 5000,
      metricsPort: options.metricsPort ?? null,
      metricsHost: options.metricsHost ?? "127.0.0.1",
      probeConcurrency: options.probeConcurrency ?? 256,
      gpuSampleIntervalMs: options.gpuSampleIntervalMs ?? 1000,
      gpu: options.gpu ?? true,
      maxBufferedRows: options.maxBufferedRows ?? 600_000,
      log: options.log ?? ((l) => console.log(`[controller] ${l}`)),
    };
    this.handle = createDb(options.databaseUrl, { max: 4, applicationName: "switchyard-controller" });
    this.db = this.handle.db;
    this.metrics = createControllerMetrics();
  }

  status(): ControllerStatus {
    return {
      holderId: this.holderId,
      leader: this.leader,
      epoch: this.epoch,
      nodes: this.runtimes.size,
      bufferedRows: this.heartbeats.length + this.gpuRows.length,
      pendingWrites: this.writes.length,
      droppedRows: this.droppedRows,
      dbHealthy: this.dbHealthy,
      lastFlushAt: this.lastFlushAt,
      probes: this.prober?.stats() ?? null,
      gpu: this.collector?.stats() ?? null,
      eventLoopDelayMs: this.readLoopDelay(),
    };
  }

  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });

  private readLoopDelay(): ControllerStatus["eventLoopDelayMs"] {
    const h = this.loopDelay;
    const ms = (ns: number) => Math.round((ns / 1e6) * 10) / 10;
    const out = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
    h.reset();
    return out;
  }

  /** The in-memory detector state of a node (for tests and the status endpoint). */
  nodeState(nodeId: string): string | null {
    return this.runtimes.get(nodeId)?.detector.state ?? null;
  }

  async start(): Promise<void> {
    this.loopDelay.enable();
    if (this.opts.metricsPort !== null) {
      this.metricsServer = await startMetricsServer({
        host: this.opts.metricsHost,
        port: this.opts.metricsPort,
        render: () => this.metrics.render(),
        health: () => ({ ok: true, body: this.status() }),
      });
    }
    await this.leaseStep();
    const every = Math.max(100, Math.floor(this.opts.leaseTtlMs / 3));
    this.leaseTimer = setInterval(() => void this.leaseStep(), every);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = null;
    const wasLeader = this.leader;
    const epoch = this.epoch;
    await this.stepDown("shutting down");
    if (wasLeader && epoch !== null) {
      await this.flush().catch(() => {});
      await releaseLease(this.db, { holderId: this.holderId, epoch }).catch(() => {});
    }
    await this.metricsServer?.close();
    this.loopDelay.disable();
    await this.handle.sql.end({ timeout: 5 });
  }

  // ---- leadership -------------------------------------------------------------------------

  private async leaseStep(): Promise<void> {
    if (this.leaseBusy || this.stopping) return;
    this.leaseBusy = true;
    try {
      const lease = await acquireOrRenewLease(this.db, {
        holderId: this.holderId,
        ttlMs: this.opts.leaseTtlMs,
      });
      this.dbHealthy = true;
      if (lease.leader) {
        if (!this.leader) await this.becomeLeader(lease.epoch);
        else if (lease.epoch !== this.epoch) {
          // We lost the lease while cut off and took it back: same duties, a new fence.
          this.opts.log(`lease re-acquired with epoch ${lease.epoch} (was ${this.epoch})`);
          this.epoch = lease.epoch;
        }
        this.metrics.controllerEpoch.set(lease.epoch);
      } else if (this.leader) {
        await this.stepDown(`lease now held by ${lease.holderId} (epoch ${lease.epoch})`);
      }
    } catch (err) {
      // The database is unreachable: keep doing what we were doing. A leader keeps probing and
      // buffering; its writes will be fenced if someone else took over meanwhile.
      if (this.dbHealthy) this.opts.log(`database unreachable: ${(err as Error).message}`);
      this.dbHealthy = false;
    } finally {
      this.leaseBusy = false;
    }
  }

  private async becomeLeader(epoch: number): Promise<void> {
    this.leader = true;
    this.epoch = epoch;
    this.metrics.controllerLeader.set(1);
    this.metrics.controllerEpoch.set(epoch);
    this.opts.log(`leading with epoch ${epoch} (holder ${this.holderId})`);
    try {
      const { unlisten } = await listen(this.handle.sql, INVENTORY_CHANNEL, () => {
        this.reloadRequested = true;
      });
      this.unlisten = unlisten;
    } catch (err) {
      this.opts.log(
        `could not LISTEN for inventory changes (${(err as Error).message}); reloading on a timer`,
      );
    }
    this.prober = new ProbeScheduler({
      concurrency: this.opts.probeConcurrency,
      onResult: (nodeId, result, timing) => this.onProbe(nodeId, result, timing.latenessMs),
    });
    if (this.opts.gpu && this.opts.secretKey) {
      this.collector = new GpuCollector({
        sampleIntervalMs: this.opts.gpuSampleIntervalMs,
        events: {
          onSamples: (nodeId, samples, at) => this.onGpuSamples(nodeId, samples, at),
          onTelemetryLost: (nodeId, reason, at) => this.onTelemetryLost(nodeId, reason, at),
          onTelemetryRestored: (nodeId, at) => this.onTelemetryRestored(nodeId, at),
          onHostKeyMismatch: (nodeId, expected, actual, at) =>
            this.onHostKeyMismatch(nodeId, expected, actual, at),
        },
      });
    } else if (this.opts.gpu) {
      this.opts.log("no secret key: GPU telemetry over SSH is off (set SWITCHYARD_SECRET_KEY)");
    }
    await this.reloadInventory();
    await this.loadFailoverHistory();
    this.prober.start();
    this.collector?.start();
    this.executor = new SwitchoverExecutor({
      db: this.db,
      sql: this.handle.sql,
      secretKey: this.opts.secretKey,
      controllerEpoch: () => (this.leader ? this.epoch : null),
      nodeState: (id) => this.runtimes.get(id)?.detector.state,
      log: this.opts.log,
      onFinished: (sw) => this.onSwitchoverFinished(sw),
    });
    await this.executor.start().catch((err: Error) => this.opts.log(`switchover executor: ${err.message}`));
    this.queueEvent({
      kind: "controller.leader",
      severity: "info",
      message: `controller ${this.holderId} leads with epoch ${epoch}`,
      data: { epoch, holderId: this.holderId },
    });
    this.tickTimer = setInterval(() => void this.tick(), TICK_MS);
  }

  private async stepDown(why: string): Promise<void> {
    if (!this.leader) return;
    this.opts.log(`stepping down: ${why}`);
    this.leader = false;
    this.metrics.controllerLeader.set(0);
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    await this.executor?.stop();
    this.executor = null;
    await this.prober?.stop();
    await this.collector?.stop();
    this.prober = null;
    this.collector = null;
    await this.unlisten?.().catch(() => {});
    this.unlisten = null;
    if (!this.stopping) {
      // Another leader owns the fleet now; what we buffered would be fenced anyway.
      this.heartbeats = [];
      this.gpuRows = [];
      this.writes = [];
      this.epoch = null;
    }
    this.runtimes.clear();
  }

  // ---- inventory --------------------------------------------------------------------------

  private async reloadInventory(): Promise<void> {
    let inv: Inventory;
    try {
      inv = await loadInventory(this.db);
    } catch (err) {
      this.opts.log(`inventory reload failed: ${(err as Error).message}`);
      return;
    }
    this.inventory = inv;
    this.lastInventoryLoad = Date.now();
    const created: string[] = [];
    for (const [id, rt] of this.runtimes) {
      if (!inv.nodes.has(id)) {
        this.prober?.remove(id);
        this.collector?.remove(id);
        this.metrics.removeNode(rt.clusterName, rt.node.name);
        this.runtimes.delete(id);
      }
    }
    for (const node of inv.nodes.values()) {
      const cluster = inv.clusters.get(node.clusterId);
      if (!cluster) continue;
      let rt = this.runtimes.get(node.id);
      if (!rt) {
        created.push(node.id);
        rt = {
          node,
          clusterName: cluster.name,
          detector: new NodeDetector(cluster.policy, {
            state: node.state,
            since: node.stateChangedAt.getTime(),
          }),
          alerts: new NodeAlertState(cluster.policy),
          openAlerts: new Set(),
          suspectSince: node.state === "suspect" ? node.stateChangedAt.getTime() : null,
          lastProbe: null,
          seenDirty: false,
          lastGpu: null,
        };
        this.runtimes.set(node.id, rt);
      } else {
        rt.node = node;
        rt.clusterName = cluster.name;
        rt.detector.setPolicy(cluster.policy);
        rt.alerts.setPolicy(cluster.policy);
      }
      this.prober?.upsert(
        node.id,
        { host: node.host, port: node.servicePort, healthPath: node.healthPath },
        {
          intervalMs: cluster.policy.probeIntervalMs,
          tcpTimeoutMs: cluster.policy.tcpTimeoutMs,
          httpTimeoutMs: cluster.policy.httpTimeoutMs,
        },
      );
      if (this.collector && this.opts.secretKey && node.credentialId) {
        try {
          const privateKey = await loadPrivateKey(this.db, this.opts.secretKey, node.credentialId);
          this.collector.upsert({
            id: node.id,
            name: node.name,
            host: node.host,
            port: node.sshPort,
            username: node.sshUser,
            privateKey,
            hostKeyFingerprint: node.hostKeyFingerprint,
          });
        } catch (err) {
          this.opts.log(
            `node ${node.name}: SSH credential unusable (${(err as Error).message}); no GPU telemetry`,
          );
        }
      }
    }
    if (created.length > 0) await this.adoptOpenAlerts(created);
    for (const c of inv.clusters.values()) {
      const now = isClusterAvailable(c, (id) => this.runtimes.get(id)?.detector.state);
      if (!this.clusterAvailable.has(c.id)) {
        this.clusterAvailable.set(c.id, now);
        continue;
      }
      // A switchover changes which node serves without any node changing state: the outage that
      // started when the old primary failed ends when the inventory names a healthy new one.
      const before = this.clusterAvailable.get(c.id) ?? null;
      if (now !== null && before !== null && now !== before) {
        const primary = c.primaryNodeId ? this.inventory.nodes.get(c.primaryNodeId) : undefined;
        this.writes.push({
          kind: "availability",
          clusterId: c.id,
          clusterName: c.name,
          available: now,
          at: Date.now(),
          reason: `primary is now ${primary?.name ?? "none"}`,
        });
        this.clusterAvailable.set(c.id, now);
      }
    }
  }

  /** Alerts a previous leader left open are ours now: without adopting them, one that stopped
   * firing while leadership changed hands would stay open forever. Only the kinds the evaluator
   * decides; a host-key alert resolves when telemetry is restored after a re-pin. */
  private async adoptOpenAlerts(nodeIds: string[]): Promise<void> {
    try {
      const open = await this.db
        .select({ kind: alerts.kind, nodeId: alerts.nodeId })
        .from(alerts)
        .where(and(isNull(alerts.resolvedAt), inArray(alerts.nodeId, nodeIds)));
      for (const a of open) {
        if (!a.nodeId || !EVALUATED_ALERT_KINDS.has(a.kind)) continue;
        this.runtimes.get(a.nodeId)?.openAlerts.add(a.kind);
      }
    } catch (err) {
      this.opts.log(`could not read open alerts: ${(err as Error).message}`);
    }
  }

  // ---- observations (hot path: memory only) -----------------------------------------------

  private onProbe(nodeId: string, result: ProbeResult, latenessMs: number): void {
    const rt = this.runtimes.get(nodeId);
    if (!rt || !this.leader) return;
    rt.lastProbe = result;
    rt.seenDirty = true;
    this.probesThisTick++;
    const failed = !result.tcpOk || !result.httpOk;
    if (failed) this.probeFailuresThisTick++;
    this.metrics.observeProbe(result, latenessMs);
    rt.alerts.observeProbe(result);
    this.pushHeartbeat({
      time: new Date(result.at),
      nodeId,
      tcpOk: result.tcpOk,
      tcpMs: result.tcpMs,
      httpOk: result.httpOk,
      httpStatus: result.httpStatus,
      httpMs: result.httpMs,
      reportedRole: result.reportedRole,
      error: result.error ?? null,
    });
    const t = rt.detector.observeProbe(result);
    if (t) this.onTransition(rt, t, result.reportedRole);
    this.metrics.setNodeState(rt.clusterName, rt.node.name, rt.detector.state);
  }

  private onTransition(rt: NodeRuntime, t: Transition, reportedRole: string | null): void {
    if (t.to === "suspect") rt.suspectSince = t.at;
    this.writes.push({
      kind: "transition",
      nodeId: rt.node.id,
      clusterId: rt.node.clusterId,
      nodeName: rt.node.name,
      transition: t,
      reportedRole,
    });
    const cluster = this.inventory.clusters.get(rt.node.clusterId);
    if (cluster) {
      const now = isClusterAvailable(cluster, (id) => this.runtimes.get(id)?.detector.state);
      const before = this.clusterAvailable.get(cluster.id) ?? null;
      if (now !== null && now !== before) {
        // An outage starts when the serving node first failed a probe, not when we were sure.
        const at = now === false && rt.suspectSince !== null ? rt.suspectSince : t.at;
        this.writes.push({
          kind: "availability",
          clusterId: cluster.id,
          clusterName: cluster.name,
          available: now,
          at,
          reason: `${rt.node.name}: ${t.from} → ${t.to} (${t.reason})`,
        });
      }
      if (now !== null) this.clusterAvailable.set(cluster.id, now);
    }
    if (t.to !== "suspect") rt.suspectSince = t.to === "healthy" ? null : rt.suspectSince;
    // Decide now, not at the next tick: every second counts in a failover.
    if (cluster && (t.to === "failed" || t.to === "healthy")) void this.decide(cluster.id);
  }

  private onGpuSamples(nodeId: string, samples: GpuSample[], at: number): void {
    const rt = this.runtimes.get(nodeId);
    if (!rt || !this.leader) return;
    rt.lastGpu = samples;
    const obs = toGpuObservation(samples, at);
    rt.detector.observeGpu(obs);
    rt.alerts.observeGpu(obs);
    for (const s of samples) {
      this.pushGpu({
        time: new Date(at),
        nodeId,
        gpuIndex: s.index,
        utilizationPct: s.utilizationGpuPct,
        memoryUsedMib: s.memoryUsedMib,
        memoryTotalMib: s.memoryTotalMib,
        temperatureC: s.temperatureC,
        powerW: s.powerDrawW,
        error: null,
      });
      this.metrics.setGpu(rt.clusterName, rt.node.name, s);
    }
    this.metrics.setGpuTelemetryUp(rt.clusterName, rt.node.name, true);
  }

  private onTelemetryLost(nodeId: string, reason: { code: string; message: string }, at: number): void {
    const rt = this.runtimes.get(nodeId);
    if (!rt || !this.leader) return;
    const obs = { at, ok: false as const, reason: reason.message };
    rt.detector.observeGpu(obs);
    rt.alerts.observeGpu(obs);
    this.metrics.setGpuTelemetryUp(rt.clusterName, rt.node.name, false);
    // A marker row, so history shows the gap as "lost", not as missing data.
    this.pushGpu({
      time: new Date(at),
      nodeId,
      gpuIndex: 0,
      utilizationPct: null,
      memoryUsedMib: null,
      memoryTotalMib: null,
      temperatureC: null,
      powerW: null,
      error: `${reason.code}: ${reason.message}`.slice(0, 500),
    });
    this.queueEvent({
      kind: "gpu.telemetry_lost",
      severity: "warning",
      clusterId: rt.node.clusterId,
      nodeId,
      message: `${rt.node.name}: GPU telemetry lost (${reason.message})`,
      data: reason,
      at: new Date(at),
    });
  }

  private onTelemetryRestored(nodeId: string, at: number): void {
    const rt = this.runtimes.get(nodeId);
    if (!rt || !this.leader) return;
    this.metrics.setGpuTelemetryUp(rt.clusterName, rt.node.name, true);
    // Telemetry flows again, so the pinned host key matches: a host-key alert is over.
    this.writes.push({
      kind: "alert_resolve",
      nodeId,
      clusterId: rt.node.clusterId,
      alertKind: "host_key_changed",
      at,
      message: `${rt.node.name}: SSH host key matches its pin again`,
    });
    this.queueEvent({
      kind: "gpu.telemetry_restored",
      clusterId: rt.node.clusterId,
      nodeId,
      message: `${rt.node.name}: GPU telemetry restored`,
      at: new Date(at),
    });
  }

  private onHostKeyMismatch(nodeId: string, expected: string, actual: string, at: number): void {
    const rt = this.runtimes.get(nodeId);
    if (!rt || !this.leader) return;
    this.writes.push({
      kind: "alert_fire",
      nodeId,
      clusterId: rt.node.clusterId,
      alertKind: "host_key_changed",
      severity: "critical",
      message: `${rt.node.name}: SSH host key changed (pinned ${expected}, presented ${actual}); all SSH to this node is stopped until an operator trusts the new key`,
      at,
    });
  }

  private queueEvent(event: EventWrite["event"]): void {
    this.writes.push({ kind: "event", event });
  }

  private pushHeartbeat(row: HeartbeatRow): void {
    this.heartbeats.push(row);
    this.enforceBufferCap();
  }
  private pushGpu(row: GpuSampleRow): void {
    this.gpuRows.push(row);
    this.enforceBufferCap();
  }
  private enforceBufferCap(): void {
    const over = this.heartbeats.length + this.gpuRows.length - this.opts.maxBufferedRows;
    if (over <= 0) return;
    // Raw samples are the cheapest thing to lose; drop the oldest GPU rows first, then heartbeats.
    const fromGpu = Math.min(over, this.gpuRows.length);
    this.gpuRows.splice(0, fromGpu);
    this.heartbeats.splice(0, over - fromGpu);
    this.droppedRows += over;
  }

  // ---- once a tick: alerts, fleet guard, writes, maintenance ------------------------------

  private async tick(): Promise<void> {
    if (this.tickBusy || !this.leader) return;
    this.tickBusy = true;
    try {
      const now = Date.now();
      this.assessBlip();
      this.evaluateAlerts(now);
      if (this.reloadRequested || now - this.lastInventoryLoad > 30_000) {
        this.reloadRequested = false;
        await this.reloadInventory();
      }
      await this.flush();
      if (this.dbHealthy) {
        for (const id of this.inventory.clusters.keys()) await this.decide(id);
        // LISTEN delivers requests at once; this is the safety net for a missed notification.
        if (now - this.lastPickUp > 5_000) {
          this.lastPickUp = now;
          await this.executor?.pickUp();
        }
      }
      if (now - this.lastMaintenance > 60_000 && this.dbHealthy) {
        this.lastMaintenance = now;
        await this.maintenance(new Date(now)).catch((err: Error) =>
          this.opts.log(`maintenance: ${err.message}`),
        );
      }
      const stats = this.prober?.stats();
      if (stats) this.metrics.setProberStats(stats);
      this.metrics.bufferedRows.set(this.heartbeats.length + this.gpuRows.length);
    } finally {
      this.tickBusy = false;
    }
  }

  // ---- decisions: automatic failover and pool membership ----------------------------------

  private async loadFailoverHistory(): Promise<void> {
    try {
      const rows = await this.db
        .select({ clusterId: switchovers.clusterId, at: switchovers.requestedAt })
        .from(switchovers)
        .where(
          and(eq(switchovers.kind, "auto"), gte(switchovers.requestedAt, new Date(Date.now() - 3_600_000))),
        );
      this.autoFailovers.clear();
      for (const r of rows) {
        const list = this.autoFailovers.get(r.clusterId) ?? [];
        list.push(r.at.getTime());
        this.autoFailovers.set(r.clusterId, list);
      }
    } catch (err) {
      this.opts.log(`could not read recent failovers: ${(err as Error).message}`);
    }
  }

  private onSwitchoverFinished(sw: { clusterId: string; kind: string; state: string }): void {
    const cluster = this.inventory.clusters.get(sw.clusterId);
    if (cluster && (sw.kind === "manual" || sw.kind === "auto" || sw.kind === "drill")) {
      this.metrics.recordFailover(cluster.name, sw.state === "rolled_back" ? "rollback" : sw.kind);
    }
    // The inventory changed (new primary, LB membership): read it before the next decision.
    this.reloadRequested = true;
    void this.reloadInventory().then(() => this.decide(sw.clusterId));
  }

  /**
   * One decision for one cluster, from memory: fail over an active-standby cluster whose primary
   * the detector failed, or eject / readmit pool members. Requests go through the same path as an
   * operator's (a row, audited, picked up by the executor), so the database's one-in-flight rule
   * holds for automatic ones too.
   */
  private async decide(clusterId: string): Promise<void> {
    const cluster = this.inventory.clusters.get(clusterId);
    if (!cluster || !this.leader || this.blipHeld || this.deciding.has(clusterId)) return;
    if (this.executor?.activeClusterIds().has(clusterId)) return;
    this.deciding.add(clusterId);
    try {
      if (cluster.mode === "active_standby") await this.decideFailover(cluster);
      else if (cluster.loadBalancerId) await this.decidePool(cluster);
    } catch (err) {
      if (err instanceof SwitchoverRequestError && err.code === "in_flight") return;
      this.opts.log(`decision for ${cluster.name}: ${(err as Error).message}`);
    } finally {
      this.deciding.delete(clusterId);
    }
  }

  private async decideFailover(cluster: InventoryCluster): Promise<void> {
    const primary = cluster.primaryNodeId ? this.runtimes.get(cluster.primaryNodeId) : undefined;
    if (primary?.detector.state !== "failed") {
      this.lastBlock.delete(cluster.id);
      if (primary) {
        await this.fenceStaleMasters(cluster, primary.node.id);
        await this.reassertPrimary(cluster, primary);
        if (cluster.loadBalancerId) await this.readmitStandbys(cluster, primary.node.id);
      }
      return;
    }
    const now = Date.now();
    const standbys = cluster.nodeIds
      .map((id) => this.runtimes.get(id))
      .filter((rt): rt is NodeRuntime => !!rt && rt.node.id !== primary.node.id && !rt.node.maintenance)
      .filter((rt) => rt.detector.state === "healthy")
      .sort((a, b) => a.node.priority - b.node.priority || a.node.name.localeCompare(b.node.name));
    const history = (this.autoFailovers.get(cluster.id) ?? []).filter((t) => t > now - 3_600_000);
    const decision = autoFailoverGuard({
      now,
      lastAutoFailoverAt: history.length > 0 ? Math.max(...history) : null,
      failoverTimesMs: history,
      policy: cluster.policy,
      maintenance: cluster.maintenance,
      inFlight: this.executor?.activeClusterIds().has(cluster.id) ?? false,
      standbyHealthy: standbys.length > 0,
      frozenUntil: cluster.frozenUntil?.getTime() ?? null,
    });
    if (!decision.allowed) {
      if (this.lastBlock.get(cluster.id) !== decision.reason) {
        this.lastBlock.set(cluster.id, decision.reason);
        this.queueEvent({
          kind: "failover.blocked",
          severity: "critical",
          clusterId: cluster.id,
          nodeId: primary.node.id,
          message: `${cluster.name}: primary ${primary.node.name} failed, no automatic failover: ${decision.message}`,
          data: { reason: decision.reason, until: decision.until ?? null },
        });
        const rate = failoverRateAlert(history, now, cluster.policy);
        if (decision.reason === "frozen" && rate) {
          this.writes.push({
            kind: "alert_fire",
            nodeId: null,
            clusterId: cluster.id,
            alertKind: rate.kind,
            severity: rate.severity,
            message: `${cluster.name}: ${rate.message}`,
            at: now,
          });
        }
      }
      return;
    }
    const target = standbys[0] as NodeRuntime;
    const evidence = {
      detectedAt: new Date(primary.detector.stateSince ?? now).toISOString(),
      primary: {
        name: primary.node.name,
        state: primary.detector.state,
        lastProbe: primary.lastProbe,
      },
      standby: { name: target.node.name, state: target.detector.state, lastProbe: target.lastProbe },
      gpu: primary.lastGpu,
      policy: {
        preset: cluster.policy.preset,
        probeIntervalMs: cluster.policy.probeIntervalMs,
        failuresToFail: cluster.policy.failuresToFail,
        signalsRequired: cluster.policy.signalsRequired,
      },
    };
    const { id } = await requestSwitchover(this.db, {
      cluster: cluster.id,
      target: target.node.id,
      kind: "auto",
      reason: `primary ${primary.node.name} failed (${primary.lastProbe?.error ?? "health checks failing"})`,
      actor: { label: "controller", role: "system" },
      evidence,
    });
    history.push(now);
    this.autoFailovers.set(cluster.id, history);
    this.lastBlock.delete(cluster.id);
    this.opts.log(
      `automatic failover of ${cluster.name}: ${primary.node.name} → ${target.node.name} (${id})`,
    );
    await this.executor?.pickUp();
  }

  /** A healthy primary that says it is a standby (its service restarted as one): activate it again. */
  private async reassertPrimary(cluster: InventoryCluster, primary: NodeRuntime): Promise<void> {
    if (primary.detector.state !== "healthy" || primary.lastProbe?.reportedRole !== "standby") return;
    const key = `reassert:${primary.node.id}`;
    const now = Date.now();
    if (now - (this.lastFence.get(key) ?? 0) < 10_000) return;
    this.lastFence.set(key, now);
    const result = await this.executor?.reassertPrimary(cluster.id, primary.node.id);
    if (result && (result.ok || /failed/.test(result.message))) this.opts.log(result.message);
  }

  /** Standbys that claim master (a recovered ex-primary): degrade them with the current epoch. */
  private async fenceStaleMasters(cluster: InventoryCluster, primaryId: string): Promise<void> {
    const now = Date.now();
    for (const id of cluster.nodeIds) {
      if (id === primaryId) continue;
      const rt = this.runtimes.get(id);
      if (rt?.lastProbe?.reportedRole !== "master" || rt.detector.state !== "healthy") continue;
      const last = this.lastFence.get(id) ?? 0;
      if (now - last < 10_000) continue;
      this.lastFence.set(id, now);
      const result = await this.executor?.fenceStaleMaster(cluster.id, id);
      if (result) this.opts.log(result.message);
    }
  }

  /** A standby left `down` in the upstream by a failover (it had failed) goes back in as a backup
   * once it is healthy and says it is a standby (fenced), so nginx has a fallback again. */
  private async readmitStandbys(cluster: InventoryCluster, primaryId: string): Promise<void> {
    for (const id of cluster.nodeIds) {
      const rt = this.runtimes.get(id);
      if (!rt || id === primaryId || rt.node.maintenance || rt.node.lbStatus !== "ejected") continue;
      if (rt.detector.state !== "healthy" || rt.lastProbe?.reportedRole !== "standby") continue;
      await requestPoolChange(this.db, {
        node: id,
        kind: "readmit",
        reason: `${rt.node.name} healthy again as a standby: back in the upstream as a backup`,
        actor: { label: "controller", role: "system" },
        evidence: { node: rt.node.name, state: rt.detector.state, lastProbe: rt.lastProbe },
      });
      await this.executor?.pickUp();
      return;
    }
  }

  private async decidePool(cluster: InventoryCluster): Promise<void> {
    for (const id of cluster.nodeIds) {
      const rt = this.runtimes.get(id);
      if (!rt || rt.node.maintenance) continue;
      const state = rt.detector.state;
      let kind: "eject" | "readmit" | null = null;
      if (rt.node.lbStatus === "in" && state === "failed") {
        const othersServing = cluster.nodeIds.some((o) => {
          const ort = this.runtimes.get(o);
          return (
            o !== id &&
            ort?.node.lbStatus === "in" &&
            !ort.node.maintenance &&
            (ort.detector.state === "healthy" || ort.detector.state === "suspect")
          );
        });
        if (!othersServing) {
          const key = `last:${id}`;
          if (this.lastBlock.get(cluster.id) !== key) {
            this.lastBlock.set(cluster.id, key);
            this.queueEvent({
              kind: "failover.blocked",
              severity: "critical",
              clusterId: cluster.id,
              nodeId: id,
              message: `${cluster.name}: ${rt.node.name} failed but is the last member serving; not ejecting it`,
            });
          }
          continue;
        }
        kind = "eject";
      } else if (rt.node.lbStatus === "ejected" && state === "healthy") {
        // healthy again after `successesToRecover` good probes in a row (the detector's recovery).
        kind = "readmit";
      }
      if (!kind) continue;
      await requestPoolChange(this.db, {
        node: id,
        kind,
        reason:
          kind === "eject"
            ? `${rt.node.name} failed (${rt.lastProbe?.error ?? "health checks failing"})`
            : `${rt.node.name} healthy again (${cluster.policy.successesToRecover} good probes)`,
        actor: { label: "controller", role: "system" },
        evidence: { node: rt.node.name, state, lastProbe: rt.lastProbe },
      });
      await this.executor?.pickUp();
      return; // one change at a time per cluster
    }
  }

  private assessBlip(): void {
    const total = this.probesThisTick;
    const failed = this.probeFailuresThisTick;
    this.probesThisTick = 0;
    this.probeFailuresThisTick = 0;
    if (total === 0) return;
    const verdict = assessFleetBlip({ total, failedThisTick: failed, canaryOk: failed < total });
    if (verdict.hold && !this.blipHeld) {
      this.blipHeld = true;
      this.queueEvent({
        kind: "controller.network_blip",
        severity: "warning",
        message: verdict.message,
      });
    } else if (!verdict.hold && this.blipHeld) {
      this.blipHeld = false;
    }
  }

  /** True while failures look like the controller's own network trouble: decisions must wait. */
  get holdingDecisions(): boolean {
    return this.blipHeld;
  }

  private evaluateAlerts(now: number): void {
    for (const rt of this.runtimes.values()) {
      const firing = rt.alerts.evaluate(now);
      const kinds = new Set<string>();
      for (const a of firing) {
        kinds.add(a.kind);
        if (!rt.openAlerts.has(a.kind)) {
          rt.openAlerts.add(a.kind);
          this.writes.push({
            kind: "alert_fire",
            nodeId: rt.node.id,
            clusterId: rt.node.clusterId,
            alertKind: a.kind,
            severity: a.severity,
            message: `${rt.node.name}: ${a.message}`,
            at: now,
          });
        }
      }
      for (const open of rt.openAlerts) {
        if (!kinds.has(open)) {
          rt.openAlerts.delete(open);
          this.writes.push({
            kind: "alert_resolve",
            nodeId: rt.node.id,
            clusterId: rt.node.clusterId,
            alertKind: open,
            at: now,
            message: `${rt.node.name}: ${open.replaceAll("_", " ")} resolved`,
          });
        }
      }
    }
  }

  /** Writes everything buffered, oldest first. Stops at the first failure and keeps the rest. */
  async flush(): Promise<void> {
    const epoch = this.epoch;
    if (epoch === null) return;
    const fence = { leaseName: CONTROLLER_LEASE, epoch };
    try {
      while (this.writes.length > 0) {
        const w = this.writes[0] as Write;
        try {
          await this.applyWrite(w, epoch);
        } catch (err) {
          // A write the database rejects on its merits (bad data, a constraint) will be rejected
          // forever: retrying it would block every later write behind it. Log it, count it, drop
          // it. Anything else (connection lost, server restarting) is retried from here next tick.
          if (!isPermanentDbError(err)) throw err;
          this.metrics.dbWriteErrors.inc();
          this.opts.log(`dropped a ${w.kind} write the database rejected: ${describeDbError(err)}`);
        }
        this.writes.shift();
      }
      await this.flushSeen(epoch);
      // Take each buffer before awaiting: probes keep arriving during the insert, and those rows
      // belong to the next batch. On failure the batch goes back in front, in order.
      if (this.heartbeats.length > 0) {
        const batch = this.heartbeats;
        this.heartbeats = [];
        const r = await insertHeartbeats(this.db, batch, fence).catch((err: unknown) => {
          this.heartbeats = batch.concat(this.heartbeats);
          throw err;
        });
        if (r.fenced) {
          this.heartbeats = batch.concat(this.heartbeats);
          throw new StaleLeaseWrite();
        }
      }
      if (this.gpuRows.length > 0) {
        const batch = this.gpuRows;
        this.gpuRows = [];
        const r = await insertGpuSamples(this.db, batch, fence).catch((err: unknown) => {
          this.gpuRows = batch.concat(this.gpuRows);
          throw err;
        });
        if (r.fenced) {
          this.gpuRows = batch.concat(this.gpuRows);
          throw new StaleLeaseWrite();
        }
      }
      this.lastFlushAt = Date.now();
      if (!this.dbHealthy) this.opts.log("database reachable again; buffered writes flushed");
      this.dbHealthy = true;
    } catch (err) {
      if (err instanceof StaleLeaseWrite || (err as { code?: string }).code === "stale_epoch") {
        // Our epoch is no longer the lease's. If we still hold the lease (it lapsed while the
        // database was away and we took it back with a new epoch), write under the new fence on
        // the next tick; if someone else holds it, they own the fleet now.
        const lease = await acquireOrRenewLease(this.db, {
          holderId: this.holderId,
          ttlMs: this.opts.leaseTtlMs,
        }).catch(() => null);
        if (lease?.leader) {
          this.opts.log(
            `lease re-acquired with epoch ${lease.epoch} (was ${this.epoch}); writing under the new epoch`,
          );
          this.epoch = lease.epoch;
          this.metrics.controllerEpoch.set(lease.epoch);
          return;
        }
        await this.stepDown("a newer controller epoch exists; our writes were refused");
        return;
      }
      this.metrics.dbWriteErrors.inc();
      if (this.dbHealthy) this.opts.log(`writes failed, buffering: ${(err as Error).message}`);
      this.dbHealthy = false;
    }
  }

  private async flushSeen(epoch: number): Promise<void> {
    const ids: string[] = [];
    const times: Date[] = [];
    const roles: (string | null)[] = [];
    for (const rt of this.runtimes.values()) {
      if (!rt.seenDirty || !rt.lastProbe) continue;
      if (!rt.lastProbe.tcpOk && !rt.lastProbe.httpOk) continue;
      ids.push(rt.node.id);
      times.push(new Date(rt.lastProbe.at));
      roles.push(rt.lastProbe.reportedRole);
    }
    if (ids.length === 0) return;
    // postgres-js sends each JS array as one array parameter: one statement for the whole fleet.
    const pg = this.handle.sql;
    await pg`
      update nodes set last_seen_at = v.t, reported_role = coalesce(v.r, nodes.reported_role)
      from unnest(${pg.array(ids)}::uuid[], ${pg.array(times.map((t) => t.toISOString()))}::timestamptz[], ${pg.array(roles as string[])}::text[]) as v(id, t, r)
      where nodes.id = v.id and exists (select 1 from controller_lease where name = ${CONTROLLER_LEASE} and epoch = ${epoch} for share)`;
    for (const rt of this.runtimes.values()) rt.seenDirty = false;
  }

  private async applyWrite(w: Write, epoch: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await assertLeaseEpoch(tx, epoch);
      switch (w.kind) {
        case "transition": {
          const at = new Date(w.transition.at);
          await tx
            .update(nodes)
            .set({
              state: w.transition.to,
              stateChangedAt: at,
              ...(w.reportedRole ? { reportedRole: w.reportedRole } : {}),
            })
            .where(eq(nodes.id, w.nodeId));
          await tx.insert(nodeStateChanges).values({
            nodeId: w.nodeId,
            clusterId: w.clusterId,
            fromState: w.transition.from,
            toState: w.transition.to,
            reason: w.transition.reason,
            controllerEpoch: epoch,
            at,
          });
          const severity =
            w.transition.to === "failed" ? "critical" : w.transition.to === "suspect" ? "warning" : "info";
          await recordEvent(tx, {
            kind: "node.state",
            severity,
            clusterId: w.clusterId,
            nodeId: w.nodeId,
            message: `${w.nodeName}: ${w.transition.from} → ${w.transition.to} (${w.transition.reason})`,
            data: { from: w.transition.from, to: w.transition.to, epoch },
            at,
          });
          break;
        }
        case "availability": {
          await tx.insert(clusterAvailabilityChanges).values({
            clusterId: w.clusterId,
            at: new Date(w.at),
            available: w.available,
            reason: w.reason,
            controllerEpoch: epoch,
          });
          await recordEvent(tx, {
            kind: w.available ? "cluster.available" : "cluster.unavailable",
            severity: w.available ? "info" : "critical",
            clusterId: w.clusterId,
            message: `${w.clusterName}: ${w.available ? "serving again" : "no healthy active node"} — ${w.reason}`,
            at: new Date(w.at),
          });
          break;
        }
        case "alert_fire": {
          const inserted = await tx
            .insert(alerts)
            .values({
              kind: w.alertKind,
              severity: w.severity,
              clusterId: w.clusterId,
              nodeId: w.nodeId,
              message: w.message,
              firedAt: new Date(w.at),
              data: { epoch },
            })
            .onConflictDoNothing()
            .returning({ id: alerts.id });
          if (inserted.length > 0) {
            await recordEvent(tx, {
              kind: "alert.firing",
              severity: w.severity,
              clusterId: w.clusterId,
              nodeId: w.nodeId,
              message: w.message,
              data: { alert: w.alertKind, id: inserted[0]?.id },
              at: new Date(w.at),
            });
          }
          break;
        }
        case "alert_resolve": {
          const resolved = await tx
            .update(alerts)
            .set({ resolvedAt: new Date(w.at) })
            .where(
              and(
                eq(alerts.kind, w.alertKind),
                isNull(alerts.resolvedAt),
                eq(alerts.clusterId, w.clusterId),
                w.nodeId === null ? isNull(alerts.nodeId) : eq(alerts.nodeId, w.nodeId),
              ),
            )
            .returning({ id: alerts.id });
          if (resolved.length > 0) {
            await recordEvent(tx, {
              kind: "alert.resolved",
              clusterId: w.clusterId,
              nodeId: w.nodeId,
              message: w.message,
              data: { alert: w.alertKind },
              at: new Date(w.at),
            });
          }
          break;
        }
        case "event":
          await recordEvent(tx, w.event);
          break;
      }
    });
  }

  private async maintenance(now: Date): Promise<void> {
    await ensurePartitions(this.db, now);
    const minute = 60_000;
    const end = new Date(Math.floor(now.getTime() / minute) * minute);
    await rollupMinutes(this.db, new Date(end.getTime() - 10 * minute), end);
    const hour = 3_600_000;
    const hourEnd = new Date(Math.floor(now.getTime() / hour) * hour);
    await rollupHours(this.db, new Date(hourEnd.getTime() - 2 * hour), hourEnd);
    await runRetention(this.db, now);
  }
}

class StaleLeaseWrite extends Error {
  readonly code = "stale_epoch" as const;
}

/** SQLSTATE of a postgres-js error, possibly wrapped by drizzle. */
function sqlState(err: unknown): string | null {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code =
    typeof e?.cause?.code === "string" ? e.cause.code : typeof e?.code === "string" ? e.code : null;
  return code && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

/** Data exceptions (22), integrity violations (23), syntax or access problems (42): retrying
 * the same statement cannot succeed. Connection-level failures have no SQLSTATE here. */
export function isPermanentDbError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== null && /^(22|23|42)/.test(code);
}

function describeDbError(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return `${sqlState(err) ?? "?"} ${e?.cause?.message ?? e?.message ?? String(err)}`.slice(0, 300);
}
