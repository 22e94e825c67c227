// Shared setup for the history integration tests: a scratch database with every migration applied,
// a drizzle handle on it, and a controller lease to fence writes with.
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { createDb, type Db } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { createScratchDatabase } from "@/test/db";
import type { Fence, HeartbeatRow } from "./ingest";

export type Scratch = {
  url: string;
  db: Db;
  sql: ReturnType<typeof createDb>["sql"];
  close: () => Promise<void>;
};

export async function openScratch(baseUrl: string): Promise<Scratch> {
  const scratch = await createScratchDatabase(baseUrl);
  await runMigrations(scratch.url);
  const handle = createDb(scratch.url, { max: 4, applicationName: "history-test" });
  return {
    url: scratch.url,
    db: handle.db,
    sql: handle.sql,
    close: async () => {
      await handle.sql.end({ timeout: 5 });
      await scratch.drop();
    },
  };
}

export async function grantLease(db: Db, name: string, epoch: number): Promise<Fence> {
  await db.execute(sql`
    insert into controller_lease (name, holder_id, epoch, expires_at)
    values (${name}, 'test', ${epoch}, now() + interval '1 hour')
    on conflict (name) do update set epoch = excluded.epoch`);
  return { leaseName: name, epoch };
}

export function at(iso: string): Date {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new Error(`bad test time ${iso}`);
  return d;
}

export function heartbeat(nodeId: string, time: Date, over: Partial<HeartbeatRow> = {}): HeartbeatRow {
  return {
    time,
    nodeId,
    tcpOk: true,
    tcpMs: 0.4,
    httpOk: true,
    httpStatus: 200,
    httpMs: 12,
    reportedRole: "master",
    error: null,
    ...over,
  };
}

export const newNodeId = () => randomUUID();

/** Interpolated percentile (what Postgres' percentile_cont computes), for expected values. */
export function percentileCont(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = s[lo] ?? Number.NaN;
  const b = s[hi] ?? Number.NaN;
  return a + (b - a) * (pos - lo);
}

/** For `rejects.toSatisfy`: drizzle wraps driver errors ("Failed query: …"), the reason is the cause. */
export function causedBy(re: RegExp) {
  return (err: unknown): boolean => {
    const e = err as { message?: string; cause?: { message?: string } };
    return re.test(e?.cause?.message ?? "") || re.test(e?.message ?? "");
  };
}
