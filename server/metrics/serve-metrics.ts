/**
 * The controller's scrape endpoint: `GET /metrics` (Prometheus text format 0.0.4) and `GET /healthz`
 * (JSON liveness/readiness for a supervisor or load balancer), on plain node:http.
 *
 * It is its own tiny server rather than a route in the web app because the controller is a separate
 * process (DESIGN.md "Processes") and must stay scrapeable while the web tier is down. It binds to
 * loopback unless told otherwise: metrics name every node and cluster. Rendering is synchronous
 * and cheap (a string join), so there is no caching; a render that throws answers 500 without
 * taking the process down.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus";

export type MetricsServerOptions = {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  render: () => string;
  /** `ok: false` answers 503; `body` is sent as JSON either way. Default `{ ok: true }`. */
  health?: () => { ok: boolean; body: unknown };
};

export type MetricsServer = {
  readonly host: string;
  readonly port: number;
  /** e.g. http://127.0.0.1:9464 */
  readonly url: string;
  close(): Promise<void>;
};

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? "127.0.0.1";
  const server = http.createServer((req, res) => handle(req, res, options));
  // Scrapers reuse connections; a slow or stuck client must not hold a socket for ever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        new Error(`metrics endpoint: cannot listen on ${host}:${options.port} (${err.code ?? err.message})`),
      );
    server.once("error", onError);
    server.listen(options.port, host, () => {
      server.removeListener("error", onError);
      resolve();
    });
  });
  server.on("error", () => {});
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    host,
    port,
    url: `http://${urlHost}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function send(
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string,
  head: boolean,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...extra,
  });
  res.end(head ? undefined : body);
}

function handle(req: http.IncomingMessage, res: http.ServerResponse, options: MetricsServerOptions): void {
  const method = req.method ?? "GET";
  const pathname = (req.url ?? "/").split("?", 1)[0];
  const json = "application/json; charset=utf-8";
  const head = method === "HEAD";
  if (pathname !== "/metrics" && pathname !== "/healthz") {
    send(res, 404, json, JSON.stringify({ error: "not_found", path: pathname }), head);
    return;
  }
  if (method !== "GET" && !head) {
    send(res, 405, json, JSON.stringify({ error: "method_not_allowed", allow: "GET, HEAD" }), false, {
      allow: "GET, HEAD",
    });
    return;
  }
  if (pathname === "/metrics") {
    let text: string;
    try {
      text = options.render();
    } catch (err) {
      send(
        res,
        500,
        "text/plain; charset=utf-8",
        `# metrics render failed: ${(err as Error).message}\n`,
        head,
      );
      return;
    }
    send(res, 200, PROMETHEUS_CONTENT_TYPE, text, head);
    return;
  }
  let health: { ok: boolean; body: unknown };
  try {
    health = options.health ? options.health() : { ok: true, body: { ok: true } };
  } catch (err) {
    health = { ok: false, body: { ok: false, error: (err as Error).message } };
  }
  send(res, health.ok ? 200 : 503, json, JSON.stringify(health.body), head);
}
