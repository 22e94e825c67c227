import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Db } from "@/db/client";
import * as schema from "@/db/schema";
import { type GpuSampleRow, InvalidTelemetryRowError, insertGpuSamples, insertHeartbeats } from "./ingest";
import { ensurePartitions } from "./partitions";
import { at, causedBy, grantLease, heartbeat, newNodeId, openScratch, type Scratch } from "./test-helpers";

function gpuSample(nodeId: string, time: Date, over: Partial<GpuSampleRow> = {}): GpuSampleRow {
  return {
    time,
    nodeId,
    gpuIndex: 0,
    utilizationPct: 55,
    memoryUsedMib: 40_000,
    memoryTotalMib: 81_559,
    temperatureC: 61,
    powerW: 300.5,
    error: null,
    ...over,
  };
}

describe("telemetry ingest (Postgres)", () => {
  let s: Scratch;
  let traced: { client: postgres.Sql; db: Db; log: Array<{ query: string; params: unknown[] }> };
  const base = at("2026-05-01T12:00:00Z");

  beforeAll(async () => {
    s = await openScratch(inject("databaseUrl"));
    const log: Array<{ query: string; params: unknown[] }> = [];
    const client = postgres(s.url, {
      max: 1,
      onnotice: () => {},
      debug: (_conn, query, params) => log.push({ query, params }),
    });
    traced = { client, db: drizzle(client, { schema }), log };
    await grantLease(s.db, "controller", 7);
  });
  afterAll(async () => {
    await traced?.client.end();
    await s?.close();
  });

  it("writes 5,000 heartbeats with one INSERT statement in well under a second", async () => {
    const node = newNodeId();
    const rows = Array.from({ length: 5000 }, (_, i) =>
      heartbeat(node, new Date(base.getTime() + i * 100), { httpMs: i % 50, tcpOk: i % 7 !== 0 }),
    );
    await ensurePartitions(traced.db, base); // steady state: partitions made ahead by maintenance
    traced.log.length = 0;
    const started = performance.now();
    const res = await insertHeartbeats(traced.db, rows, { leaseName: "controller", epoch: 7 });
    const elapsed = performance.now() - started;

    expect(res).toEqual({ inserted: 5000, fenced: false });
    expect(elapsed).toBeLessThan(1000);
    const inserts = traced.log.filter((q) => /^\s*insert\b/i.test(q.query));
    expect(inserts).toHaveLength(1);
    // Nine column arrays plus the fence's lease name and epoch, whatever the batch size.
    expect(inserts[0]?.params).toHaveLength(11);
    expect(inserts[0]?.query.split(";").filter((x) => x.trim()).length).toBe(1);
    // The only other statement is the catalog check for the rows' hour partitions.
    expect(traced.log.filter((q) => !/^\s*insert\b/i.test(q.query)).map((q) => q.query)).toEqual([
      expect.stringMatching(/from pg_inherits/),
    ]);
    const [n] = await s.db.execute<{ n: number; tcp_down: number }>(sql`
      select count(*)::int as n, (count(*) filter (where not tcp_ok))::int as tcp_down
      from heartbeats where node_id = ${node}`);
    expect(n).toEqual({ n: 5000, tcp_down: rows.filter((r) => !r.tcpOk).length });
  });

  it("writes 5,000 GPU samples with one INSERT statement", async () => {
    const node = newNodeId();
    const rows = Array.from({ length: 5000 }, (_, i) =>
      gpuSample(node, new Date(base.getTime() + Math.floor(i / 8) * 500), {
        gpuIndex: i % 8,
        utilizationPct: i % 101,
      }),
    );
    traced.log.length = 0;
    const started = performance.now();
    const res = await insertGpuSamples(traced.db, rows, { leaseName: "controller", epoch: 7 });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res).toEqual({ inserted: 5000, fenced: false });
    expect(traced.log.filter((q) => /^\s*insert\b/i.test(q.query))).toHaveLength(1);
    const [n] = await s.db.execute<{ n: number; gpus: number }>(
      sql`select count(*)::int as n, count(distinct gpu_index)::int as gpus from gpu_samples where node_id = ${node}`,
    );
    expect(n).toEqual({ n: 5000, gpus: 8 });
  });

  it("a stale epoch or another lease writes nothing and says fenced", async () => {
    const node = newNodeId();
    const rows = [heartbeat(node, base), heartbeat(node, new Date(base.getTime() + 1000))];
    expect(await insertHeartbeats(s.db, rows, { leaseName: "controller", epoch: 6 })).toEqual({
      inserted: 0,
      fenced: true,
    });
    expect(await insertHeartbeats(s.db, rows, { leaseName: "someone-else", epoch: 7 })).toEqual({
      inserted: 0,
      fenced: true,
    });
    expect(
      await insertGpuSamples(s.db, [gpuSample(node, base)], { leaseName: "controller", epoch: 8 }),
    ).toEqual({ inserted: 0, fenced: true });
    const [n] = await s.db.execute<{ hb: number; gpu: number }>(sql`
      select (select count(*) from heartbeats where node_id = ${node})::int as hb,
             (select count(*) from gpu_samples where node_id = ${node})::int as gpu`);
    expect(n).toEqual({ hb: 0, gpu: 0 });
    // An empty batch touches nothing and is not "fenced".
    expect(await insertHeartbeats(s.db, [], { leaseName: "controller", epoch: 6 })).toEqual({
      inserted: 0,
      fenced: false,
    });
  });

  it("a takeover that commits while the insert waits on the lease fences it", async () => {
    await grantLease(s.db, "race", 1);
    const node = newNodeId();
    const other = await s.sql.reserve();
    try {
      await other`begin`;
      await other`update controller_lease set epoch = 2 where name = 'race'`;
      let settled = false;
      const pending = insertHeartbeats(s.db, [heartbeat(node, base)], {
        leaseName: "race",
        epoch: 1,
      }).finally(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false); // waiting on the lease row, not racing past it
      await other`commit`;
      expect(await pending).toEqual({ inserted: 0, fenced: true });
    } finally {
      other.release();
    }
    const [n] = await s.db.execute<{ n: number }>(
      sql`select count(*)::int as n from heartbeats where node_id = ${node}`,
    );
    expect(n?.n).toBe(0);
  });

  it("never stores NaN or ±Infinity: they become NULL, and the tables reject them anyway", async () => {
    const node = newNodeId();
    const fence = { leaseName: "controller", epoch: 7 };
    await insertHeartbeats(
      s.db,
      [
        heartbeat(node, base, {
          tcpMs: Number.NaN,
          httpMs: Number.POSITIVE_INFINITY,
          httpStatus: Number.NaN,
        }),
        heartbeat(node, new Date(base.getTime() + 1), {
          httpMs: Number.NEGATIVE_INFINITY,
          httpStatus: 200.5,
        }),
      ],
      fence,
    );
    await insertGpuSamples(
      s.db,
      [
        gpuSample(node, base, {
          utilizationPct: Number.NaN,
          memoryUsedMib: Number.POSITIVE_INFINITY,
          memoryTotalMib: Number.NaN,
          temperatureC: Number.NEGATIVE_INFINITY,
          powerW: Number.NaN,
        }),
      ],
      fence,
    );
    const hb = await s.db.execute<{
      tcp_ms: number | null;
      http_ms: number | null;
      http_status: number | null;
    }>(sql`select tcp_ms, http_ms, http_status from heartbeats where node_id = ${node} order by time`);
    expect(hb.map((r) => ({ ...r }))).toEqual([
      { tcp_ms: null, http_ms: null, http_status: null },
      { tcp_ms: 0.4, http_ms: null, http_status: null },
    ]);
    const gpu = await s.db.execute(sql`
      select utilization_pct, memory_used_mib, memory_total_mib, temperature_c, power_w
      from gpu_samples where node_id = ${node}`);
    expect(Object.values(gpu[0] ?? { missing: true })).toEqual([null, null, null, null, null]);

    for (const bad of ["NaN", "Infinity", "-Infinity"]) {
      await expect(
        s.db.execute(sql`insert into heartbeats (time, node_id, tcp_ok, http_ok, http_ms)
          values (${base.toISOString()}::timestamptz, ${node}, true, true, ${bad}::float8)`),
      ).rejects.toSatisfy(causedBy(/heartbeats_finite_ck/));
      await expect(
        s.db.execute(sql`insert into gpu_samples (time, node_id, gpu_index, memory_total_mib)
          values (${base.toISOString()}::timestamptz, ${node}, 0, ${bad}::float8)`),
      ).rejects.toSatisfy(causedBy(/gpu_samples_finite_ck/));
    }
  });

  it("cleans text (NUL, length) and refuses rows it cannot store, before writing anything", async () => {
    const node = newNodeId();
    const fence = { leaseName: "controller", epoch: 7 };
    await insertHeartbeats(
      s.db,
      [
        heartbeat(node, base, {
          httpOk: false,
          error: `connect\u0000 refused ${"x".repeat(5000)}`,
          reportedRole: "mas\u0000ter",
        }),
      ],
      fence,
    );
    const [row] = await s.db.execute<{ error: string; reported_role: string }>(
      sql`select error, reported_role from heartbeats where node_id = ${node}`,
    );
    expect(row?.error.startsWith("connect refused x")).toBe(true);
    expect(row?.error.length).toBe(1024);
    expect(row?.reported_role).toBe("master");

    const other = newNodeId();
    const good = heartbeat(other, base);
    await expect(
      insertHeartbeats(s.db, [good, heartbeat(other, new Date("garbage"))], fence),
    ).rejects.toThrow(InvalidTelemetryRowError);
    await expect(
      insertHeartbeats(s.db, [good, heartbeat("node-1'; drop table nodes; --", base)], fence),
    ).rejects.toThrow(/row 1: nodeId is not a UUID/);
    await expect(insertGpuSamples(s.db, [gpuSample(other, base, { gpuIndex: -1 })], fence)).rejects.toThrow(
      /gpuIndex/,
    );
    await expect(insertGpuSamples(s.db, [gpuSample(other, base, { gpuIndex: 1.5 })], fence)).rejects.toThrow(
      /gpuIndex/,
    );
    const [n] = await s.db.execute<{ n: number }>(sql`
      select ((select count(*) from heartbeats where node_id = ${other}) +
              (select count(*) from gpu_samples where node_id = ${other}))::int as n`);
    expect(n?.n).toBe(0);
  });

  it("creates the hour partition for rows from an hour nobody prepared", async () => {
    const node = newNodeId();
    const late = at("2025-12-31T23:59:59.500Z");
    const res = await insertHeartbeats(s.db, [heartbeat(node, late), heartbeat(node, base)], {
      leaseName: "controller",
      epoch: 7,
    });
    expect(res.inserted).toBe(2);
    const [row] = await s.db.execute<{ part: string }>(
      sql`select tableoid::regclass::text as part from heartbeats where node_id = ${node} order by time limit 1`,
    );
    expect(row?.part).toBe("heartbeats_p2025123123");
  });
});
