/**
 * Micro-benchmark of the GPU collector (server/gpu/collector.ts): what it costs the controller to
 * keep N nodes streaming `nvidia-smi -lms 1000` over SSH. DESIGN.md budgets one controller for
 * 1,000 nodes on 2 cores, and telemetry must stay well under a quarter of one of them.
 *
 * The simulated fleet runs in a CHILD process so that its cost (a thousand SSH servers and a
 * thousand fake nvidia-smi shell loops) is not billed to the collector; this process only runs
 * the collector, and `process.cpuUsage()` over the steady window is the collector's own bill.
 *
 *   tsx bench/gpu-collector-micro.ts [N=1000] [--seconds 30] [--interval 1000] [--handshakes 16]
 *                                    [--ramp-timeout 600]
 *
 * If not every node streams within --ramp-timeout seconds the steady window is measured anyway and
 * the result says so (`rampComplete: false`): that is how an overloaded simulator shows up.
 *
 * Prints: time until every node streams, samples/s, this process's CPU % of one core, RSS, event
 * loop lag, and (for context) the fleet process's CPU and the whole machine's CPU. The child is
 * killed by its PID at the end, also on Ctrl-C.
 */
import { openSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { GpuCollector } from "@/server/gpu/collector";
import { processCpuSeconds, quantile, sleep, startSimFleetChild, stopChild } from "./lib";

/** The fleet stops its nodes (and their command process groups) on SIGTERM; SIGKILL if it hangs this long. */
const FLEET_STOP_TIMEOUT_MS = 60_000;

function intArg(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${name} must be an integer in ${min}..${max}`);
  return n;
}

/** Busy and total jiffies of the whole machine. */
function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Scheduling lag of a 100 ms interval timer: what a busy event loop costs everything else in it. */
function lagMonitor(): { stop(): { p99Ms: number; maxMs: number } } {
  const lags: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - 100));
    last = now;
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      lags.sort((a, b) => a - b);
      return {
        p99Ms: lags.length > 0 ? quantile(lags, 0.99) : 0,
        maxMs: lags.at(-1) ?? 0,
      };
    },
  };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: {
      seconds: { type: "string" },
      interval: { type: "string" },
      handshakes: { type: "string" },
      "ramp-timeout": { type: "string" },
    },
    allowPositionals: true,
  });
  const nodesWanted = intArg(positionals[0], "N", 1_000, 1, 5_000);
  const seconds = intArg(values.seconds, "--seconds", 30, 1, 3_600);
  const intervalMs = intArg(values.interval, "--interval", 1_000, 50, 60_000);
  const handshakes = intArg(values.handshakes, "--handshakes", 16, 1, 1_000);
  const rampTimeoutS = intArg(values["ramp-timeout"], "--ramp-timeout", 600, 1, 3_600);

  const dataDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-bench-collector-"));
  const logPath = path.join(dataDir, "fleet.log");
  const log = openSync(logPath, "a");
  console.log(`starting ${nodesWanted} simulated nodes in a child process (data ${dataDir})`);
  const fleetStarted = performance.now();
  let collector: GpuCollector | null = null;
  let stopFleet = async () => {};
  let cleaning: Promise<void> | null = null;
  const cleanup = () => {
    cleaning ??= (async () => {
      await collector?.stop();
      await stopFleet();
      await rm(dataDir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  process.once("SIGINT", () => {
    console.error("\ninterrupted: stopping");
    void cleanup().then(() => process.exit(130));
  });

  try {
    const fleet = await startSimFleetChild({
      nodes: nodesWanted,
      dataDir,
      logFd: log,
      onSpawn: (child) => {
        stopFleet = () => stopChild(child, FLEET_STOP_TIMEOUT_MS);
      },
      readyTimeoutMs: 600_000,
      stopTimeoutMs: FLEET_STOP_TIMEOUT_MS,
    });
    const fleetNodes = fleet.nodes;
    const childPid = fleet.pid;
    console.log(
      `fleet ready: ${fleetNodes.length} nodes in ${((performance.now() - fleetStarted) / 1000).toFixed(1)} s (pid ${childPid})`,
    );
    const privateKey = await readFile(path.join(dataDir, "client_ed25519"));

    const counts = { samples: 0, ticks: 0, lost: new Map<string, number>(), restored: 0, mismatches: 0 };
    collector = new GpuCollector({
      sampleIntervalMs: intervalMs,
      maxConcurrentHandshakes: handshakes,
      events: {
        onSamples: (_id, samples) => {
          counts.ticks += 1;
          counts.samples += samples.length;
        },
        onTelemetryLost: (_id, reason) =>
          counts.lost.set(reason.code, (counts.lost.get(reason.code) ?? 0) + 1),
        onTelemetryRestored: () => {
          counts.restored += 1;
        },
        onHostKeyMismatch: () => {
          counts.mismatches += 1;
        },
      },
    });
    for (const n of fleetNodes) {
      collector.upsert({
        id: n.name,
        name: n.name,
        host: n.host,
        port: n.sshPort,
        username: "switchyard",
        privateKey,
        hostKeyFingerprint: n.hostKeyFingerprint,
      });
    }

    const rampCpu = process.cpuUsage();
    const rampStarted = performance.now();
    collector.start();
    let lastReport = rampStarted;
    let rampComplete = true;
    while (collector.stats().streaming < fleetNodes.length) {
      if (performance.now() - rampStarted > rampTimeoutS * 1_000) {
        rampComplete = false;
        break;
      }
      await sleep(100);
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        const s = collector.stats();
        console.log(
          `  ${((lastReport - rampStarted) / 1000).toFixed(0)} s: streaming ${s.streaming}, handshakes ${s.handshakesInFlight} (+${s.handshakesQueued} queued), lost ${s.telemetryLost}`,
        );
      }
    }
    const rampMs = performance.now() - rampStarted;
    const rampCpuUsed = process.cpuUsage(rampCpu);
    if (!rampComplete) {
      const s = collector.stats();
      console.log(
        `NOT every node streams after ${rampTimeoutS} s (${s.streaming} streaming, ${s.telemetryLost} lost, ` +
          `lost by code ${JSON.stringify(Object.fromEntries(counts.lost))}); measuring the steady window anyway`,
      );
    }
    console.log(
      `${rampComplete ? "all" : "NOT all"} ${fleetNodes.length} nodes streaming after ${(rampMs / 1000).toFixed(2)} s ` +
        `(collector CPU during ramp-up ${(((rampCpuUsed.user + rampCpuUsed.system) / 1000 / rampMs) * 100).toFixed(1)} % of one core, peak handshakes ${collector.stats().handshakesPeak})`,
    );

    // Steady state.
    const loop = lagMonitor();
    let minStreaming = collector.stats().streaming;
    const watch = setInterval(() => {
      minStreaming = Math.min(minStreaming, collector?.stats().streaming ?? 0);
    }, 1_000);
    const samples0 = counts.samples;
    const ticks0 = counts.ticks;
    const lost0 = [...counts.lost.values()].reduce((a, b) => a + b, 0);
    const cpu0 = process.cpuUsage();
    const childCpu0 = processCpuSeconds(childPid);
    const machine0 = machineCpu();
    const t0 = performance.now();
    await sleep(seconds * 1_000);
    clearInterval(watch);
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const childCpu = processCpuSeconds(childPid) - childCpu0;
    const machine1 = machineCpu();
    const lag = loop.stop();
    const stats = collector.stats();
    const lost1 = [...counts.lost.values()].reduce((a, b) => a + b, 0);

    const cpuPct = ((cpu.user + cpu.system) / 1e6 / wallS) * 100;
    const samplesPerS = (counts.samples - samples0) / wallS;
    const expectedPerS = (fleetNodes.length * 1_000) / intervalMs;
    const rssMb = process.memoryUsage().rss / 1024 / 1024;
    const machinePct = ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100;
    const summary = {
      nodes: fleetNodes.length,
      intervalMs,
      rampComplete,
      rampUpS: Number((rampMs / 1000).toFixed(2)),
      steadyS: Number(wallS.toFixed(1)),
      samplesPerS: Number(samplesPerS.toFixed(1)),
      expectedSamplesPerS: expectedPerS,
      ticksPerS: Number(((counts.ticks - ticks0) / wallS).toFixed(1)),
      collectorCpuPctOfOneCore: Number(cpuPct.toFixed(1)),
      collectorCpuUserPct: Number(((cpu.user / 1e6 / wallS) * 100).toFixed(1)),
      collectorCpuSystemPct: Number(((cpu.system / 1e6 / wallS) * 100).toFixed(1)),
      rssMb: Number(rssMb.toFixed(0)),
      heapUsedMb: Number((process.memoryUsage().heapUsed / 1024 / 1024).toFixed(0)),
      eventLoopLagP99Ms: Number(lag.p99Ms.toFixed(1)),
      eventLoopLagMaxMs: Number(lag.maxMs.toFixed(1)),
      fleetProcessCpuPctOfOneCore: Number(((childCpu / wallS) * 100).toFixed(1)),
      machineCpuBusyPct: Number(machinePct.toFixed(1)),
      machineCores: os.cpus().length,
      lostDuringSteady: lost1 - lost0,
      lostByCode: Object.fromEntries(counts.lost),
      linesUnparsable: stats.linesUnparsable,
      reconnects: stats.reconnects,
      streamingAtEnd: stats.streaming,
      minStreamingDuringSteady: minStreaming,
    };
    console.log("");
    console.log(`steady window         ${summary.steadyS} s at ${intervalMs} ms`);
    console.log(`samples/s             ${summary.samplesPerS} (expected ${expectedPerS})`);
    console.log(
      `streaming             ${summary.streamingAtEnd} at the end, at least ${minStreaming} throughout`,
    );
    console.log(
      `collector CPU         ${summary.collectorCpuPctOfOneCore} % of one core (user ${summary.collectorCpuUserPct} %, system ${summary.collectorCpuSystemPct} %)`,
    );
    console.log(`collector RSS         ${summary.rssMb} MB (heap ${summary.heapUsedMb} MB)`);
    console.log(
      `event loop lag        p99 ${summary.eventLoopLagP99Ms} ms, max ${summary.eventLoopLagMaxMs} ms`,
    );
    console.log(
      `fleet process CPU     ${summary.fleetProcessCpuPctOfOneCore} % of one core (own threads only; its nvidia-smi shells, sleeps and dates are extra)`,
    );
    console.log(`machine CPU busy      ${summary.machineCpuBusyPct} % of ${summary.machineCores} cores`);
    console.log(
      `telemetry lost        ${summary.lostDuringSteady} during the window; all-time ${JSON.stringify(summary.lostByCode)}`,
    );
    console.log(`JSON ${JSON.stringify(summary)}`);
  } catch (err) {
    console.error(`benchmark failed: ${(err as Error).message}; fleet log: ${logPath}`);
    try {
      console.error(readFileSync(logPath, "utf8").split("\n").slice(-20).join("\n"));
    } catch {}
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
