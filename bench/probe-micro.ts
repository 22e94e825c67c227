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
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { ProbeResult } from "@/server/probes/probe-node";
import { ProbeScheduler, type ProbeTiming } from "@/server/probes/scheduler";
import { findFreePort } from "@/sim/testing";

const ROOT = path.resolve(import.meta.dirname, "..");
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

/** utime + stime of a process in ms, from /proc (null where there is no /proc). */
function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

async function waitForFleet(
  controlUrl: string,
  child: ChildProcess,
  timeoutMs: number,
): Promise<Array<{ name: string; http: string }>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error("the simulator exited during start-up");
    try {
      const res = await fetch(`${controlUrl}/nodes`, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) return ((await res.json()) as { nodes: Array<{ name: string; http: string }> }).nodes;
    } catch {
      // not listening yet: the control endpoint opens once every node is up
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the simulator was not ready within ${timeoutMs / 1000} s`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(pid, "SIGTERM");
  const escalate = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGKILL");
  }, 15_000);
  await exited;
  clearTimeout(escalate);
}

function quantile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

async function main(): Promise<void> {
  const opts = parseOptions();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-probe-bench-"));
  const controlPort = await findFreePort(["127.0.0.1"]);
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  // `node --import tsx` rather than the tsx wrapper, so the PID we hold is the simulator itself.
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "sim/cli.ts",
      "fleet",
      "--nodes",
      String(opts.nodes),
      "--data-dir",
      dataDir,
      "--control-port",
      String(controlPort),
      "--http-port",
      "0",
      "--ssh-port",
      "0",
    ],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
  );
  let childStderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    childStderr = (childStderr + chunk.toString()).slice(-4_000);
  });
  const onSignal = () => {
    void stopChild(child).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const fleetStart = performance.now();
    const simNodes = await waitForFleet(controlUrl, child, 300_000);
    console.log(
      `simulator: ${simNodes.length} nodes up in ${fmt((performance.now() - fleetStart) / 1000, 1)} s (pid ${child.pid})`,
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
    const simPid = child.pid as number;
    const warmCpu0 = process.cpuUsage();
    const warmWall0 = performance.now();
    scheduler.start();
    await new Promise((r) => setTimeout(r, opts.warmupSeconds * 1_000));
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
    const simCpu0 = processCpuMs(simPid);
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    loop.enable();
    await new Promise((r) => setTimeout(r, opts.seconds * 1_000));
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - wall0;
    const simCpu1 = processCpuMs(simPid);
    const stats = scheduler.stats();
    loop.disable();
    await scheduler.stop();

    const cpuPct = ((cpu.user + cpu.system) / 1_000 / wallMs) * 100;
    const simCpuPct =
      simCpu0 !== null && simCpu1 !== null ? ((simCpu1 - simCpu0) / wallMs) * 100 : Number.NaN;
    const sorted = (xs: number[]) => Float64Array.from(xs).sort();
    const late = sorted(lateness);
    const tcp = sorted(tcpMs);
    const http = sorted(httpMs);
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
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`probe-micro: ${(err as Error).message}`);
  process.exitCode = 1;
});
