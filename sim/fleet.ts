/**
 * A simulated fleet: many SimNodes on their own loopback addresses, one shared role log, one
 * authorized-keys list, and a small control endpoint (127.0.0.1:7070 by default) through which
 * the demo, tests, benchmarks and `sim/cli.ts fault` inject faults into a running fleet.
 *
 * Nodes are started with bounded concurrency (a thousand simultaneous binds and key loads would
 * only thrash two cores) and stopped all together; a failed start stops whatever did start, so a
 * half-started fleet never keeps ports or processes.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { z } from "zod";
import { HttpError, readJsonBody, sendJson } from "./http-json";
import { SIM_FAULTS, type SimFault, SimNode, type SimNodeSnapshot } from "./node";
import { findDoubleMasterIntervals, RoleLog, type SimRole } from "./role-log";
import { type AuthorizedKey, parseAuthorizedKeys } from "./ssh-server";

export type FleetNodeSpec = {
  name: string;
  host: string;
  cluster: string;
  role: SimRole;
  epoch?: number;
  /**
   * "pool" for active-active clusters (every member serves as master by design); the control
   * endpoint's double-master check only covers active-standby clusters. Default active-standby.
   */
  clusterMode?: "active-standby" | "pool";
};

export type StartFleetOptions = {
  nodes: readonly FleetNodeSpec[];
  /** Host keys, GPU state files, role-log.jsonl, fleet.json, known_hosts. Default `.switchyard/sim`. */
  dataDir?: string;
  /** Same port on every node (each node has its own address). 0 = a free port per node. */
  httpPort?: number;
  sshPort?: number;
  /** OpenSSH authorized_keys text, or already parsed keys. */
  authorizedKeys: string | readonly AuthorizedKey[];
  /** Control endpoint port on 127.0.0.1; 0 = any free port; null = no control endpoint. */
  controlPort?: number | null;
  noiseIntervalMs?: number;
  /** Nodes started at once. */
  startConcurrency?: number;
};

export type FleetHandle = {
  readonly nodes: readonly SimNode[];
  readonly dataDir: string;
  readonly roleLog: RoleLog;
  /** e.g. http://127.0.0.1:7070, or null without a control endpoint. */
  readonly controlUrl: string | null;
  getNode(name: string): SimNode;
  stop(): Promise<void>;
};

export const DEFAULT_SIM_DATA_DIR = ".switchyard/sim";

/**
 * The loopback address of the i-th (0-based) generated node: 127.0.0.2, ..., 127.0.0.255, then
 * 127.0.1.1, ... (x.0 addresses are skipped: they look like network addresses to many tools).
 */
export function simNodeAddress(index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new Error(`invalid node index ${index}`);
  if (index < 254) return `127.0.0.${index + 2}`;
  const rest = index - 254;
  const third = 1 + Math.floor(rest / 255);
  const fourth = 1 + (rest % 255);
  if (third > 255) throw new Error("too many simulated nodes for 127.0.0.0/16");
  return `127.0.${third}.${fourth}`;
}

/** `sim-001`, `sim-002`, ... paired into clusters `sim-c001`, ...; the first of each pair is master. */
export function genericFleetSpecs(count: number): FleetNodeSpec[] {
  // Fixed width, so sim-001 names the same node in a 2-node demo and in a 1,000-node benchmark.
  const width = 3;
  return Array.from({ length: count }, (_, i) => ({
    name: `sim-${String(i + 1).padStart(width, "0")}`,
    host: simNodeAddress(i),
    cluster: `sim-c${String(Math.floor(i / 2) + 1).padStart(width, "0")}`,
    role: i % 2 === 0 ? ("master" as const) : ("standby" as const),
  }));
}

export async function startFleet(options: StartFleetOptions): Promise<FleetHandle> {
  const dataDir = path.resolve(options.dataDir ?? DEFAULT_SIM_DATA_DIR);
  const httpPort = options.httpPort ?? 8000;
  const sshPort = options.sshPort ?? 2222;
  validateSpecs(options.nodes, httpPort, sshPort);
  const authorizedKeys =
    typeof options.authorizedKeys === "string"
      ? parseAuthorizedKeys(options.authorizedKeys)
      : options.authorizedKeys;
  if (authorizedKeys.length === 0)
    throw new Error("startFleet: authorizedKeys is empty; nobody could log in");

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const roleLog = new RoleLog(path.join(dataDir, "role-log.jsonl"));
  const nodes = options.nodes.map(
    ({ clusterMode: _mode, ...spec }) =>
      new SimNode({
        ...spec,
        httpPort,
        sshPort,
        dataDir,
        authorizedKeys: () => authorizedKeys,
        roleLog,
        noiseIntervalMs: options.noiseIntervalMs,
      }),
  );
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const poolClusters = new Set(options.nodes.filter((n) => n.clusterMode === "pool").map((n) => n.cluster));
  let control: http.Server | null = null;

  const stop = async () => {
    if (control) await closeServer(control);
    control = null;
    await Promise.all(nodes.map((n) => n.stop()));
    await roleLog.close();
  };

  try {
    await runLimited(nodes, options.startConcurrency ?? 32, (n) => n.start());
    if (options.controlPort !== null) {
      control = await startControlServer(options.controlPort ?? 7070, {
        nodes,
        byName,
        roleLog,
        poolClusters,
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const address = control?.address();
  const controlUrl = address && typeof address === "object" ? `http://127.0.0.1:${address.port}` : null;
  writeFleetFiles(dataDir, nodes, controlUrl);

  return {
    nodes,
    dataDir,
    roleLog,
    controlUrl,
    getNode(name: string) {
      const node = byName.get(name);
      if (!node) throw new Error(`no simulated node named ${JSON.stringify(name)}`);
      return node;
    },
    stop,
  };
}

function validateSpecs(specs: readonly FleetNodeSpec[], httpPort: number, sshPort: number): void {
  if (specs.length === 0) throw new Error("startFleet: no nodes");
  const names = new Set<string>();
  const hosts = new Set<string>();
  for (const spec of specs) {
    if (names.has(spec.name)) throw new Error(`duplicate node name ${spec.name}`);
    names.add(spec.name);
    // Loopback only: the simulator runs arbitrary commands over SSH and must never face a network.
    if (
      !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(spec.host) ||
      spec.host.split(".").some((p) => Number(p) > 255)
    ) {
      throw new Error(`node ${spec.name}: host must be a 127.x.y.z loopback address, got ${spec.host}`);
    }
    if (hosts.has(spec.host) && httpPort !== 0)
      throw new Error(`node ${spec.name}: address ${spec.host} used twice`);
    hosts.add(spec.host);
  }
  for (const [label, port] of [
    ["httpPort", httpPort],
    ["sshPort", sshPort],
  ] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`${label} must be 0..65535`);
  }
  if (httpPort !== 0 && httpPort === sshPort) throw new Error("httpPort and sshPort must differ");
}

async function runLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length && errors.length === 0) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

/** fleet.json for programs (the demo seeds its inventory from it) and known_hosts for people using `ssh`. */
function writeFleetFiles(dataDir: string, nodes: readonly SimNode[], controlUrl: string | null): void {
  const fleet = {
    controlUrl,
    startedAt: new Date().toISOString(),
    pid: process.pid,
    nodes: nodes.map((n) => ({
      name: n.name,
      cluster: n.cluster,
      host: n.host,
      httpPort: n.httpPort,
      sshPort: n.sshPort,
      role: n.role,
      hostKeyFingerprint: n.hostKeyFingerprint,
    })),
  };
  writeFileSync(path.join(dataDir, "fleet.json"), `${JSON.stringify(fleet, null, 2)}\n`);
  const knownHosts = nodes.map((n) => `[${n.host}]:${n.sshPort} ${n.hostKeyPublicLine}`).join("\n");
  writeFileSync(path.join(dataDir, "known_hosts"), `${knownHosts}\n`);
}

// ---------------------------------------------------------------------------------------------
// Control endpoint

const faultBody = z
  .object({
    fault: z.enum([...SIM_FAULTS, "recover"]),
    ms: z.number().int().min(1).max(600_000).optional(),
  })
  .strict()
  .refine((b) => b.ms === undefined || b.fault === "slow", {
    message: "ms only applies to the slow fault",
    path: ["ms"],
  });

function describeNode(node: SimNode): SimNodeSnapshot & { http: string; ssh: string } {
  return {
    ...node.snapshot(),
    http: `http://${node.host}:${node.httpPort}`,
    ssh: `${node.host}:${node.sshPort}`,
  };
}

type ControlContext = {
  nodes: readonly SimNode[];
  byName: ReadonlyMap<string, SimNode>;
  roleLog: RoleLog;
  poolClusters: ReadonlySet<string>;
};

async function startControlServer(port: number, context: ControlContext): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    handleControl(req, res, context).catch((err: unknown) => {
      if (err instanceof HttpError) return sendJson(res, err.status, err.body);
      if (err instanceof URIError)
        return sendJson(res, 400, { error: "bad_request", message: "malformed URL" });
      sendJson(res, 500, { error: "internal_error", message: (err as Error).message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new Error(`control endpoint: cannot listen on 127.0.0.1:${port} (${err.code ?? err.message})`)),
    );
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return server;
}

async function handleControl(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  { nodes, byName, roleLog, poolClusters }: ControlContext,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://control.invalid");
  const method = req.method ?? "GET";
  const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);

  if (method === "GET" && url.pathname === "/health")
    return sendJson(res, 200, { status: "ok", nodes: nodes.length });
  if (method === "GET" && url.pathname === "/nodes")
    return sendJson(res, 200, { nodes: nodes.map(describeNode) });
  if (method === "GET" && url.pathname === "/role-log") {
    const cluster = url.searchParams.get("cluster");
    const entries = cluster ? roleLog.forCluster(cluster) : roleLog.entries;
    const clusters = new Map<string, string[]>();
    for (const n of nodes) {
      if (!poolClusters.has(n.cluster)) clusters.set(n.cluster, [...(clusters.get(n.cluster) ?? []), n.name]);
    }
    const doubleMaster = [...clusters]
      .filter(([name]) => !cluster || name === cluster)
      .flatMap(([name, members]) =>
        findDoubleMasterIntervals(roleLog.entries, members).map((interval) => ({
          cluster: name,
          ...interval,
        })),
      );
    return sendJson(res, 200, { entries, doubleMaster });
  }

  if (parts[0] === "nodes" && parts[1] !== undefined) {
    const node = byName.get(parts[1]);
    if (!node) {
      req.resume();
      return sendJson(res, 404, {
        error: "unknown_node",
        message: `no simulated node named ${JSON.stringify(parts[1])}`,
        node: parts[1],
      });
    }
    if (parts.length === 2 && method === "GET") return sendJson(res, 200, { node: describeNode(node) });
    if (parts[2] === "faults" && parts.length === 3 && method === "POST") {
      const parsed = faultBody.safeParse(await readJsonBody(req, 16 * 1024));
      if (!parsed.success) {
        return sendJson(res, 400, {
          error: "bad_request",
          message: `expected {"fault": one of ${[...SIM_FAULTS, "recover"].join("|")}, "ms"?: integer (slow only)}`,
          issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
        });
      }
      await node.applyFault(parsed.data.fault, { ms: parsed.data.ms });
      return sendJson(res, 200, { node: describeNode(node) });
    }
    if (parts[2] === "faults" && parts.length === 4 && method === "DELETE") {
      const fault = parts[3] as SimFault;
      if (!SIM_FAULTS.includes(fault)) {
        return sendJson(res, 400, { error: "bad_request", message: `unknown fault ${parts[3]}` });
      }
      await node.clearFault(fault);
      return sendJson(res, 200, { node: describeNode(node) });
    }
  }
  req.resume();
  sendJson(res, 404, { error: "not_found", path: url.pathname });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
