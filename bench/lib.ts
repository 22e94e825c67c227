/**
 * Helpers shared by the benchmark scripts in bench/: free ports, per-process CPU and memory from
 * /proc (Linux), the simulated fleet as a child process, stopping a child, quantiles.
 *
 * Not a test helper: nothing here asserts, and the /proc readers only work on Linux.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import type { SimNodeSnapshot } from "@/sim/node";

/** The repository root (bench/..): the working directory of every child process started here. */
export const REPO_ROOT = path.resolve(import.meta.dirname, "..");

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = address && typeof address === "object" ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * CPU time (utime + stime) a process has used so far, in seconds, from /proc/<pid>/stat. Only the
 * process's own threads: children it spawned (shells, sleeps) are not included. NaN where it cannot
 * be read (no /proc, or the process is gone), so a rate computed from it is NaN rather than a throw.
 */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: fields 3.. start after the
    // last ')'. utime and stime are fields 14 and 15, so indexes 11 and 12 from there.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process in MiB (VmRSS from /proc/<pid>/status); NaN where unreadable. */
export function processRssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Numbers sorted ascending, ready for `quantile` (a copy: the input is left alone). */
export function sortedAscending(xs: ArrayLike<number>): Float64Array {
  return Float64Array.from(xs).sort();
}

/**
 * The q-quantile (0..1) of ascending `sorted` by the nearest-rank rule: element ⌊q·n⌋, clamped to
 * the last, so q = 1 is the maximum. NaN for an empty array.
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** True once a child process has exited (by itself or by a signal). */
function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Stops a child process by its PID: SIGTERM, then SIGKILL if it has not exited after `timeoutMs`.
 * Resolves once it has exited; at once if it never started or has already exited.
 */
export async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.pid === undefined || hasExited(child)) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const escalate = setTimeout(() => {
    if (!hasExited(child)) child.kill("SIGKILL");
  }, timeoutMs);
  await exited;
  clearTimeout(escalate);
}

/** One node as the fleet's control endpoint lists it (`GET /nodes`). */
export type SimNodeInfo = SimNodeSnapshot & {
  /** e.g. http://127.0.0.2:41234 */
  http: string;
  /** e.g. 127.0.0.2:41235 */
  ssh: string;
};

export type StartSimFleetOptions = {
  nodes: number;
  /** The fleet's --data-dir: host keys, client_ed25519 (the client key every node accepts), logs. */
  dataDir: string;
  /** The control endpoint's port on 127.0.0.1. Default: a free port. */
  controlPort?: number;
  /** A file descriptor (e.g. from `openSync(logPath, "a")`) for the fleet's stdout and stderr. Default: discarded. */
  logFd?: number;
  /** Receives the fleet's stderr (instead of `logFd`). */
  onStderr?: (chunk: Buffer) => void;
  /**
   * Called right after the spawn, before the fleet is ready, so the caller can stop the child on
   * Ctrl-C during a long start-up.
   */
  onSpawn?: (child: ChildProcess) => void;
  /** How long the fleet may take until `GET /nodes` lists every node. Default 300 s. */
  readyTimeoutMs?: number;
  /** How long stopping a fleet that failed to start may take before SIGKILL. Default 15 s. */
  stopTimeoutMs?: number;
};

export type SimFleetChild = {
  child: ChildProcess;
  pid: number;
  /** e.g. http://127.0.0.1:7070 */
  controlUrl: string;
  nodes: SimNodeInfo[];
};

/**
 * Starts the simulated fleet in a child process, `node --import tsx sim/cli.ts fleet --nodes N
 * --data-dir D --control-port P --http-port 0 --ssh-port 0` (node itself rather than the tsx
 * wrapper, so the PID held is the simulator's own: its CPU is readable and it is stopped by that
 * PID), and resolves once the control endpoint's `GET /nodes` lists all N nodes.
 *
 * Rejects if the child exits first or is not ready within `readyTimeoutMs`; the child is then
 * stopped. On success the caller owns the child: stop it with `stopChild`.
 */
export async function startSimFleetChild(options: StartSimFleetOptions): Promise<SimFleetChild> {
  const controlPort = options.controlPort ?? (await freePort());
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  const output = options.logFd ?? "ignore";
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "sim/cli.ts",
      "fleet",
      "--nodes",
      String(options.nodes),
      "--data-dir",
      options.dataDir,
      "--control-port",
      String(controlPort),
      "--http-port",
      "0",
      "--ssh-port",
      "0",
    ],
    { cwd: REPO_ROOT, stdio: ["ignore", output, options.onStderr ? "pipe" : output] },
  );
  let spawnError: Error | null = null;
  child.once("error", (err) => {
    spawnError = err;
  });
  if (options.onStderr) child.stderr?.on("data", options.onStderr);
  options.onSpawn?.(child);

  try {
    const nodes = await waitForSimNodes(
      child,
      controlUrl,
      options.nodes,
      options.readyTimeoutMs ?? 300_000,
      () => spawnError,
    );
    return { child, pid: child.pid as number, controlUrl, nodes };
  } catch (err) {
    await stopChild(child, options.stopTimeoutMs ?? 15_000);
    throw err;
  }
}

async function waitForSimNodes(
  child: ChildProcess,
  controlUrl: string,
  count: number,
  timeoutMs: number,
  spawnError: () => Error | null,
): Promise<SimNodeInfo[]> {
  const deadline = Date.now() + timeoutMs;
  let listed = 0;
  while (Date.now() < deadline) {
    const error = spawnError();
    if (error) throw new Error(`could not start the simulated fleet: ${error.message}`);
    if (hasExited(child))
      throw new Error(
        `the simulated fleet exited during start-up (${child.signalCode ?? `code ${child.exitCode}`})`,
      );
    try {
      const res = await fetch(`${controlUrl}/nodes`, { signal: AbortSignal.timeout(10_000) });
      if (res.ok) {
        const { nodes } = (await res.json()) as { nodes: SimNodeInfo[] };
        if (nodes.length === count) return nodes;
        listed = nodes.length;
      }
    } catch {
      // Not listening yet: the control endpoint opens once every node is up.
    }
    await sleep(250);
  }
  throw new Error(
    `the simulated fleet was not ready within ${timeoutMs / 1000} s (${listed} of ${count} nodes listed)`,
  );
}
