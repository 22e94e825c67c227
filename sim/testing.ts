/**
 * Helpers for tests that run against a real simulated fleet (sim/, server/ssh/, later the
 * controller's integration tests). Ports are picked free per run, so tests never collide with a
 * demo fleet on 8000/2222 or with each other; every fleet lives in its own temp data dir.
 */
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { connectSsh, type SshConnection } from "@/server/ssh/client";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { type FleetHandle, type FleetNodeSpec, startFleet } from "./fleet";
import type { SimNode } from "./node";

/** A port that is currently free on every one of `hosts` (so all nodes can share it, as in production). */
export async function findFreePort(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(hosts[0] ?? "127.0.0.1", 0);
    let free = true;
    for (const host of hosts.slice(1)) {
      if ((await listenOnce(host, port).catch(() => -1)) === -1) {
        free = false;
        break;
      }
    }
    if (free) return port;
  }
  throw new Error(`no common free port on ${hosts.join(", ")}`);
}

function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      const bound = address && typeof address === "object" ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

export type TestFleet = {
  fleet: FleetHandle;
  /** OpenSSH private key authorized on every node. */
  clientPrivateKey: string;
  dataDir: string;
  /** An authenticated connection to a node, pinned to its host key. */
  connect(node: SimNode): Promise<SshConnection>;
  stop(): Promise<void>;
};

export async function startTestFleet(
  nodes: readonly FleetNodeSpec[],
  options: { dataDir?: string; noiseIntervalMs?: number } = {},
): Promise<TestFleet> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), "switchyard-sim-")));
  const hosts = nodes.map((n) => n.host);
  const httpPort = await findFreePort(hosts);
  let sshPort = await findFreePort(hosts);
  while (sshPort === httpPort) sshPort = await findFreePort(hosts);
  const client = generateEd25519KeyPair("switchyard-test-client");
  const fleet = await startFleet({
    nodes,
    dataDir,
    httpPort,
    sshPort,
    authorizedKeys: client.publicKey,
    controlPort: 0,
    // Fast enough to see noise change within a test, still lazy (only while observed).
    noiseIntervalMs: options.noiseIntervalMs ?? 1_000,
  });
  const connections = new Set<SshConnection>();
  return {
    fleet,
    clientPrivateKey: client.privateKey,
    dataDir,
    async connect(node) {
      const conn = await connectSsh({
        host: node.host,
        port: node.sshPort,
        username: "switchyard",
        privateKey: client.privateKey,
        hostKeyFingerprint: node.hostKeyFingerprint,
        readyTimeoutMs: 5_000,
        keepaliveIntervalMs: 5_000,
        node: node.name,
      });
      connections.add(conn);
      return conn;
    },
    async stop() {
      await Promise.all([...connections].map((c) => c.close()));
      await fleet.stop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type TcpOutcome = "connected" | "refused" | "timeout" | `error:${string}`;

/** What a prober's TCP check would see within `timeoutMs`. */
export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<TcpOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (outcome: TcpOutcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    socket.once("connect", () => done("connected"));
    socket.once("error", (err: NodeJS.ErrnoException) =>
      done(err.code === "ECONNREFUSED" ? "refused" : `error:${err.code ?? err.message}`),
    );
  });
}

export type HttpOutcome = { status: number; body: unknown; ms: number };

/** One HTTP request on a fresh connection (no pooling, so a fault is never hidden by a reused socket). */
export function httpRequest(
  url: string,
  options: { method?: string; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<HttpOutcome> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? "GET",
        agent: false,
        headers: options.body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          if ((res.headers["content-type"] ?? "").includes("application/json")) body = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started });
        });
      },
    );
    req.setTimeout(options.timeoutMs ?? 5_000, () =>
      req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })),
    );
    req.on("error", reject);
    req.end(options.body);
  });
}
