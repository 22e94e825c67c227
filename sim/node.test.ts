import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GPU_QUERY_FIELDS, parseGpuCsv } from "@/server/gpu/parse-nvidia-smi";
import { exec, type SshConnection, SshExecError } from "@/server/ssh";
import { findDoubleMasterIntervals, type SimNode } from "./node";
import { httpRequest, startTestFleet, type TestFleet, tcpConnect } from "./testing";

const QUERY = `nvidia-smi --query-gpu=${GPU_QUERY_FIELDS.join(",")} --format=csv,noheader,nounits`;

let t: TestFleet;
let master: SimNode;
let standby: SimNode;
let masterSsh: SshConnection;

beforeAll(async () => {
  t = await startTestFleet([
    { name: "node-a", host: "127.0.0.2", cluster: "cluster-1", role: "master" },
    { name: "node-b", host: "127.0.0.3", cluster: "cluster-1", role: "standby" },
  ]);
  master = t.fleet.getNode("node-a");
  standby = t.fleet.getNode("node-b");
  masterSsh = await t.connect(master);
});

afterAll(async () => {
  await t?.stop();
});

afterEach(async () => {
  await Promise.all(t.fleet.nodes.map((n) => n.applyFault("recover")));
});

const healthUrl = (node: SimNode) => `http://${node.host}:${node.httpPort}/health`;
const apiUrl = (node: SimNode, p: string) => `http://${node.host}:${node.httpPort}${p}`;

async function fault(node: SimNode, name: string, ms?: number): Promise<void> {
  const res = await httpRequest(`${t.fleet.controlUrl}/nodes/${node.name}/faults`, {
    method: "POST",
    body: JSON.stringify(ms === undefined ? { fault: name } : { fault: name, ms }),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function gpu(conn: SshConnection) {
  const result = await exec(conn, QUERY, { timeoutMs: 5_000 });
  const parsed = parseGpuCsv(result.stdout, GPU_QUERY_FIELDS);
  if (!parsed.ok) throw new Error(`unparseable nvidia-smi output: ${parsed.error.message}`);
  const sample = parsed.samples[0];
  if (!sample) throw new Error("no GPU sample");
  return sample;
}

describe("simulated node HTTP API", () => {
  it("reports health with role, epoch and node name", async () => {
    const a = await httpRequest(healthUrl(master));
    const b = await httpRequest(healthUrl(standby));
    expect(a).toMatchObject({
      status: 200,
      body: { status: "healthy", role: "master", epoch: 0, node: "node-a" },
    });
    expect(b).toMatchObject({ status: 200, body: { status: "healthy", role: "standby", node: "node-b" } });
  });

  it("serves status with GPU summary, faults, uptime and index snapshot", async () => {
    const res = await httpRequest(apiUrl(master, "/api/v1/status"));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      node: "node-a",
      cluster: "cluster-1",
      role: "master",
      status: "healthy",
      faults: [],
      gpu: { mode: "ok", memoryTotalMib: 81559 },
      indexSnapshotId: expect.stringMatching(/^cluster-1-snap-/),
    });
    expect((res.body as { uptimeSec: number }).uptimeSec).toBeGreaterThanOrEqual(0);
  });

  it("answers search deterministically and rejects bad input", async () => {
    const body = JSON.stringify({ query: "gpu failover", k: 3 });
    const one = await httpRequest(apiUrl(master, "/api/v1/search"), { method: "POST", body });
    const two = await httpRequest(apiUrl(standby, "/api/v1/search"), { method: "POST", body });
    expect(one.status).toBe(200);
    const hits = (one.body as { hits: unknown[] }).hits;
    expect(hits).toHaveLength(3);
    expect((two.body as { hits: unknown[] }).hits).toEqual(hits);

    const badJson = await httpRequest(apiUrl(master, "/api/v1/search"), { method: "POST", body: "{nope" });
    expect(badJson).toMatchObject({ status: 400, body: { error: "invalid_json" } });
    const badShape = await httpRequest(apiUrl(master, "/api/v1/search"), { method: "POST", body: '{"k":2}' });
    expect(badShape).toMatchObject({ status: 400, body: { error: "bad_request" } });
    const tooBig = await httpRequest(apiUrl(master, "/api/v1/search"), {
      method: "POST",
      body: JSON.stringify({ query: "x".repeat(100_000) }),
    });
    expect(tooBig.status).toBe(413);
    expect((await httpRequest(apiUrl(master, "/nope"))).status).toBe(404);
    expect((await httpRequest(apiUrl(master, "/api/v1/activate"))).status).toBe(405);
  });

  it("answers GET search like POST search, and rejects a missing, repeated or oversized q", async () => {
    const post = await httpRequest(apiUrl(master, "/api/v1/search"), {
      method: "POST",
      body: JSON.stringify({ query: "gpu failover & index", k: 4 }),
    });
    const get = await httpRequest(
      apiUrl(standby, `/api/v1/search?q=${encodeURIComponent("gpu failover & index")}&k=4`),
    );
    expect(get).toMatchObject({ status: 200, body: { node: "node-b", query: "gpu failover & index", k: 4 } });
    expect((get.body as { hits: unknown[] }).hits).toEqual((post.body as { hits: unknown[] }).hits);
    const defaultK = await httpRequest(apiUrl(master, "/api/v1/search?q=x"));
    expect(defaultK).toMatchObject({ status: 200, body: { node: "node-a", k: 5 } });

    for (const bad of [
      "",
      "?k=3",
      "?q=",
      "?q=a&q=b",
      "?q=a&k=0",
      "?q=a&k=101",
      "?q=a&k=abc",
      "?q=a&k=1&k=2",
      `?q=${"x".repeat(2_001)}`,
    ]) {
      const res = await httpRequest(apiUrl(master, `/api/v1/search${bad}`));
      expect(res, bad).toMatchObject({ status: 400, body: { error: "bad_request" } });
    }
    const put = await httpRequest(apiUrl(master, "/api/v1/search?q=a"), { method: "PUT" });
    expect(put).toMatchObject({ status: 405, body: { allow: "GET, POST" } });

    await fault(master, "http503");
    expect((await httpRequest(apiUrl(master, "/api/v1/search?q=a"))).status).toBe(503);
    await fault(master, "recover");
    await fault(master, "gpu_lost");
    expect(await httpRequest(apiUrl(master, "/api/v1/search?q=a"))).toMatchObject({
      status: 503,
      body: { error: "unhealthy" },
    });
  });

  it("refuses activate without a valid epoch (400) and with a stale epoch (409), keeping the role", async () => {
    const missing = await httpRequest(apiUrl(standby, "/api/v1/activate"), { method: "POST" });
    expect(missing).toMatchObject({ status: 400, body: { error: "bad_request" } });
    const invalid = await httpRequest(apiUrl(standby, "/api/v1/activate"), {
      method: "POST",
      body: '{"epoch":-1}',
    });
    expect(invalid.status).toBe(400);

    // Raise the standby's epoch by a degrade that carries one, then try to activate with less.
    const degrade = await httpRequest(apiUrl(standby, "/api/v1/degrade"), {
      method: "POST",
      body: '{"epoch":7}',
    });
    expect(degrade).toMatchObject({ status: 200, body: { role: "standby", epoch: 7 } });
    const before = t.fleet.roleLog.entries.length;
    const stale = await httpRequest(apiUrl(standby, "/api/v1/activate"), {
      method: "POST",
      body: '{"epoch":6}',
    });
    expect(stale).toMatchObject({ status: 409, body: { error: "stale_epoch", epoch: 7 } });
    expect(standby.role).toBe("standby");
    expect((await httpRequest(healthUrl(standby))).body).toMatchObject({ role: "standby", epoch: 7 });
    expect(t.fleet.roleLog.entries.length).toBe(before);
    const staleDegrade = await httpRequest(apiUrl(master, "/api/v1/degrade"), {
      method: "POST",
      body: '{"epoch":0}',
    });
    expect(staleDegrade.status).toBe(200);
  });

  it("switches over and back with rising epochs, never with two masters", async () => {
    const base = Math.max(master.epoch, standby.epoch);
    const post = (node: SimNode, p: string, body?: unknown) =>
      httpRequest(apiUrl(node, p), {
        method: "POST",
        body: body === undefined ? undefined : JSON.stringify(body),
      });

    expect((await post(master, "/api/v1/degrade")).status).toBe(200);
    expect((await post(master, "/api/v1/degrade")).body).toMatchObject({ role: "standby", changed: false });
    expect((await post(standby, "/api/v1/activate", { epoch: base + 1 })).body).toMatchObject({
      role: "master",
    });
    // Fence the old master with the new epoch, as a switchover's degrade step does.
    expect((await post(standby, "/api/v1/degrade", { epoch: base + 2 })).status).toBe(200);
    expect((await post(master, "/api/v1/activate", { epoch: base + 2 })).status).toBe(200);
    // A stale controller (still at base + 1) cannot bring the fenced node back.
    expect((await post(standby, "/api/v1/activate", { epoch: base + 1 })).status).toBe(409);

    expect(master.role).toBe("master");
    expect(standby.role).toBe("standby");
    const log = t.fleet.roleLog.entries;
    expect(log.filter((e) => e.cluster === "cluster-1" && e.to === "master").length).toBeGreaterThanOrEqual(
      3,
    );
    expect(findDoubleMasterIntervals(log, ["node-a", "node-b"])).toEqual([]);

    // The detector itself must be able to fail: a second activation without a degrade is caught.
    expect((await post(standby, "/api/v1/activate", { epoch: base + 2 })).status).toBe(200);
    const overlaps = findDoubleMasterIntervals(t.fleet.roleLog.entries, ["node-a", "node-b"]);
    expect(overlaps).toHaveLength(1);
    expect(overlaps[0]).toMatchObject({ nodes: ["node-a", "node-b"], endMs: null });
    expect((await post(standby, "/api/v1/degrade")).status).toBe(200);
    expect(findDoubleMasterIntervals(t.fleet.roleLog.entries, ["node-a", "node-b"])[0]?.endMs).not.toBeNull();

    const roleLog = await httpRequest(`${t.fleet.controlUrl}/role-log?cluster=cluster-1`);
    expect(roleLog.body).toMatchObject({
      doubleMaster: [{ cluster: "cluster-1", nodes: ["node-a", "node-b"] }],
    });
  });
});

describe("faults", () => {
  it("crash: connect refused, GPU idle, SSH still up; recover restores", async () => {
    const serving = await gpu(masterSsh);
    expect(serving.utilizationGpuPct).toBeGreaterThanOrEqual(20);
    expect(serving.utilizationGpuPct).toBeLessThanOrEqual(40);

    await fault(master, "crash");
    expect(await tcpConnect(master.host, master.httpPort, 1_000)).toBe("refused");
    await expect(httpRequest(healthUrl(master), { timeoutMs: 1_000 })).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
    const crashed = await gpu(masterSsh);
    expect(crashed.utilizationGpuPct).toBe(0);
    expect(crashed.memoryUsedMib).toBe(0);
    expect(t.fleet.roleLog.entries.at(-1)).toMatchObject({ node: "node-a", to: "down" });

    await fault(master, "recover");
    expect(await httpRequest(healthUrl(master))).toMatchObject({ status: 200, body: { role: "master" } });
    expect((await gpu(masterSsh)).utilizationGpuPct).toBeGreaterThanOrEqual(20);
    expect(t.fleet.roleLog.entries.at(-1)).toMatchObject({ node: "node-a", from: "down", to: "master" });
  });

  it("hang: TCP connects, the request never gets an answer", async () => {
    await fault(master, "hang");
    expect(await tcpConnect(master.host, master.httpPort, 1_000)).toBe("connected");
    await expect(httpRequest(healthUrl(master), { timeoutMs: 1_000 })).rejects.toMatchObject({
      code: "ETIMEDOUT",
    });
    await fault(master, "recover");
    expect((await httpRequest(healthUrl(master))).status).toBe(200);
  });

  it("slow: /health takes at least ms, other endpoints do not", async () => {
    await fault(master, "slow", 400);
    const health = await httpRequest(healthUrl(master));
    expect(health.status).toBe(200);
    expect(health.ms).toBeGreaterThanOrEqual(400);
    const status = await httpRequest(apiUrl(master, "/api/v1/status"));
    expect(status.ms).toBeLessThan(300);
    expect(status.body).toMatchObject({ faults: ["slow"], slowMs: 400 });
    await fault(master, "recover");
    expect((await httpRequest(healthUrl(master))).ms).toBeLessThan(300);
  });

  it("http503: /health and search answer 503", async () => {
    await fault(master, "http503");
    expect(await httpRequest(healthUrl(master))).toMatchObject({
      status: 503,
      body: { status: "unhealthy" },
    });
    const search = await httpRequest(apiUrl(master, "/api/v1/search"), {
      method: "POST",
      body: '{"query":"q"}',
    });
    expect(search.status).toBe(503);
    await fault(master, "recover");
    expect((await httpRequest(healthUrl(master))).status).toBe(200);
  });

  it("gpu_saturated: healthy at 100 % utilisation", async () => {
    await fault(master, "gpu_saturated");
    expect((await httpRequest(healthUrl(master))).status).toBe(200);
    const sample = await gpu(masterSsh);
    expect(sample.utilizationGpuPct).toBe(100);
    expect(sample.powerDrawW).toBeGreaterThan(600);
    await fault(master, "recover");
    expect((await gpu(masterSsh)).utilizationGpuPct).toBeLessThan(100);
  });

  it("gpu_overheated: 92 °C, combinable with saturation and clearable on its own", async () => {
    await fault(master, "gpu_overheated");
    expect((await gpu(masterSsh)).temperatureC).toBe(92);
    await fault(master, "gpu_saturated");
    const both = await gpu(masterSsh);
    expect([both.temperatureC, both.utilizationGpuPct]).toEqual([92, 100]);

    const cleared = await httpRequest(`${t.fleet.controlUrl}/nodes/node-a/faults/gpu_overheated`, {
      method: "DELETE",
    });
    expect(cleared.body).toMatchObject({ node: { faults: ["gpu_saturated"] } });
    const after = await gpu(masterSsh);
    expect(after.temperatureC).toBeLessThan(85);
    expect(after.utilizationGpuPct).toBe(100);
  });

  it("gpu_lost: nvidia-smi exits 9 with the driver text, /health 503 with a CUDA error", async () => {
    await fault(master, "gpu_lost");
    const err = await exec(masterSsh, QUERY, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshExecError);
    const execErr = err as SshExecError;
    expect(execErr.exitCode).toBe(9);
    expect(`${execErr.stdout}${execErr.stderr}`).toContain("couldn't communicate with the NVIDIA driver");
    const health = await httpRequest(healthUrl(master));
    expect(health).toMatchObject({
      status: 503,
      body: { status: "unhealthy", error: expect.stringMatching(/^CUDA error: /) },
    });
    await fault(master, "recover");
    expect((await gpu(masterSsh)).index).toBe(0);
    expect((await httpRequest(healthUrl(master))).status).toBe(200);
  });

  it("blackhole: a connect neither succeeds nor is refused within 1 s; recover restores", async () => {
    await fault(master, "blackhole");
    const started = performance.now();
    expect(await tcpConnect(master.host, master.httpPort, 1_000)).toBe("timeout");
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    // The host is still reachable over SSH, only the service port is black-holed.
    expect((await gpu(masterSsh)).index).toBe(0);
    await fault(master, "recover");
    expect(await tcpConnect(master.host, master.httpPort, 1_000)).toBe("connected");
    expect((await httpRequest(healthUrl(master))).status).toBe(200);
  });

  it("transport faults replace each other: crash after blackhole refuses at once", async () => {
    await fault(master, "blackhole");
    await fault(master, "crash");
    expect(master.faults).toEqual(["crash"]);
    expect(await tcpConnect(master.host, master.httpPort, 1_000)).toBe("refused");
  });
});

describe("fleet control endpoint", () => {
  it("lists nodes with roles, faults and host-key fingerprints", async () => {
    const res = await httpRequest(`${t.fleet.controlUrl}/nodes`);
    expect(res.status).toBe(200);
    const nodes = (
      res.body as { nodes: Array<{ name: string; hostKeyFingerprint: string; faults: string[] }> }
    ).nodes;
    expect(nodes.map((n) => n.name)).toEqual(["node-a", "node-b"]);
    for (const n of nodes) expect(n.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("rejects unknown faults (400) and unknown nodes (404) without changing anything", async () => {
    const bad = await httpRequest(`${t.fleet.controlUrl}/nodes/node-a/faults`, {
      method: "POST",
      body: '{"fault":"meltdown"}',
    });
    expect(bad).toMatchObject({ status: 400, body: { error: "bad_request" } });
    const msWrong = await httpRequest(`${t.fleet.controlUrl}/nodes/node-a/faults`, {
      method: "POST",
      body: '{"fault":"crash","ms":5}',
    });
    expect(msWrong.status).toBe(400);
    const unknown = await httpRequest(`${t.fleet.controlUrl}/nodes/node-z/faults`, {
      method: "POST",
      body: '{"fault":"crash"}',
    });
    expect(unknown).toMatchObject({ status: 404, body: { error: "unknown_node" } });
    expect(master.faults).toEqual([]);
    expect((await httpRequest(healthUrl(master))).status).toBe(200);
  });
});
