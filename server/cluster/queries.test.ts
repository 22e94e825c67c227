// The cluster page's read models and its two routes against a real Postgres: series downsampled to
// at most 500 points per node and metric for every range (raw rows for 15m / 1h, minute rollups for
// 24h / 7d), the latest signals (a good probe, lost GPU telemetry, a silent node), the event feed
// newest first, and a cluster named by id or name, or by nothing (null / 404).
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { GET as getEvents } from "@/app/api/v1/clusters/[id]/events/route";
import { GET as getSeries } from "@/app/api/v1/clusters/[id]/series/route";
import { clusters, events, loadBalancers, nodes } from "@/db/schema";
import { type Actor, runAsActor } from "@/server/auth/guard";
import { insertGpuSamples, insertHeartbeats, rollupMinutes } from "@/server/history";
import { at, grantLease, heartbeat, openScratch, type Scratch } from "@/server/history/test-helpers";
import { getClusterSeries, getLatestSignals, listClusterEvents } from "./queries";
import { CLUSTER_SERIES_RANGES, MAX_SERIES_POINTS, SERIES_RANGE_MS } from "./ranges";
import { ClusterEventListSchema, ClusterSeriesSchema } from "./schemas";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
const now = at("2026-07-08T00:00:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms);

const VIEWER: Actor = { kind: "session", userId: null, label: "test-viewer", role: "viewer", address: null };

describe("cluster read models (Postgres)", () => {
  let s: Scratch;
  const ids: Record<string, string> = {};
  const previous = (globalThis as { switchyardDb?: unknown }).switchyardDb;

  beforeAll(async () => {
    s = await openScratch(inject("databaseUrl"));
    (globalThis as { switchyardDb?: unknown }).switchyardDb = { db: s.db, sql: s.sql };
    const db = s.db;
    const [lb] = await db
      .insert(loadBalancers)
      .values({
        name: "lb-gte",
        host: "10.0.0.9",
        upstreamConfigPath: "/etc/nginx/switchyard/gte.conf",
        endpointUrl: "http://10.0.0.9/",
      })
      .returning();
    const [gte] = await db
      .insert(clusters)
      .values({ name: "gte-pro-search", mode: "active_standby", epoch: 4, loadBalancerId: lb?.id })
      .returning();
    const [pool] = await db.insert(clusters).values({ name: "pool", mode: "active_active" }).returning();
    if (!gte || !pool) throw new Error("no clusters");
    ids.gte = gte.id;
    ids.pool = pool.id;
    const node = async (
      clusterId: string,
      name: string,
      host: string,
      role: "primary" | "standby" | "member",
      priority: number,
    ) => {
      const [row] = await db.insert(nodes).values({ clusterId, name, host, role, priority }).returning();
      if (!row) throw new Error("no node");
      ids[name] = row.id;
      return row.id;
    };
    const a = await node(gte.id, "gte-a", "10.0.0.11", "primary", 0);
    const b = await node(gte.id, "gte-b", "10.0.0.12", "standby", 10);
    const silent = await node(gte.id, "gte-c", "10.0.0.13", "standby", 20);
    const member = await node(pool.id, "pool-1", "10.0.1.1", "member", 0);
    await db.update(clusters).set({ primaryNodeId: a }).where(eq(clusters.id, gte.id));
    void silent;

    const fence = await grantLease(db, "controller", 1);
    // gte-a: a probe and two GPU samples every second for the last 70 minutes.
    const span = 70 * MINUTE;
    const everySecond = Array.from({ length: span / SECOND }, (_, i) => ago(span - i * SECOND));
    await insertHeartbeats(
      db,
      everySecond.map((t, i) => heartbeat(a, t, { httpMs: 10 + (i % 20) })),
      fence,
    );
    await insertGpuSamples(
      db,
      everySecond.flatMap((t) =>
        [0, 1].map((gpuIndex) => ({
          time: t,
          nodeId: a,
          gpuIndex,
          utilizationPct: gpuIndex === 0 ? 40 : 60,
          memoryUsedMib: 20_000,
          memoryTotalMib: 81_559,
          temperatureC: 61,
          powerW: 250,
          error: null,
        })),
      ),
      fence,
    );
    // gte-b: probes every 2 s, the last one failed; GPU readings until 5 minutes ago, then lost.
    const everyTwo = Array.from({ length: span / (2 * SECOND) }, (_, i) => ago(span - i * 2 * SECOND));
    await insertHeartbeats(
      db,
      everyTwo.map((t, i) =>
        i === everyTwo.length - 1
          ? heartbeat(b, t, {
              tcpOk: false,
              httpOk: false,
              httpMs: null,
              httpStatus: null,
              error: "connect ECONNREFUSED 10.0.0.12:8000",
            })
          : heartbeat(b, t, { reportedRole: "standby" }),
      ),
      fence,
    );
    await insertGpuSamples(
      db,
      [
        ...everyTwo
          .filter((t) => t.getTime() < ago(5 * MINUTE).getTime())
          .map((t) => ({
            time: t,
            nodeId: b,
            gpuIndex: 0,
            utilizationPct: 5,
            memoryUsedMib: 1000,
            memoryTotalMib: 81_559,
            temperatureC: 40,
            powerW: 80,
            error: null,
          })),
        {
          time: ago(3 * MINUTE),
          nodeId: b,
          gpuIndex: 0,
          utilizationPct: null,
          memoryUsedMib: null,
          memoryTotalMib: null,
          temperatureC: null,
          powerW: null,
          error:
            "driver_error: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\nMake sure that the latest driver is installed",
        },
      ],
      fence,
    );
    // A pool member probed an hour ago only: nothing "latest" for it.
    await insertHeartbeats(db, [heartbeat(member, ago(60 * MINUTE))], fence);

    // Minute rollups: the real ones for the raw window, synthetic ones for gte-a before it.
    await rollupMinutes(db, ago(span), now);
    await db.execute(sql`
      insert into heartbeat_rollup_1m
        (node_id, bucket, probes, probes_ok, tcp_ok, http_ok, latency_p50_ms, latency_p95_ms, latency_max_ms)
      select ${a}::uuid, g, 60, 60, 60, 60, 12, 20, 30
      from generate_series(${ago(7 * DAY).toISOString()}::timestamptz,
        ${ago(span + MINUTE).toISOString()}::timestamptz, interval '1 minute') g`);
    await db.execute(sql`
      insert into gpu_rollup_1m (node_id, gpu_index, bucket, samples, lost, util_avg, util_max, temp_avg, temp_max,
        mem_used_avg, mem_used_max, power_avg, power_max)
      select ${a}::uuid, i, g, 60, 0, 50, 90, 60, 70, 20000, 21000, 250, 300
      from generate_series(${ago(7 * DAY).toISOString()}::timestamptz,
        ${ago(span + MINUTE).toISOString()}::timestamptz, interval '1 minute') g, generate_series(0, 1) i`);

    // Events: three on gte (one per node kind), one on the pool.
    await db.insert(events).values([
      { at: ago(30 * MINUTE), kind: "node.state", clusterId: gte.id, nodeId: a, message: "gte-a healthy" },
      {
        at: ago(3 * MINUTE),
        kind: "gpu.telemetry_lost",
        severity: "warning",
        clusterId: gte.id,
        nodeId: b,
        message: "gte-b: GPU telemetry lost",
      },
      {
        at: ago(MINUTE),
        kind: "node.state",
        severity: "critical",
        clusterId: gte.id,
        nodeId: b,
        message: "gte-b failed",
      },
      {
        at: ago(2 * MINUTE),
        kind: "node.state",
        clusterId: pool.id,
        nodeId: member,
        message: "pool-1 healthy",
      },
    ]);
  }, 120_000);

  afterAll(async () => {
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previous;
    await s?.close();
  });

  describe("getClusterSeries", () => {
    const expected = {
      "15m": { source: "raw", stepMs: 2 * SECOND, points: 450 },
      "1h": { source: "raw", stepMs: 10 * SECOND, points: 360 },
      "24h": { source: "1m", stepMs: 5 * MINUTE, points: 288 },
      "7d": { source: "1m", stepMs: 30 * MINUTE, points: 336 },
    } as const;

    for (const range of CLUSTER_SERIES_RANGES) {
      it(`${range}: every series of every node has at most ${MAX_SERIES_POINTS} points, from ${expected[range].source}`, async () => {
        const r = await getClusterSeries(s.db, "gte-pro-search", range, { now });
        if (!r) throw new Error("no series");
        expect(ClusterSeriesSchema.parse(r)).toEqual(r);
        expect(r.range).toBe(range);
        expect(new Date(r.to).getTime() - new Date(r.from).getTime()).toBe(SERIES_RANGE_MS[range]);
        expect(r.nodes.map((n) => n.name)).toEqual(["gte-a", "gte-b", "gte-c"]);
        for (const n of r.nodes) {
          for (const [metric, series] of Object.entries(n.series)) {
            expect(series.points.length, `${n.name} ${metric}`).toBeLessThanOrEqual(MAX_SERIES_POINTS);
            expect(series.source).toBe(expected[range].source);
            expect(series.stepMs).toBe(expected[range].stepMs);
            for (const p of series.points) {
              expect(p.t).toBeGreaterThanOrEqual(new Date(r.from).getTime() - series.stepMs);
              expect(p.t).toBeLessThan(now.getTime());
            }
          }
        }
        // gte-a has data in every bin: the count is exactly range / step.
        const a = r.nodes[0];
        expect(a?.series.latency.points).toHaveLength(expected[range].points);
        expect(a?.series.gpu_util.points).toHaveLength(expected[range].points);
        // The silent standby has no series at all (gaps, never zeros).
        expect(r.nodes[2]?.series.latency.points).toEqual([]);
      });
    }

    it("carries values: the latency median, GPU means across GPUs, with maxima", async () => {
      const r = await getClusterSeries(s.db, "gte-pro-search", "15m", { now });
      const a = r?.nodes[0];
      const util = a?.series.gpu_util.points ?? [];
      expect(util.every((p) => p.value === 50 && p.max === 60)).toBe(true);
      const lat = a?.series.latency.points ?? [];
      expect(lat.every((p) => p.value !== null && p.value >= 10 && p.value <= 29)).toBe(true);
      const mem = a?.series.gpu_mem.points[0];
      expect(mem?.value).toBe(20_000);
      // 7 d comes from the minute rollups: the synthetic values show through.
      const week = await getClusterSeries(s.db, "gte-pro-search", "7d", { now });
      expect(week?.nodes[0]?.series.gpu_temp.points[0]).toMatchObject({ value: 60, max: 70 });
    });

    it("finds the cluster by id as by name, and answers null for an unknown one", async () => {
      const byName = await getClusterSeries(s.db, "gte-pro-search", "1h", { now });
      const byId = await getClusterSeries(s.db, ids.gte ?? "", "1h", { now });
      expect(byId?.clusterId).toBe(ids.gte);
      expect(byId?.clusterName).toBe("gte-pro-search");
      expect(byId?.nodes).toEqual(byName?.nodes);
      expect(await getClusterSeries(s.db, "no-such-cluster", "1h", { now })).toBeNull();
      expect(await getClusterSeries(s.db, "00000000-0000-4000-8000-000000000000", "1h", { now })).toBeNull();
    });
  });

  describe("getLatestSignals", () => {
    it("reads the newest probe and GPU tick per node; a lost marker wins; silence is none", async () => {
      const latest = await getLatestSignals(
        s.db,
        [ids["gte-a"] ?? "", ids["gte-b"] ?? "", ids["gte-c"] ?? "", ids["pool-1"] ?? ""],
        now,
      );
      const a = latest.get(ids["gte-a"] ?? "");
      expect(a?.heartbeat).toMatchObject({ tcpOk: true, httpOk: true, reportedRole: "master", error: null });
      expect(a?.heartbeat?.at).toBe(ago(SECOND).toISOString());
      expect(a?.gpu.status).toBe("ok");
      expect(a?.gpu.gpus.map((g) => [g.index, g.utilizationPct, g.temperatureC])).toEqual([
        [0, 40, 61],
        [1, 60, 61],
      ]);

      const b = latest.get(ids["gte-b"] ?? "");
      expect(b?.heartbeat).toMatchObject({ tcpOk: false, httpOk: false, httpMs: null, error: "refused" });
      expect(b?.gpu).toMatchObject({ status: "lost", at: ago(3 * MINUTE).toISOString(), gpus: [] });
      // Node output is squeezed to one bounded line.
      expect(b?.gpu.reason).toMatch(/^driver_error: NVIDIA-SMI has failed/);
      expect(b?.gpu.reason).not.toContain("\n");
      expect(b?.gpu.reason?.length).toBeLessThanOrEqual(160);

      for (const silent of ["gte-c", "pool-1"]) {
        expect(latest.get(ids[silent] ?? "")).toEqual({
          heartbeat: null,
          gpu: { status: "none", at: null, reason: null, gpus: [] },
        });
      }
    });

    it("looks only at the 15 minutes before `now`", async () => {
      const earlier = await getLatestSignals(s.db, [ids["pool-1"] ?? ""], ago(50 * MINUTE));
      expect(earlier.get(ids["pool-1"] ?? "")?.heartbeat?.at).toBe(ago(60 * MINUTE).toISOString());
      expect(await getLatestSignals(s.db, [], now)).toEqual(new Map());
    });
  });

  describe("listClusterEvents", () => {
    it("lists the cluster's events newest first with node names, and only its own", async () => {
      const list = await listClusterEvents(s.db, "gte-pro-search", 50);
      if (!list) throw new Error("no list");
      expect(ClusterEventListSchema.parse(list)).toEqual(list);
      expect(list.items.map((e) => e.message)).toEqual([
        "gte-b failed",
        "gte-b: GPU telemetry lost",
        "gte-a healthy",
      ]);
      expect(list.items[0]).toMatchObject({ severity: "critical", nodeName: "gte-b", kind: "node.state" });
      expect((await listClusterEvents(s.db, ids.gte ?? "", 2))?.items.map((e) => e.message)).toEqual([
        "gte-b failed",
        "gte-b: GPU telemetry lost",
      ]);
      expect((await listClusterEvents(s.db, "pool", 50))?.items).toHaveLength(1);
      expect(await listClusterEvents(s.db, "nope", 50)).toBeNull();
      await expect(listClusterEvents(s.db, "gte-pro-search", 0)).rejects.toThrow(/limit/);
      await expect(listClusterEvents(s.db, "gte-pro-search", 201)).rejects.toThrow(/limit/);
    });
  });

  describe("routes", () => {
    type Handler = (req: Request, ctx: { params: Promise<{ id: string }> }) => Promise<Response>;
    async function call(handler: Handler, id: string, path: string, actor: Actor | null = VIEWER) {
      const res = await runAsActor(actor, () =>
        handler(new Request(`http://127.0.0.1/api/v1/clusters/${encodeURIComponent(id)}/${path}`), {
          params: Promise.resolve({ id }),
        }),
      );
      return {
        status: res.status,
        json: (await res.json()) as Record<string, unknown>,
        headers: res.headers,
      };
    }

    it("GET /clusters/{id}/series answers the contract; 400 for a bad range; 404 for an unknown cluster", async () => {
      const ok = await call(getSeries, "gte-pro-search", "series?range=1h");
      expect(ok.status).toBe(200);
      expect(ok.headers.get("cache-control")).toBe("no-store");
      const body = ClusterSeriesSchema.parse(ok.json);
      expect(body.range).toBe("1h");
      expect(body.nodes.every((n) => Object.values(n.series).every((x) => x.points.length <= 500))).toBe(
        true,
      );
      const byDefault = await call(getSeries, ids.gte ?? "", "series");
      expect(byDefault.status).toBe(200);
      expect(byDefault.json.range).toBe("15m");
      for (const bad of ["2h", "", "15M", "7d;drop"]) {
        const res = await call(getSeries, "gte-pro-search", `series?range=${encodeURIComponent(bad)}`);
        expect(res.status, `range=${bad}`).toBe(400);
        expect(res.json).toMatchObject({ error: "invalid_query", issues: [{ path: "range" }] });
      }
      expect((await call(getSeries, "nope", "series?range=1h")).status).toBe(404);
      expect((await call(getSeries, "x".repeat(201), "series")).status).toBe(400);
      expect((await call(getSeries, "gte-pro-search", "series", null)).status).toBe(401);
    });

    it("GET /clusters/{id}/events answers the contract; 400 for a bad limit; 404 for an unknown cluster", async () => {
      const ok = await call(getEvents, "gte-pro-search", "events?limit=2");
      expect(ok.status).toBe(200);
      expect(ClusterEventListSchema.parse(ok.json).items).toHaveLength(2);
      const all = await call(getEvents, ids.gte ?? "", "events");
      expect(ClusterEventListSchema.parse(all.json).items).toHaveLength(3);
      for (const bad of ["0", "201", "abc", "1.5", "-1"]) {
        const res = await call(getEvents, "gte-pro-search", `events?limit=${bad}`);
        expect(res.status, `limit=${bad}`).toBe(400);
        expect(res.json).toMatchObject({ error: "invalid_query", issues: [{ path: "limit" }] });
      }
      expect((await call(getEvents, "nope", "events")).status).toBe(404);
      expect((await call(getEvents, "gte-pro-search", "events", null)).status).toBe(401);
    });
  });
});
