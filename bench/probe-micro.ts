/**
 * Micro-benchmark of the probe path: what does probing N nodes at 1 s cost the controller?
 *
 *   npx tsx bench/probe-micro.ts [N=1000] [--seconds 20] [--warmup 5] [--interval-ms 1000] [--concurrency 256]
 *
 * The simulated fleet runs in a child process (`sim/cli.ts fleet`), as it would be a different
 * machine in the field, so the CPU figure printed is the prober's alone: `process.cpuUsage()` of
 * this process over the measured window, as a percentage of one core (the controller's budget is
 * 50 % of one core for everything, on a 2-core machine). The simulator's own CPU is printed too
 * (from /proc, Linux only) because on the benchmark machine both share the same two cores.
 * Probing runs `--warmup` seconds before the measured window so the figure is the steady state
 * (JIT-compiled hot path); the warm-up window's CPU is printed as well.
 *
 * Not a test: it asserts nothing and takes about a minute with N = 1000 (mostly fleet start-up).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { ProbeResult } from "@/server/probes/probe-node";
import { ProbeScheduler, type ProbeTiming } from "@/server/probes/scheduler";
import { processCpuSeconds, quantile, sleep, sortedAscending, startSimFleetChild, stopChild } from "./lib";

const LOOP_RESOLUTION_MS = 10;

function parseOptions() {
  const { values, positionals } = parseArgs({
    options: {
      seconds: { type: "string", default: "20" },
      warmup: { type: "string", default: "5" },
      "interval-ms": { type: "string", default: "1000" },
      concurrency: { type: "string", default: "256" },
    },
    allowPositionals: true,
  });
  const int = (text: string | undefined, name: string, min: number, max: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
  return {
    nodes: int(positionals[0] ?? "1000", "N", 1, 5_000),
    seconds: int(values.seconds, "--seconds", 1, 3_600),
    warmupSeconds: int(values.warmup, "--warmup", 0, 600),
    intervalMs: int(values["interval-ms"], "--interval-ms", 50, 60_000),
    concurrency: int(values.concurrency, "--concurrency", 1, 10_000),
  };
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

async function main(): Promise<void> {
  const opts = parseOptions();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-probe-bench-"));
  let childStderr = "";
  let stopFleet = async () => {};

  try {
    const fleetStart = performance.now();
    const fleet = await startSimFleetChild({
      nodes: opts.nodes,
      dataDir,
      onStderr: (chunk) => {
        childStderr = (childStderr + chunk.toString()).slice(-4_000);
      },
      onSpawn: (child) => {
        stopFleet = () => stopChild(child, 15_000);
        const onSignal = () => {
          void stopFleet().finally(() => process.exit(130));
        };
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
      },
      readyTimeoutMs: 300_000,
    });
    const simNodes = fleet.nodes;
    console.log(
      `simulator: ${simNodes.length} nodes up in ${fmt((performance.now() - fleetStart) / 1000, 1)} s (pid ${fleet.pid})`,
    );

    const lateness: number[] = [];
    const tcpMs: number[] = [];
    const httpMs: number[] = [];
    let ok = 0;
    let failed = 0;
    const errors = new Map<string, number>();
    const scheduler = new ProbeScheduler({
      concurrency: opts.concurrency,
      onResult: (_id: string, result: ProbeResult, timing: ProbeTiming) => {
        lateness.push(timing.latenessMs);
        if (result.tcpMs !== null) tcpMs.push(result.tcpMs);
        if (result.httpMs !== null) httpMs.push(result.httpMs);
        if (result.tcpOk && result.httpOk) ok++;
        else {
          failed++;
          const key = result.error ?? "unknown";
          errors.set(key, (errors.get(key) ?? 0) + 1);
        }
      },
    });
    for (const node of simNodes) {
      const url = new URL(node.http);
      scheduler.upsert(
        node.name,
        { host: url.hostname, port: Number(url.port), healthPath: "/health" },
        { intervalMs: opts.intervalMs, tcpTimeoutMs: 500, httpTimeoutMs: 1_000 },
      );
    }

    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    const warmCpu0 = process.cpuUsage();
    const warmWall0 = performance.now();
    scheduler.start();
    await sleep(opts.warmupSeconds * 1_000);
    const warmCpu = process.cpuUsage(warmCpu0);
    const warmPct = ((warmCpu.user + warmCpu.system) / 1_000 / (performance.now() - warmWall0)) * 100;
    // The measured window starts here: samples from the warm-up are discarded.
    lateness.length = 0;
    tcpMs.length = 0;
    httpMs.length = 0;
    ok = 0;
    failed = 0;
    errors.clear();
    const skips0 = scheduler.stats().skipsTotal;
    const simCpu0 = processCpuSeconds(fleet.pid);
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    loop.enable();
    await sleep(opts.seconds * 1_000);
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - wall0;
    const simCpu1 = processCpuSeconds(fleet.pid);
    const stats = scheduler.stats();
    loop.disable();
    await scheduler.stop();

    const cpuPct = ((cpu.user + cpu.system) / 1_000 / wallMs) * 100;
    // NaN (printed "n/a") where the simulator's CPU cannot be read (no /proc).
    const simCpuPct = (((simCpu1 - simCpu0) * 1_000) / wallMs) * 100;
    const late = sortedAscending(lateness);
    const tcp = sortedAscending(tcpMs);
    const http = sortedAscending(httpMs);
    const completed = ok + failed;

    console.log(
      `\nprobe-micro: ${opts.nodes} nodes, interval ${opts.intervalMs} ms, ${fmt(wallMs / 1000, 1)} s, ` +
        `after ${opts.warmupSeconds} s warm-up, concurrency ${opts.concurrency}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"})`,
    );
    console.log(
      `  prober CPU         ${fmt(cpuPct, 1)} % of one core (warm-up window: ${fmt(warmPct, 1)} %)`,
    );
    console.log(
      `                     of which user ${fmt((cpu.user / 1_000 / wallMs) * 100, 1)} %, system ${fmt((cpu.system / 1_000 / wallMs) * 100, 1)} %`,
    );
    console.log(`  simulator CPU      ${fmt(simCpuPct, 1)} % of one core (child process, same machine)`);
    console.log(
      `  probes/s           ${fmt(completed / (wallMs / 1000), 1)} (${ok} ok, ${failed} failed, ${stats.skipsTotal - skips0} skipped slots)`,
    );
    console.log(
      `  lateness           p50 ${fmt(quantile(late, 0.5))} ms, p99 ${fmt(quantile(late, 0.99))} ms, max ${fmt(quantile(late, 1))} ms`,
    );
    console.log(
      `  TCP connect        p50 ${fmt(quantile(tcp, 0.5))} ms, p99 ${fmt(quantile(tcp, 0.99))} ms;  HTTP p50 ${fmt(quantile(http, 0.5))} ms, p99 ${fmt(quantile(http, 0.99))} ms`,
    );
    console.log(
      // The histogram records the whole timer period; the delay is what exceeds the resolution.
      `  event-loop delay   p50 ${fmt(loop.percentile(50) / 1e6 - LOOP_RESOLUTION_MS)} ms, ` +
        `p99 ${fmt(loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS)} ms, max ${fmt(loop.max / 1e6 - LOOP_RESOLUTION_MS)} ms`,
    );
    console.log(`  max in flight      ${stats.maxInFlight}`);
    for (const [error, count] of [...errors].sort((a, b) => b[1] - a[1]).slice(0, 5)) {
      console.log(`  error ×${count}: ${error}`);
    }
    console.log(
      JSON.stringify({
        bench: "probe-micro",
        nodes: opts.nodes,
        intervalMs: opts.intervalMs,
        seconds: Math.round(wallMs) / 1000,
        proberCpuPctOfOneCore: Math.round(cpuPct * 10) / 10,
        warmupCpuPctOfOneCore: Math.round(warmPct * 10) / 10,
        simulatorCpuPctOfOneCore: Math.round(simCpuPct * 10) / 10,
        probesPerSecond: Math.round((completed / (wallMs / 1000)) * 10) / 10,
        failed,
        skipped: stats.skipsTotal - skips0,
        latenessP50Ms: Math.round(quantile(late, 0.5) * 100) / 100,
        latenessP99Ms: Math.round(quantile(late, 0.99) * 100) / 100,
      }),
    );
  } catch (err) {
    if (childStderr) console.error(`simulator stderr:\n${childStderr}`);
    throw err;
  } finally {
    await stopFleet();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`probe-micro: ${(err as Error).message}`);
  process.exitCode = 1;
});
