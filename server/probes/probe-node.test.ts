// probeNode against real sockets: simulated nodes with injected faults for what the field does
// (crash, hang, slow, 503, black hole), and raw net servers for what HTTP framing can do.
import net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SimNode } from "@/sim/node";
import { startTestFleet, type TestFleet } from "@/sim/testing";
import {
  PreparedProbeTarget,
  ProbeAbortedError,
  ProbeInputError,
  type ProbeResult,
  type ProbeTarget,
  probeNode,
} from "./probe-node";

const OPTS = { tcpTimeoutMs: 500, httpTimeoutMs: 1_000 };

let t: TestFleet;
const nodes: Record<string, SimNode> = {};

beforeAll(async () => {
  t = await startTestFleet([
    { name: "p-master", host: "127.0.0.2", cluster: "probe-c1", role: "master", epoch: 7 },
    { name: "p-standby", host: "127.0.0.3", cluster: "probe-c1", role: "standby" },
    { name: "p-fault", host: "127.0.0.4", cluster: "probe-c2", role: "master" },
  ]);
  for (const n of t.fleet.nodes) nodes[n.name] = n;
});

afterAll(async () => {
  await t?.stop();
});

function sim(name: string): SimNode {
  const node = nodes[name];
  if (!node) throw new Error(`no node ${name}`);
  return node;
}

function targetOf(node: SimNode, healthPath = "/health"): ProbeTarget {
  return { host: node.host, port: node.httpPort, healthPath };
}

async function timed(p: Promise<ProbeResult>): Promise<{ result: ProbeResult; elapsed: number }> {
  const started = performance.now();
  const result = await p;
  return { result, elapsed: performance.now() - started };
}

describe("probeNode against the simulator", () => {
  afterEach(async () => {
    await sim("p-fault").applyFault("recover");
  });

  it("sees a healthy master: TCP and HTTP ok, role, epoch and status from /health", async () => {
    const before = Date.now();
    const result = await probeNode(targetOf(sim("p-master")), OPTS);
    expect(result).toMatchObject({
      tcpOk: true,
      httpOk: true,
      httpStatus: 200,
      error: null,
      reportedRole: "master",
      reportedEpoch: 7,
      healthStatus: "healthy",
    });
    expect(result.at).toBeGreaterThanOrEqual(before);
    expect(result.at).toBeLessThanOrEqual(Date.now());
    expect(result.tcpMs).toBeGreaterThanOrEqual(0);
    expect(result.httpMs).toBeGreaterThan(0);
    expect(result.httpMs).toBeLessThan(500);
  });

  it("reports a standby's role", async () => {
    const result = await probeNode(targetOf(sim("p-standby")), OPTS);
    expect(result).toMatchObject({ httpOk: true, reportedRole: "standby", reportedEpoch: 0 });
  });

  it("a crashed process: TCP refused, fast", async () => {
    await sim("p-fault").applyFault("crash");
    const { result, elapsed } = await timed(probeNode(targetOf(sim("p-fault")), OPTS));
    expect(result).toMatchObject({
      tcpOk: false,
      httpOk: false,
      httpStatus: null,
      httpMs: null,
      error: "TCP connect refused",
      reportedRole: null,
    });
    expect(elapsed).toBeLessThan(200);
    expect(result.tcpMs).toBeLessThan(200);
  });

  it("a hung process: TCP ok, HTTP fails by its own timeout (±100 ms)", async () => {
    await sim("p-fault").applyFault("hang");
    const { result, elapsed } = await timed(probeNode(targetOf(sim("p-fault")), OPTS));
    expect(result).toMatchObject({
      tcpOk: true,
      httpOk: false,
      httpStatus: null,
      error: "HTTP timed out after 1000 ms",
    });
    expect(elapsed).toBeGreaterThanOrEqual(1_000 - 5);
    expect(elapsed).toBeLessThan(1_100);
    expect(result.httpMs).toBeGreaterThanOrEqual(990);
    expect(result.httpMs).toBeLessThan(1_100);
  });

  it("a slow /health (300 ms): still ok, and httpMs shows the delay", async () => {
    await sim("p-fault").applyFault("slow", { ms: 300 });
    const result = await probeNode(targetOf(sim("p-fault")), OPTS);
    expect(result).toMatchObject({ tcpOk: true, httpOk: true, httpStatus: 200, error: null });
    expect(result.httpMs).toBeGreaterThanOrEqual(300);
    expect(result.httpMs).toBeLessThan(700);
  });

  it("an app that reports itself unhealthy: HTTP 503, with what the body says", async () => {
    await sim("p-fault").applyFault("http503");
    const result = await probeNode(targetOf(sim("p-fault")), OPTS);
    expect(result).toMatchObject({
      tcpOk: true,
      httpOk: false,
      httpStatus: 503,
      error: "HTTP 503",
      healthStatus: "unhealthy",
      reportedRole: "master",
    });
  });

  it("a lost GPU: HTTP 503 and the driver error the node reports, on one bounded line", async () => {
    await sim("p-fault").applyFault("gpu_lost");
    const result = await probeNode(targetOf(sim("p-fault")), OPTS);
    expect(result.httpStatus).toBe(503);
    expect(result.error).toMatch(/^HTTP 503: CUDA error: .*fallen off the bus/);
  });

  it("a black-holed port: TCP connect times out by the TCP timeout, not refused", async () => {
    await sim("p-fault").applyFault("blackhole");
    const { result, elapsed } = await timed(probeNode(targetOf(sim("p-fault")), OPTS));
    expect(result).toMatchObject({
      tcpOk: false,
      httpOk: false,
      httpMs: null,
      error: "TCP connect timed out after 500 ms",
    });
    expect(elapsed).toBeGreaterThanOrEqual(495);
    expect(elapsed).toBeLessThan(650);
  });

  it("an unknown path: the node's 404 is a failed HTTP check", async () => {
    const result = await probeNode(targetOf(sim("p-master"), "/nope"), OPTS);
    expect(result).toMatchObject({ tcpOk: true, httpOk: false, httpStatus: 404 });
    // The node's own `error` field rides along, bounded: "HTTP 404: not_found".
    expect(result.error).toMatch(/^HTTP 404(: not_found)?$/);
  });
});

// ---------------------------------------------------------------------------------------------
// Raw servers: exact bytes on the wire.

type RawServer = { port: number; connections: number; requests: string[]; close(): Promise<void> };

/** A TCP server that waits for a full request head, then lets `respond` write whatever it likes. */
async function rawServer(respond: (socket: net.Socket, request: string) => void): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0, requests: [] as string[] };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = "";
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      state.requests.push(head);
      respond(socket, head);
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get connections() {
      return state.connections;
    },
    requests: state.requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const servers: RawServer[] = [];
async function serve(respond: (socket: net.Socket, request: string) => void): Promise<ProbeTarget> {
  const server = await rawServer(respond);
  servers.push(server);
  return { host: "127.0.0.1", port: server.port, healthPath: "/health" };
}

/** Writes the pieces with a small pause between them, so the parser sees them as separate chunks. */
function writeSlowly(socket: net.Socket, pieces: string[], end = true): void {
  let i = 0;
  const next = () => {
    if (socket.destroyed) return;
    const piece = pieces[i++];
    if (piece === undefined) {
      if (end) socket.end();
      return;
    }
    socket.write(piece);
    setTimeout(next, 5);
  };
  next();
}

const HEALTHY = '{"status":"healthy","role":"standby","epoch":3}';

describe("probeNode HTTP framing (raw servers)", () => {
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it("sends exactly one minimal GET with Host, Connection: close and User-Agent", async () => {
    const server = await rawServer((socket) =>
      socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${HEALTHY.length}\r\n\r\n${HEALTHY}`),
    );
    servers.push(server);
    const result = await probeNode({ host: "127.0.0.1", port: server.port, healthPath: "/health?x=1" }, OPTS);
    expect(result.httpOk).toBe(true);
    expect(server.requests).toEqual([
      `GET /health?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\nUser-Agent: switchyard-probe\r\n\r\n`,
    ]);
  });

  it("reads a Content-Length body and finishes without waiting for the close", async () => {
    // The server never closes: the probe must stop at Content-Length, not at the HTTP timeout.
    const target = await serve((socket) =>
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${HEALTHY.length}\r\n\r\n${HEALTHY}`),
    );
    const { result, elapsed } = await timed(probeNode(target, OPTS));
    expect(result).toMatchObject({ httpOk: true, reportedRole: "standby", reportedEpoch: 3 });
    expect(elapsed).toBeLessThan(300);
  });

  it("reads a body delimited by the connection close", async () => {
    const target = await serve((socket) =>
      writeSlowly(socket, [
        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n",
        HEALTHY.slice(0, 10),
        HEALTHY.slice(10),
      ]),
    );
    const result = await probeNode(target, OPTS);
    expect(result).toMatchObject({
      httpOk: true,
      httpStatus: 200,
      healthStatus: "healthy",
      reportedEpoch: 3,
    });
  });

  it("decodes chunked transfer encoding split across packets, with extensions and trailers", async () => {
    const body = HEALTHY;
    const a = body.slice(0, 17);
    const b = body.slice(17);
    const target = await serve((socket) =>
      writeSlowly(
        socket,
        [
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n",
          `${a.length.toString(16)};ext=1\r\n${a.slice(0, 5)}`,
          `${a.slice(5)}\r`,
          `\n${b.length.toString(16).toUpperCase()}\r\n${b}\r\n`,
          "0\r\nX-Trailer: yes\r\n",
          "\r\n",
        ],
        false, // keep the socket open: the terminal chunk alone must finish the probe
      ),
    );
    const { result, elapsed } = await timed(probeNode(target, OPTS));
    expect(result).toMatchObject({
      tcpOk: true,
      httpOk: true,
      httpStatus: 200,
      error: null,
      reportedRole: "standby",
      reportedEpoch: 3,
      healthStatus: "healthy",
    });
    expect(elapsed).toBeLessThan(500);
  });

  it("rejects malformed chunked framing with a clear error", async () => {
    const target = await serve((socket) =>
      socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    );
    const result = await probeNode(target, OPTS);
    expect(result).toMatchObject({ tcpOk: true, httpOk: false, httpStatus: 200 });
    expect(result.error).toMatch(/^malformed chunked encoding: bad chunk size "zz"/);
  });

  it("rejects an oversized body declared by Content-Length before reading it", async () => {
    const target = await serve((socket) =>
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{"),
    );
    const result = await probeNode(target, OPTS);
    expect(result).toMatchObject({ tcpOk: true, httpOk: false, httpStatus: 200 });
    expect(result.error).toBe("response too large: body exceeds 65536 bytes");
  });

  it("rejects an oversized chunked or read-to-close body at the cap", async () => {
    const big = "x".repeat(3_000);
    const chunked = await serve((socket) =>
      socket.end(
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(3_000).toString(16)}\r\n${big}\r\n0\r\n\r\n`,
      ),
    );
    const toClose = await serve((socket) => {
      socket.write("HTTP/1.1 200 OK\r\n\r\n");
      // Streams for ever; the cap, not the timeout, must end it.
      const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(big)), 2);
    });
    for (const target of [chunked, toClose]) {
      const { result, elapsed } = await timed(probeNode(target, { ...OPTS, maxBodyBytes: 2_048 }));
      expect(result.httpOk).toBe(false);
      expect(result.error).toBe("response too large: body exceeds 2048 bytes");
      expect(elapsed).toBeLessThan(500);
    }
  });

  it("rejects oversized headers", async () => {
    const target = await serve((socket) => socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(20_000)}`));
    const result = await probeNode(target, OPTS);
    expect(result.error).toMatch(/^response headers too large/);
  });

  it.each([
    ["a non-numeric status", "HTTP/1.1 abc OK\r\n\r\n", /^malformed status line: "HTTP\/1.1 abc OK"$/],
    [
      "a non-HTTP peer (SSH banner)",
      "SSH-2.0-OpenSSH_9.6\r\n",
      /^malformed status line: "SSH-2.0-OpenSSH_9.6"$/,
    ],
    ["HTTP/2 text", "HTTP/2 200\r\n\r\n", /^malformed status line: "HTTP\/2 200"$/],
    [
      "a header without a colon",
      "HTTP/1.1 200 OK\r\nBroken header\r\n\r\n",
      /^malformed header line: "Broken header"$/,
    ],
    [
      "a bad Content-Length",
      "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n",
      /^invalid Content-Length "12abc"$/,
    ],
    [
      "conflicting Content-Lengths",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
      /^conflicting Content-Length headers$/,
    ],
  ])("a malformed response (%s) is httpOk false with a clear error, never a throw", async (_, raw, error) => {
    const target = await serve((socket) => socket.end(raw));
    const result = await probeNode(target, OPTS);
    expect(result.tcpOk).toBe(true);
    expect(result.httpOk).toBe(false);
    expect(result.error).toMatch(error);
  });

  it("a truncated body or a close without any response are failures", async () => {
    const truncated = await serve((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"));
    const empty = await serve((socket) => socket.end());
    expect((await probeNode(truncated, OPTS)).error).toBe(
      "response truncated: connection closed before the body was complete",
    );
    expect(await probeNode(empty, OPTS)).toMatchObject({
      tcpOk: true,
      httpOk: false,
      httpStatus: null,
      error: "connection closed without a response",
    });
  });

  it("a reset connection is an HTTP failure, not a throw", async () => {
    const target = await serve((socket) => socket.resetAndDestroy());
    const result = await probeNode(target, OPTS);
    expect(result).toMatchObject({ tcpOk: true, httpOk: false });
    expect(result.error).toMatch(/HTTP connection reset|connection closed/);
  });

  it("tolerates a non-JSON or partial body: status decides, fields are null", async () => {
    const plain = await serve((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"));
    const partial = await serve((socket) =>
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 29\r\n\r\n{"role":"primary","epoch":-1}'),
    );
    expect(await probeNode(plain, OPTS)).toMatchObject({
      httpOk: true,
      error: null,
      reportedRole: null,
      reportedEpoch: null,
      healthStatus: null,
    });
    expect(await probeNode(partial, OPTS)).toMatchObject({
      httpOk: true,
      reportedRole: null,
      reportedEpoch: null,
      healthStatus: null,
    });
  });

  it("skips 1xx interim responses and reads the final one", async () => {
    const target = await serve((socket) =>
      socket.end(
        `HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${HEALTHY.length}\r\n\r\n${HEALTHY}`,
      ),
    );
    expect(await probeNode(target, OPTS)).toMatchObject({ httpOk: true, httpStatus: 200, reportedEpoch: 3 });
  });

  it("accepts bare-LF line endings from sloppy servers", async () => {
    const target = await serve((socket) => socket.end(`HTTP/1.1 204 No Content\nServer: x\n\n`));
    expect(await probeNode(target, OPTS)).toMatchObject({ httpOk: true, httpStatus: 204 });
  });

  it("a response whose headers arrive but whose body hangs fails by the HTTP timeout, keeping the status", async () => {
    const target = await serve((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"));
    const result = await probeNode(target, { tcpTimeoutMs: 500, httpTimeoutMs: 200 });
    expect(result).toMatchObject({ httpOk: false, httpStatus: 200, error: "HTTP timed out after 200 ms" });
  });
});

describe("probeNode input validation and lifecycle", () => {
  let server: RawServer;
  beforeAll(async () => {
    server = await rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  });
  afterAll(async () => {
    await server.close();
  });

  it.each([
    [
      "CR/LF in the path (header injection)",
      { healthPath: "/health HTTP/1.1\r\nX-Evil: 1" },
      "healthPath",
      /CR or LF/,
    ],
    ["a bare LF in the path", { healthPath: "/health\nHost: evil" }, "healthPath", /CR or LF/],
    ["a path not starting with /", { healthPath: "health" }, "healthPath", /must start with/],
    ["a space in the path", { healthPath: "/he alth" }, "healthPath", /space, control or non-ASCII/],
    ["a non-ASCII path", { healthPath: "/gesundheit/ä" }, "healthPath", /non-ASCII/],
    ["CR/LF in the host", { host: "127.0.0.1\r\nX-Evil: 1" }, "host", /CR or LF/],
    ["a host that is not a hostname", { host: "evil host" }, "host", /not an IP address or hostname/],
    ["port 0", { port: 0 }, "port", /1\.\.65535/],
    ["port 65536", { port: 65_536 }, "port", /1\.\.65535/],
    ["a fractional port", { port: 80.5 }, "port", /1\.\.65535/],
  ] as const)("rejects %s with a typed error before any I/O", async (_, patch, field, message) => {
    const before = server.connections;
    const target = { host: "127.0.0.1", port: server.port, healthPath: "/health", ...patch };
    const err = await probeNode(target, OPTS).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProbeInputError);
    expect((err as ProbeInputError).code).toBe("PROBE_INVALID_INPUT");
    expect((err as ProbeInputError).field).toBe(field);
    expect((err as ProbeInputError).message).toMatch(message);
    expect(() => PreparedProbeTarget.from(target)).toThrow(ProbeInputError);
    expect(server.connections).toBe(before);
  });

  it("rejects bad timeouts and body caps before any I/O", async () => {
    const target = { host: "127.0.0.1", port: server.port, healthPath: "/health" };
    for (const opts of [
      { tcpTimeoutMs: 0, httpTimeoutMs: 1_000 },
      { tcpTimeoutMs: 500, httpTimeoutMs: Number.NaN },
      { tcpTimeoutMs: 500, httpTimeoutMs: 1_000, maxBodyBytes: 0 },
    ]) {
      await expect(probeNode(target, opts)).rejects.toBeInstanceOf(ProbeInputError);
    }
    expect(server.connections).toBe(0);
  });

  it("formats the Host header for IPv6 literals and omits port 80", () => {
    expect(
      PreparedProbeTarget.from({ host: "::1", port: 8000, healthPath: "/h" }).request.toString(),
    ).toContain("Host: [::1]:8000\r\n");
    expect(
      PreparedProbeTarget.from({
        host: "gpu-1.example.internal",
        port: 80,
        healthPath: "/h",
      }).request.toString(),
    ).toContain("Host: gpu-1.example.internal\r\n");
  });

  it("rejects with ProbeAbortedError on abort, before or during the probe, and closes the socket", async () => {
    const hang = await rawServer(() => {});
    try {
      const target = { host: "127.0.0.1", port: hang.port, healthPath: "/health" };
      const pre = new AbortController();
      pre.abort();
      await expect(probeNode(target, { ...OPTS, signal: pre.signal })).rejects.toBeInstanceOf(
        ProbeAbortedError,
      );
      const during = new AbortController();
      const probe = probeNode(target, { ...OPTS, signal: during.signal });
      setTimeout(() => during.abort(), 50);
      const started = performance.now();
      await expect(probe).rejects.toBeInstanceOf(ProbeAbortedError);
      expect(performance.now() - started).toBeLessThan(300);
    } finally {
      await hang.close();
    }
  });

  it("leaves no timer and no socket behind, whichever way a probe ends", async () => {
    const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;
    const hang = await rawServer(() => {});
    try {
      // Let sockets from earlier tests finish closing.
      await new Promise((r) => setTimeout(r, 50));
      const timersBefore = count("Timeout");
      const socketsBefore = count("TCPSocketWrap");
      const quick = { tcpTimeoutMs: 300, httpTimeoutMs: 150 };
      const results = await Promise.all([
        probeNode({ host: "127.0.0.1", port: server.port, healthPath: "/health" }, quick),
        probeNode({ host: "127.0.0.1", port: hang.port, healthPath: "/health" }, quick),
        probeNode({ host: "127.0.0.1", port: 1, healthPath: "/health" }, quick),
      ]);
      expect(results.map((r) => [r.tcpOk, r.httpOk])).toEqual([
        [true, true],
        [true, false],
        [false, false],
      ]);
      expect(count("Timeout")).toBe(timersBefore);
      await new Promise((r) => setTimeout(r, 50));
      expect(count("TCPSocketWrap")).toBeLessThanOrEqual(socketsBefore);
    } finally {
      await hang.close();
    }
  });
});
