// Controller leadership through a lease row with a fencing epoch.
//
// Why not advisory locks: a session lock silently moves or vanishes behind a connection pooler and
// carries no token, so a paused ex-leader cannot be told apart from the current one. Here the
// leader renews `expires_at` well before it passes; anyone may take an expired lease, and taking it
// bumps `epoch`. Every side effect a leader causes is written with its epoch and guarded by
// "the lease still has my epoch" in the same statement (see `leaseFence`), so a stale leader's
// writes are refused by the database, not by its own good behaviour. Expiry is judged by the
// database clock only, so controller clocks may disagree.
import { type SQL, sql } from "drizzle-orm";
import type { DbOrTx } from "@/db/client";

export const CONTROLLER_LEASE = "controller";

export type LeaseState =
  | { leader: true; epoch: number; expiresAt: Date }
  | { leader: false; holderId: string | null; epoch: number | null; expiresAt: Date | null };

/**
 * One attempt to take or renew the lease. Renewing a lease we still hold keeps its epoch; taking
 * an expired one (ours or anyone's) bumps it.
 */
export async function acquireOrRenewLease(
  db: DbOrTx,
  opts: { name?: string; holderId: string; ttlMs: number },
): Promise<LeaseState> {
  const name = opts.name ?? CONTROLLER_LEASE;
  const ttl = `${Math.max(1, Math.round(opts.ttlMs))} milliseconds`;
  const rows = await db.execute<{ epoch: string; expires_at: Date | string }>(sql`
    insert into controller_lease as l (name, holder_id, epoch, acquired_at, renewed_at, expires_at)
    values (${name}, ${opts.holderId}, 1, now(), now(), now() + ${ttl}::interval)
    on conflict (name) do update set
      epoch = case when l.holder_id = excluded.holder_id and l.expires_at > now() then l.epoch else l.epoch + 1 end,
      acquired_at = case when l.holder_id = excluded.holder_id and l.expires_at > now() then l.acquired_at else now() end,
      holder_id = excluded.holder_id,
      renewed_at = now(),
      expires_at = excluded.expires_at
    where l.holder_id = excluded.holder_id or l.expires_at <= now()
    returning epoch, expires_at`);
  const won = rows[0];
  if (won) return { leader: true, epoch: Number(won.epoch), expiresAt: new Date(won.expires_at) };
  const current = await db.execute<{ holder_id: string; epoch: string; expires_at: Date | string }>(
    sql`select holder_id, epoch, expires_at from controller_lease where name = ${name}`,
  );
  const row = current[0];
  return {
    leader: false,
    holderId: row?.holder_id ?? null,
    epoch: row ? Number(row.epoch) : null,
    expiresAt: row ? new Date(row.expires_at) : null,
  };
}

/** Gives the lease up at once (clean shutdown), so a follower need not wait for the TTL. */
export async function releaseLease(
  db: DbOrTx,
  opts: { name?: string; holderId: string; epoch: number },
): Promise<void> {
  await db.execute(sql`
    update controller_lease set expires_at = now()
    where name = ${opts.name ?? CONTROLLER_LEASE} and holder_id = ${opts.holderId} and epoch = ${opts.epoch}`);
}

/** A SQL condition that is true only while `epoch` is the newest lease epoch: put it in the WHERE
 * of every write a leader makes. */
export function leaseFence(epoch: number, name = CONTROLLER_LEASE): SQL {
  // FOR SHARE: a takeover that commits while this write runs must wait for it, not slip past.
  return sql`exists (select 1 from controller_lease where name = ${name} and epoch = ${epoch} for share)`;
}

export class StaleEpochError extends Error {
  readonly code = "stale_epoch" as const;
  constructor(readonly epoch: number) {
    super(`controller epoch ${epoch} is no longer the leader's; the write was refused`);
  }
}

/** For transactions that make several writes: checks the fence once, locking the lease row so it
 * cannot change hands before commit. */
export async function assertLeaseEpoch(tx: DbOrTx, epoch: number, name = CONTROLLER_LEASE): Promise<void> {
  const rows = await tx.execute<{ epoch: string }>(
    sql`select epoch from controller_lease where name = ${name} for share`,
  );
  if (Number(rows[0]?.epoch) !== epoch) throw new StaleEpochError(epoch);
}
