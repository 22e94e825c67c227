import { afterEach, describe, expect, it } from "vitest";
import { httpRequest } from "@/sim/testing";
import { type MetricsServer, startMetricsServer } from "./serve-metrics";

let server: MetricsServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function get(path: string, method = "GET") {
  if (!server) throw new Error("no server");
  const res = await fetch(`${server.url}${path}`, { method, signal: AbortSignal.timeout(5_000) });
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    text: await res.text(),
    headers: res.headers,
  };
}

describe("metrics server", () => {
  it("serves /metrics in the Prometheus text format over real HTTP", async () => {
    let renders = 0;
    server = await startMetricsServer({
      port: 0,
      render: () => `# HELP up x\n# TYPE up gauge\nup ${++renders}\n`,
    });
    expect(server.host).toBe("127.0.0.1");
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const res = await get("/metrics");
    expect(res.status).toBe(200);
    expect(res.type).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(res.text).toBe("# HELP up x\n# TYPE up gauge\nup 1\n");
    expect((await get("/metrics?debug=1")).text).toContain("up 2");
    const head = await get("/metrics", "HEAD");
    expect(head).toMatchObject({ status: 200, text: "" });
  });

  it("serves /healthz as JSON: 200 when ok, 503 when not, 200 {ok:true} by default", async () => {
    let ok = true;
    server = await startMetricsServer({
      port: 0,
      render: () => "",
      health: () => ({ ok, body: { ok, leader: true } }),
    });
    const up = await httpRequest(`${server.url}/healthz`);
    expect(up).toMatchObject({ status: 200, body: { ok: true, leader: true } });
    ok = false;
    expect(await httpRequest(`${server.url}/healthz`)).toMatchObject({ status: 503, body: { ok: false } });
    await server.close();
    server = await startMetricsServer({ port: 0, render: () => "" });
    expect(await httpRequest(`${server.url}/healthz`)).toMatchObject({ status: 200, body: { ok: true } });
  });

  it("answers 404 elsewhere, 405 for other methods, 500 when rendering throws", async () => {
    server = await startMetricsServer({
      port: 0,
      render: () => {
        throw new Error("boom");
      },
    });
    expect(await get("/nope")).toMatchObject({ status: 404 });
    const post = await get("/metrics", "POST");
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const failed = await get("/metrics");
    expect(failed.status).toBe(500);
    expect(failed.text).toContain("boom");
  });

  it("close() frees the port, even with a keep-alive connection open", async () => {
    server = await startMetricsServer({ port: 0, render: () => "x 1\n" });
    const { url } = server;
    await fetch(`${url}/metrics`).then((r) => r.text()); // undici keeps this connection alive
    await server.close();
    server = null;
    await expect(fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  });
});
