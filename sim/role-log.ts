/**
 * The simulated fleet's role log: the ground truth for "never two actives in a cluster".
 *
 * Every change of a node's effective role is recorded with a sub-millisecond timestamp, in memory
 * (for tests in the same process) and as JSONL (for tests and people outside it). The controller's
 * own view cannot prove the invariant, because the invariant is about what the nodes *did*; this
 * log is written by the nodes themselves at the instant they change.
 *
 * A crashed process holds no role, so a crash is logged as a change to "down" and the restart as a
 * change back to the role the node kept: a master that is down while its standby is activated is a
 * correct failover, but the same master coming back as master before it is degraded is a real
 * double-master window and shows up as one.
 */
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import path from "node:path";

export type SimRole = "master" | "standby";
export type EffectiveRole = SimRole | "down";

export type RoleLogEntry = {
  node: string;
  cluster: string;
  /** null for the node's first entry (its role at start). */
  from: EffectiveRole | null;
  to: EffectiveRole;
  epoch: number;
  /** Epoch milliseconds with sub-millisecond precision (performance.timeOrigin + performance.now()). */
  atMs: number;
  reason: string;
};

export type DoubleMasterInterval = {
  startMs: number;
  /** null while still ongoing at the end of the log. */
  endMs: number | null;
  nodes: string[];
};

/** Wall-clock milliseconds with the monotonic clock's precision, comparable across nodes in one process. */
export function preciseNowMs(): number {
  return performance.timeOrigin + performance.now();
}

export class RoleLog {
  readonly entries: RoleLogEntry[] = [];
  private readonly file: WriteStream | null;

  /** With `filePath`, entries are also appended to that JSONL file. */
  constructor(filePath: string | null = null) {
    if (filePath) {
      mkdirSync(path.dirname(filePath), { recursive: true });
      this.file = createWriteStream(filePath, { flags: "a" });
      // A full disk must not take the fleet down; the in-memory log stays authoritative.
      this.file.on("error", () => {});
    } else {
      this.file = null;
    }
  }

  append(entry: Omit<RoleLogEntry, "atMs"> & { atMs?: number }): RoleLogEntry {
    const full: RoleLogEntry = { ...entry, atMs: entry.atMs ?? preciseNowMs() };
    this.entries.push(full);
    this.file?.write(`${JSON.stringify(full)}\n`);
    return full;
  }

  forCluster(cluster: string): RoleLogEntry[] {
    return this.entries.filter((e) => e.cluster === cluster);
  }

  async close(): Promise<void> {
    const file = this.file;
    if (!file || file.closed) return;
    await new Promise<void>((resolve) => file.end(resolve));
  }
}

/**
 * Intervals during which two or more of `clusterNodes` were master at once. Pure: works on any log
 * (in memory or read back from JSONL). Entries with equal timestamps are applied together before
 * the count is taken, so a log cannot invent an overlap out of its own ordering.
 */
export function findDoubleMasterIntervals(
  log: readonly RoleLogEntry[],
  clusterNodes: readonly string[],
): DoubleMasterInterval[] {
  const members = new Set(clusterNodes);
  const relevant = log
    .map((entry, order) => ({ entry, order }))
    .filter(({ entry }) => members.has(entry.node))
    .sort((a, b) => a.entry.atMs - b.entry.atMs || a.order - b.order)
    .map(({ entry }) => entry);

  const roles = new Map<string, EffectiveRole>();
  const intervals: DoubleMasterInterval[] = [];
  let open: DoubleMasterInterval | null = null;

  for (let i = 0; i < relevant.length; ) {
    const atMs = relevant[i]?.atMs ?? 0;
    while (i < relevant.length && relevant[i]?.atMs === atMs) {
      const entry = relevant[i] as RoleLogEntry;
      roles.set(entry.node, entry.to);
      i += 1;
    }
    const masters = [...roles].filter(([, role]) => role === "master").map(([node]) => node);
    if (masters.length >= 2) {
      if (open === null) {
        open = { startMs: atMs, endMs: null, nodes: masters.sort() };
        intervals.push(open);
      } else {
        for (const node of masters) if (!open.nodes.includes(node)) open.nodes.push(node);
        open.nodes.sort();
      }
    } else if (open !== null) {
      open.endMs = atMs;
      open = null;
    }
  }
  return intervals;
}
