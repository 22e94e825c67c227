// Live events: the controller writes an `events` row and NOTIFYs in the same transaction, so a
// listener never hears of something that was rolled back. Web processes LISTEN and push to
// browsers over SSE; the payload is small (ids and kind) and clients re-read what they need.
import { sql } from "drizzle-orm";
import type postgres from "postgres";
import type { DbOrTx } from "@/db/client";
import { events } from "@/db/schema";

export const EVENTS_CHANNEL = "switchyard_events";
/** Inventory or policy changed: controllers reload. */
export const INVENTORY_CHANNEL = "switchyard_inventory";

export type LiveEvent = {
  id: number;
  kind: string;
  severity: "info" | "warning" | "critical";
  clusterId: string | null;
  nodeId: string | null;
  switchoverId: string | null;
  message: string;
  at: string;
};

export type NewEvent = {
  kind: string;
  severity?: "info" | "warning" | "critical";
  clusterId?: string | null;
  nodeId?: string | null;
  switchoverId?: string | null;
  message: string;
  data?: unknown;
  at?: Date;
};

/** Inserts an event and notifies listeners on commit. Call inside the transaction that made the change. */
export async function recordEvent(tx: DbOrTx, event: NewEvent): Promise<LiveEvent> {
  const [row] = await tx
    .insert(events)
    .values({
      kind: event.kind,
      severity: event.severity ?? "info",
      clusterId: event.clusterId ?? null,
      nodeId: event.nodeId ?? null,
      switchoverId: event.switchoverId ?? null,
      message: event.message,
      data: event.data ?? null,
      at: event.at ?? new Date(),
    })
    .returning();
  if (!row) throw new Error("event insert returned no row");
  const live: LiveEvent = {
    id: row.id,
    kind: row.kind,
    severity: row.severity,
    clusterId: row.clusterId,
    nodeId: row.nodeId,
    switchoverId: row.switchoverId,
    message: row.message.slice(0, 500),
    at: row.at.toISOString(),
  };
  // NOTIFY payloads are limited to 8000 bytes; the message is cut above, ids are fixed size.
  await tx.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${JSON.stringify(live)})`);
  return live;
}

export async function notifyInventoryChanged(tx: DbOrTx, clusterId: string | null): Promise<void> {
  await tx.execute(sql`select pg_notify(${INVENTORY_CHANNEL}, ${JSON.stringify({ clusterId })})`);
}

/** Subscribes on a dedicated connection; postgres-js re-LISTENs after reconnecting. */
export async function listen(
  client: postgres.Sql,
  channel: string,
  onMessage: (payload: string) => void,
): Promise<{ unlisten: () => Promise<void> }> {
  const sub = await client.listen(channel, onMessage);
  return { unlisten: () => sub.unlisten() };
}
