import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { createScratchDatabase } from "@/test/db";
import { acquireOrRenewLease, assertLeaseEpoch, leaseFence, releaseLease, StaleEpochError } from "./lease";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("controller lease", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 2 });
    await h.db.execute(sql`create table fenced_writes (v int)`);
  });
  afterAll(async () => {
    await h?.sql.end();
    await scratch?.drop();
  });

  it("elects one leader, keeps its epoch on renew, and bumps the epoch on takeover", async () => {
    const a1 = await acquireOrRenewLease(h.db, { holderId: "a", ttlMs: 400 });
    expect(a1).toMatchObject({ leader: true, epoch: 1 });
    const b1 = await acquireOrRenewLease(h.db, { holderId: "b", ttlMs: 400 });
    expect(b1).toMatchObject({ leader: false, holderId: "a", epoch: 1 });
    const a2 = await acquireOrRenewLease(h.db, { holderId: "a", ttlMs: 400 });
    expect(a2).toMatchObject({ leader: true, epoch: 1 });

    await sleep(500); // a stops renewing: the lease expires
    const b2 = await acquireOrRenewLease(h.db, { holderId: "b", ttlMs: 400 });
    expect(b2).toMatchObject({ leader: true, epoch: 2 });
    const a3 = await acquireOrRenewLease(h.db, { holderId: "a", ttlMs: 400 });
    expect(a3).toMatchObject({ leader: false, holderId: "b", epoch: 2 });
  });

  it("refuses writes fenced with an old epoch, in one statement or in a transaction", async () => {
    const stale = 1;
    const current = 2;
    await h.db.execute(sql`insert into fenced_writes (v) select 1 where ${leaseFence(stale)}`);
    await h.db.execute(sql`insert into fenced_writes (v) select 2 where ${leaseFence(current)}`);
    const rows = await h.db.execute<{ v: number }>(sql`select v from fenced_writes order by v`);
    expect(rows.map((r) => r.v)).toEqual([2]);
    await expect(h.db.transaction((tx) => assertLeaseEpoch(tx, stale))).rejects.toBeInstanceOf(
      StaleEpochError,
    );
    await expect(h.db.transaction((tx) => assertLeaseEpoch(tx, current))).resolves.toBeUndefined();
  });

  it("hands over at once when the leader releases the lease", async () => {
    await releaseLease(h.db, { holderId: "b", epoch: 2 });
    expect(await acquireOrRenewLease(h.db, { holderId: "c", ttlMs: 5000 })).toMatchObject({
      leader: true,
      epoch: 3,
    });
  });
});
