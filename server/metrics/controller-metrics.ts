/**
 * The controller's Prometheus metrics: one place that names every family, its labels and its
 * buckets, so dashboards and alert rules have a single contract to read (and so fleets whose raw
 * history outgrows Postgres can keep it in Prometheus instead; DESIGN.md "Scale").
 *
 * Hot-path updates (every probe result, every GPU sample) go through per-node handles cached here,
 * so after a node's first update they are field writes, not label lookups. `removeNode` drops every
 * series of a deleted node so it disappears from the next scrape instead of reporting forever.
 *
 * `switchyard_node_up` follows the detector: healthy and suspect are 1 (one failed probe is not an
 * outage), failed and recovering are 0 (not trusted to serve yet), unknown has no series at all (we
 * have not observed it, which is different from down). `switchyard_node_state` has one series per
 * state with 1 on the current one, kube-state-metrics style, so `== 1` selects and nothing goes
 * stale when the state changes.
 */
import type { GpuSample } from "@/server/gpu/parse-nvidia-smi";
import { NODE_STATES, type NodeState, type ProbeObservation } from "@/server/policy/types";
import type { ProbeSchedulerStats } from "@/server/probes/scheduler";
import { type CounterChild, type GaugeChild, type HistogramChild, Registry } from "./prometheus";

export const PROBE_DURATION_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
] as const;
export const PROBE_LATENESS_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;

export type FailoverKind = "manual" | "auto" | "drill" | "rollback";

/** The GPU fields a sample must carry for the metrics (a parsed nvidia-smi row has them all). */
export type GpuMetricsSample = Pick<
  GpuSample,
  "index" | "utilizationGpuPct" | "temperatureC" | "memoryUsedMib" | "powerDrawW"
>;

const MIB = 1024 * 1024;

type GpuSeries = { util: GaugeChild; temp: GaugeChild; mem: GaugeChild; power: GaugeChild };

type NodeSeries = {
  cluster: string;
  node: string;
  state: NodeState | null;
  up: GaugeChild | null;
  states: GaugeChild[] | null;
  telemetryUp: GaugeChild | null;
  gpus: Map<string, GpuSeries>;
};

export function createControllerMetrics() {
  const registry = new Registry();
  const nodeLabels = ["cluster", "node"] as const;
  const gpuLabels = ["cluster", "node", "gpu"] as const;

  const nodeUp = registry.gauge({
    name: "switchyard_node_up",
    help: "1 when the detector considers the node up (healthy or suspect), 0 when failed or recovering.",
    labelNames: nodeLabels,
  });
  const nodeState = registry.gauge({
    name: "switchyard_node_state",
    help: "Detector state of the node: 1 for the current state, 0 for the others.",
    labelNames: [...nodeLabels, "state"] as const,
  });
  const probeDuration = registry.histogram({
    name: "switchyard_probe_duration_seconds",
    help: "Health probe duration by phase: TCP connect, and HTTP from request write to full response.",
    labelNames: ["phase"] as const,
    buckets: PROBE_DURATION_BUCKETS_S,
  });
  const probeLateness = registry.histogram({
    name: "switchyard_probe_lateness_seconds",
    help: "How late probes started relative to their schedule (queueing and event-loop delay).",
    buckets: PROBE_LATENESS_BUCKETS_S,
  });
  const probesTotal = registry.counter({
    name: "switchyard_probes_total",
    help: "Health probes completed, by result (ok = TCP connected and HTTP 2xx).",
    labelNames: ["result"] as const,
  });
  const probeSkips = registry.counter({
    name: "switchyard_probe_skips_total",
    help: "Probe slots skipped because the node's previous probe had not finished.",
  });
  const proberNodes = registry.gauge({
    name: "switchyard_prober_nodes",
    help: "Nodes the prober schedules.",
  });
  const proberInFlight = registry.gauge({ name: "switchyard_prober_in_flight", help: "Probes in flight." });
  const proberQueued = registry.gauge({
    name: "switchyard_prober_queued",
    help: "Probes waiting for a concurrency slot.",
  });
  const gpuUtilization = registry.gauge({
    name: "switchyard_gpu_utilization_ratio",
    help: "GPU utilisation as reported by nvidia-smi, 0..1.",
    labelNames: gpuLabels,
  });
  const gpuTemperature = registry.gauge({
    name: "switchyard_gpu_temperature_celsius",
    help: "GPU core temperature.",
    labelNames: gpuLabels,
  });
  const gpuMemoryUsed = registry.gauge({
    name: "switchyard_gpu_memory_used_bytes",
    help: "GPU memory in use.",
    labelNames: gpuLabels,
  });
  const gpuPower = registry.gauge({
    name: "switchyard_gpu_power_watts",
    help: "GPU power draw.",
    labelNames: gpuLabels,
  });
  const gpuTelemetryUp = registry.gauge({
    name: "switchyard_gpu_telemetry_up",
    help: "1 while the node's GPU telemetry stream delivers samples, 0 when it is lost.",
    labelNames: nodeLabels,
  });
  const failovers = registry.counter({
    name: "switchyard_failovers_total",
    help: "Switchovers started, by cluster and kind (manual, auto, drill, rollback).",
    labelNames: ["cluster", "kind"] as const,
  });
  const controllerLeader = registry.gauge({
    name: "switchyard_controller_leader",
    help: "1 while this controller holds the leader lease.",
  });
  const controllerEpoch = registry.gauge({
    name: "switchyard_controller_epoch",
    help: "Epoch of the leader lease this controller last saw or held.",
  });
  const dbWriteErrors = registry.counter({
    name: "switchyard_db_write_errors_total",
    help: "Failed batched writes to Postgres (rows stay buffered and are retried).",
  });
  const bufferedRows = registry.gauge({
    name: "switchyard_db_buffered_rows",
    help: "Heartbeat and GPU sample rows waiting to be written to Postgres.",
  });
  const processCpu = registry.counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent by the controller process.",
  });
  const processRss = registry.gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory of the controller process.",
  });
  let lastCpuMicros = 0;
  registry.onCollect(() => {
    const cpu = process.cpuUsage();
    const micros = cpu.user + cpu.system;
    if (micros > lastCpuMicros) processCpu.inc((micros - lastCpuMicros) / 1e6);
    lastCpuMicros = micros;
    processRss.set(process.memoryUsage.rss());
  });

  const tcpDuration = probeDuration.labels({ phase: "tcp" });
  const httpDuration = probeDuration.labels({ phase: "http" });
  const probesOk = probesTotal.labels({ result: "ok" });
  const probesFailed = probesTotal.labels({ result: "failed" });
  const latenessAll: HistogramChild = probeLateness.labels({});
  let lastSkips = 0;

  const nodes = new Map<string, NodeSeries>();
  const nodeKey = (cluster: string, node: string) => `${cluster.length}:${cluster}${node}`;
  const nodeSeries = (cluster: string, node: string): NodeSeries => {
    const key = nodeKey(cluster, node);
    let series = nodes.get(key);
    if (!series) {
      series = { cluster, node, state: null, up: null, states: null, telemetryUp: null, gpus: new Map() };
      nodes.set(key, series);
    }
    return series;
  };

  return {
    registry,
    nodeUp,
    nodeState,
    probeDuration,
    probeLateness,
    probesTotal,
    probeSkips,
    gpuUtilization,
    gpuTemperature,
    gpuMemoryUsed,
    gpuPower,
    gpuTelemetryUp,
    failovers,
    controllerLeader,
    controllerEpoch,
    dbWriteErrors,
    bufferedRows,

    render(): string {
      return registry.render();
    },

    /** Detector state of a node; cheap to call on every probe (no-op when unchanged). */
    setNodeState(cluster: string, node: string, state: NodeState): void {
      const s = nodeSeries(cluster, node);
      if (s.state === state) return;
      s.state = state;
      if (!s.states) s.states = NODE_STATES.map((st) => nodeState.labels({ cluster, node, state: st }));
      for (let i = 0; i < NODE_STATES.length; i++) {
        (s.states[i] as GaugeChild).set(NODE_STATES[i] === state ? 1 : 0);
      }
      if (state === "unknown") {
        if (s.up) nodeUp.remove({ cluster, node });
        s.up = null;
        return;
      }
      if (!s.up) s.up = nodeUp.labels({ cluster, node });
      s.up.set(state === "healthy" || state === "suspect" ? 1 : 0);
    },

    /** One probe result: per-phase durations, lateness, and the ok/failed count. */
    observeProbe(result: ProbeObservation, latenessMs: number): void {
      if (result.tcpMs !== null) tcpDuration.observe(result.tcpMs / 1000);
      if (result.httpMs !== null) httpDuration.observe(result.httpMs / 1000);
      latenessAll.observe(Math.max(0, latenessMs) / 1000);
      if (result.tcpOk && result.httpOk) probesOk.inc();
      else probesFailed.inc();
    },

    /** The scheduler's own gauges; skips are turned into a counter (a new scheduler starts at 0). */
    setProberStats(stats: Pick<ProbeSchedulerStats, "nodes" | "inFlight" | "queued" | "skipsTotal">): void {
      proberNodes.set(stats.nodes);
      proberInFlight.set(stats.inFlight);
      proberQueued.set(stats.queued);
      const delta = stats.skipsTotal >= lastSkips ? stats.skipsTotal - lastSkips : stats.skipsTotal;
      if (delta > 0) probeSkips.inc(delta);
      lastSkips = stats.skipsTotal;
    },

    /** One GPU sample; a null field (nvidia-smi printed "[N/A]") reads NaN rather than a stale value. */
    setGpu(cluster: string, node: string, sample: GpuMetricsSample): void {
      const s = nodeSeries(cluster, node);
      const gpu = String(sample.index);
      let g = s.gpus.get(gpu);
      if (!g) {
        const labels = { cluster, node, gpu };
        g = {
          util: gpuUtilization.labels(labels),
          temp: gpuTemperature.labels(labels),
          mem: gpuMemoryUsed.labels(labels),
          power: gpuPower.labels(labels),
        };
        s.gpus.set(gpu, g);
      }
      g.util.set(sample.utilizationGpuPct === null ? Number.NaN : sample.utilizationGpuPct / 100);
      g.temp.set(sample.temperatureC ?? Number.NaN);
      g.mem.set(sample.memoryUsedMib === null ? Number.NaN : sample.memoryUsedMib * MIB);
      g.power.set(sample.powerDrawW ?? Number.NaN);
    },

    setGpuTelemetryUp(cluster: string, node: string, up: boolean): void {
      const s = nodeSeries(cluster, node);
      if (!s.telemetryUp) s.telemetryUp = gpuTelemetryUp.labels({ cluster, node });
      s.telemetryUp.set(up ? 1 : 0);
    },

    recordFailover(cluster: string, kind: FailoverKind): void {
      const child: CounterChild = failovers.labels({ cluster, kind });
      child.inc();
    },

    /** Forgets a deleted (or renamed) node: every series labelled with it disappears. */
    removeNode(cluster: string, node: string): void {
      nodes.delete(nodeKey(cluster, node));
      const match = { cluster, node };
      nodeUp.removeMatching(match);
      nodeState.removeMatching(match);
      gpuTelemetryUp.removeMatching(match);
      gpuUtilization.removeMatching(match);
      gpuTemperature.removeMatching(match);
      gpuMemoryUsed.removeMatching(match);
      gpuPower.removeMatching(match);
    },
  };
}

export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;
