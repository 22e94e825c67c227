import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MIGRATIONS_DIR, runMigrations } from "@/db/migrate";
import { createScratchDatabase } from "@/test/db";
import { insertHeartbeats } from "./ingest";
import {
  dropExpiredPartitions,
  ensurePartitions,
  listPartitions,
  PartitionError,
  type PartitionedTable,
  parsePartitionName,
  partitionName,
} from "./partitions";
import { databaseBytesPerHour } from "./storage";
import { at, causedBy, grantLease, heartbeat, newNodeId, openScratch, type Scratch } from "./test-helpers";

describe("partition names", () => {
  it("are the UTC hour, and parse back", () => {
    expect(partitionName("heartbeats", at("2026-03-10T10:59:59.999Z"))).toBe("heartbeats_p2026031010");
    // A non-UTC offset still names the UTC hour.
    expect(partitionName("gpu_samples", at("2026-03-10T05:30:00+05:30"))).toBe("gpu_samples_p2026031000");
    expect(parsePartitionName("gpu_samples_p2026031000")).toEqual({
      table: "gpu_samples",
      name: "gpu_samples_p2026031000",
      from: at("2026-03-10T00:00:00Z"),
      to: at("2026-03-10T01:00:00Z"),
    });
  });

  it("refuse anything but the two tables and real hours", () => {
    expect(() => partitionName('heartbeats"; drop table nodes; --' as PartitionedTable, new Date())).toThrow(
      PartitionError,
    );
    expect(() => partitionName("nodes" as PartitionedTable, new Date())).toThrow(PartitionError);
    expect(() => partitionName("heartbeats", new Date("nope"))).toThrow(/not a valid date/);
    expect(() => partitionName("heartbeats", at("1969-12-31T00:00:00Z"))).toThrow(/out of range/);
    expect(parsePartitionName("heartbeats_p2026023125")).toBeNull();
    expect(parsePartitionName("heartbeats_p2026022900")).toBeNull(); // 2026 is not a leap year
    expect(parsePartitionName("heartbeats_default")).toBeNull();
    expect(parsePartitionName("x_heartbeats_p2026031000")).toBeNull();
  });
});

describe("telemetry partitions (Postgres)", () => {
  let s: Scratch;
  beforeAll(async () => {
    s = await openScratch(inject("databaseUrl"));
  });
  afterAll(async () => {
    await s?.close();
  });

  it("the migrated parents are range-partitioned on time, with indexes and checks, and no default", async () => {
    const parts = await s.db.execute<{
      table: string;
      strategy: string;
      key: string;
      has_default: boolean;
    }>(sql`
      select c.relname as table, p.partstrat as strategy,
        pg_get_partkeydef(c.oid) as key, p.partdefid <> 0 as has_default
      from pg_partitioned_table p join pg_class c on c.oid = p.partrelid order by 1`);
    expect(parts.map((r) => ({ ...r }))).toEqual([
      { table: "gpu_samples", strategy: "r", key: 'RANGE ("time")', has_default: false },
      { table: "heartbeats", strategy: "r", key: 'RANGE ("time")', has_default: false },
    ]);
    const idx = await s.db.execute<{ indexname: string; indexdef: string }>(sql`
      select indexname, indexdef from pg_indexes where tablename in ('heartbeats', 'gpu_samples') order by 1`);
    expect(idx.map((r) => r.indexname)).toEqual([
      "gpu_samples_node_time_idx",
      "gpu_samples_time_brin",
      "heartbeats_node_time_idx",
      "heartbeats_time_brin",
    ]);
    expect(idx.find((r) => r.indexname === "heartbeats_time_brin")?.indexdef).toContain("USING brin");
    const checks = await s.db.execute<{ conname: string }>(sql`
      select conname from pg_constraint
      where conrelid in ('heartbeats'::regclass, 'gpu_samples'::regclass) and contype = 'c' order by 1`);
    expect(checks.map((r) => r.conname)).toEqual(["gpu_samples_finite_ck", "heartbeats_finite_ck"]);
  });

  it("a row for an hour without a partition fails loudly", async () => {
    await expect(
      s.db.execute(sql`insert into heartbeats (time, node_id, tcp_ok, http_ok)
        values ('2031-01-01T00:00:00Z', ${newNodeId()}, true, true)`),
    ).rejects.toSatisfy(causedBy(/no partition of relation "heartbeats" found/));
  });

  it("ensurePartitions creates the current hour and three ahead, once, with the parent's indexes", async () => {
    const now = at("2026-03-10T10:20:00Z");
    const created = await ensurePartitions(s.db, now);
    expect(created.sort()).toEqual(
      ["10", "11", "12", "13"]
        .flatMap((h) => [`gpu_samples_p20260310${h}`, `heartbeats_p20260310${h}`])
        .sort(),
    );
    expect(await ensurePartitions(s.db, now)).toEqual([]);
    // The hour of a row that arrives late (controller clock) is created on demand, once.
    expect(
      await ensurePartitions(s.db, now, [at("2026-03-09T23:59:59Z"), at("2026-03-09T23:00:00Z")]),
    ).toEqual(["gpu_samples_p2026030923", "heartbeats_p2026030923"]);

    const [bounds] = await s.db.execute<{ ok: boolean }>(sql`
      select pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES FROM (%L) TO (%L)',
        '2026-03-10T10:00:00Z'::timestamptz, '2026-03-10T11:00:00Z'::timestamptz) as ok
      from pg_class c where c.relname = 'heartbeats_p2026031010'`);
    expect(bounds?.ok).toBe(true);

    const partIdx = await s.db.execute<{ indexdef: string }>(
      sql`select indexdef from pg_indexes where tablename = 'heartbeats_p2026031010' order by 1`,
    );
    expect(partIdx.map((r) => r.indexdef.replace(/^.* USING /, "")).sort()).toEqual([
      'brin ("time")',
      'btree (node_id, "time" DESC NULLS LAST)',
    ]);

    // Rows land in their hour: the upper bound is exclusive.
    const node = newNodeId();
    for (const t of ["2026-03-10T10:59:59.999Z", "2026-03-10T11:00:00.000Z"]) {
      await s.db.execute(
        sql`insert into heartbeats (time, node_id, tcp_ok, http_ok) values (${t}::timestamptz, ${node}, true, true)`,
      );
    }
    const where = await s.db.execute<{ part: string }>(
      sql`select tableoid::regclass::text as part from heartbeats where node_id = ${node} order by time`,
    );
    expect(where.map((r) => r.part)).toEqual(["heartbeats_p2026031010", "heartbeats_p2026031011"]);
  });

  it("two processes ensuring the same hours at once both succeed", async () => {
    const other = postgres(s.url, { max: 2, onnotice: () => {} });
    try {
      const db2 = drizzle(other);
      const now = at("2026-04-01T00:10:00Z");
      const [a, b] = await Promise.all([
        ensurePartitions(s.db, now),
        ensurePartitions(db2 as unknown as typeof s.db, now),
      ]);
      expect([...a, ...b].sort()).toHaveLength(8);
      expect(new Set([...a, ...b]).size).toBe(8);
    } finally {
      await other.end();
    }
  });

  it("inside a caller's transaction, partition DDL is a savepoint and leaves the caller's settings alone", async () => {
    const setting = await s.db.transaction(async (tx) => {
      await tx.execute(sql`set local lock_timeout = '7s'`);
      expect(await ensurePartitions(tx, at("2026-05-05T05:05:00Z"))).toHaveLength(8);
      const [row] = await tx.execute<{ v: string }>(sql`select current_setting('lock_timeout') as v`);
      return row?.v;
    });
    expect(setting).toBe("7s");
    expect((await listPartitions(s.db)).map((p) => p.name)).toContain("heartbeats_p2026050505");
  });

  it("dropExpiredPartitions drops whole hours whose end is past retention, and nothing else", async () => {
    const now = at("2026-03-10T10:20:00Z"); // cutoff for 48 h: 2026-03-08T10:20Z
    await ensurePartitions(s.db, now, [
      at("2026-03-08T08:00:00Z"),
      at("2026-03-08T09:00:00Z"), // ends 10:00 ≤ cutoff → dropped
      at("2026-03-08T10:00:00Z"), // ends 11:00 > cutoff → kept (holds rows still inside retention)
    ]);
    const fence = await grantLease(s.db, "controller", 1);
    const node = newNodeId();
    await insertHeartbeats(
      s.db,
      [heartbeat(node, at("2026-03-08T09:30:00Z")), heartbeat(node, at("2026-03-08T10:30:00Z"))],
      fence,
    );

    expect(await dropExpiredPartitions(s.db, now, { rawRetentionHours: 48 })).toEqual([
      "gpu_samples_p2026030808",
      "heartbeats_p2026030808",
      "gpu_samples_p2026030809",
      "heartbeats_p2026030809",
    ]);
    expect(await dropExpiredPartitions(s.db, now, { rawRetentionHours: 48 })).toEqual([]);
    const left = await s.db.execute<{ time: string }>(
      sql`select to_char(time at time zone 'UTC', 'HH24:MI') as time from heartbeats where node_id = ${node}`,
    );
    expect(left.map((r) => r.time)).toEqual(["10:30"]);
    const names = (await listPartitions(s.db)).map((p) => p.name);
    expect(names).toContain("heartbeats_p2026030810");
    expect(names).not.toContain("heartbeats_p2026030809");
    expect(names).toContain("heartbeats_p2026031013"); // future partitions untouched
    await expect(dropExpiredPartitions(s.db, now, { rawRetentionHours: 0 })).rejects.toThrow(PartitionError);
  });

  it("databaseBytesPerHour sums the partitions of the span", async () => {
    const now = at("2026-03-10T11:00:00Z");
    const rate = await databaseBytesPerHour(s.db, at("2026-03-10T10:00:00Z"), { now });
    expect(rate.hours).toBe(1);
    expect(rate.partitions).toEqual([
      "gpu_samples_p2026031010",
      "gpu_samples_p2026031011",
      "heartbeats_p2026031010",
      "heartbeats_p2026031011",
    ]);
    expect(rate.bytes).toBeGreaterThan(0);
    expect(rate.bytesPerHour).toBe(rate.bytes);
  });
});

describe("the partitioning migration", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let dir: string;
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "switchyard-migrations-"));
  });
  afterAll(async () => {
    await scratch?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("carries rows already in the unpartitioned tables into partitions for their hours", async () => {
    // The migrations as they were before partitioning: everything up to the tag below.
    await fs.cp(MIGRATIONS_DIR, dir, { recursive: true });
    const journalPath = path.join(dir, "meta", "_journal.json");
    const journal = JSON.parse(await fs.readFile(journalPath, "utf8")) as { entries: Array<{ tag: string }> };
    const cut = journal.entries.findIndex((e) => e.tag === "0003_partition_telemetry");
    expect(cut).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, cut);
    await fs.writeFile(journalPath, JSON.stringify(journal));

    const client = postgres(scratch.url, { max: 1, onnotice: () => {} });
    try {
      await migrate(drizzle(client), { migrationsFolder: dir });
      const node = newNodeId();
      await client`insert into heartbeats (time, node_id, tcp_ok, http_ok, http_ms)
        values ('2026-02-01T10:15:00Z', ${node}, true, true, 5), ('2026-02-01T11:45:00Z', ${node}, true, false, null)`;
      await client`insert into gpu_samples (time, node_id, gpu_index, utilization_pct)
        values ('2026-02-01T10:15:00Z', ${node}, 0, 42)`;

      await runMigrations(scratch.url);

      const hb = await client`select tableoid::regclass::text as part, http_ms from heartbeats order by time`;
      expect(hb.map((r) => [r.part, r.http_ms])).toEqual([
        ["heartbeats_p2026020110", 5],
        ["heartbeats_p2026020111", null],
      ]);
      const gpu = await client`select tableoid::regclass::text as part, utilization_pct from gpu_samples`;
      expect(gpu.map((r) => [r.part, r.utilization_pct])).toEqual([["gpu_samples_p2026020110", 42]]);
      const [pt] = await client`select count(*)::int as n from pg_partitioned_table`;
      expect(pt?.n).toBe(2);
    } finally {
      await client.end();
    }
  });
});
