/**
 * The live-event hub of a web process: ONE `LISTEN` on `EVENTS_CHANNEL` (a dedicated postgres-js
 * connection, taken lazily when the first browser subscribes), fanned out to any number of
 * subscribers — one per open SSE stream.
 *
 * Queue model. Each subscriber owns a bounded FIFO. The hub pushes into it synchronously when a
 * NOTIFY arrives and never waits for anyone; the subscriber pulls at the pace its HTTP client reads.
 * A subscriber whose queue is full is *dropped* (closed with reason "overflow") rather than allowed
 * to grow memory: its browser's EventSource reconnects with `Last-Event-ID` and the route replays
 * what it missed from the `events` table, so a slow client costs a reconnect, not the process.
 *
 * Reconnects. postgres-js re-issues LISTEN on a new connection when the listener's connection
 * drops; subscribers stay attached across that. If the very first LISTEN fails (database down),
 * the subscribe call rejects and the next one tries again.
 *
 * Payloads are validated: a NOTIFY that does not parse as a live event is logged and ignored.
 * `id` is the `events` row id, or null for transient notifications that have no row (switchover
 * step progress, see server/switchover/engine.ts) — those are never replayed.
 */
import { desc, gt } from "drizzle-orm";
import type postgres from "postgres";
import { z } from "zod";
import { type DbOrTx, getDbHandle } from "@/db/client";
import { events } from "@/db/schema";
import { EVENTS_CHANNEL, type LiveEvent, listen } from "./events";

/** Events held per subscriber before it is considered too slow and dropped. */
export const DEFAULT_MAX_QUEUE = 256;
/** Events replayed at most on a reconnect with Last-Event-ID. */
export const REPLAY_LIMIT = 200;

const liveEventSchema = z.object({
  id: z.number().int().nonnegative().nullable(),
  kind: z.string().min(1).max(100),
  severity: z.enum(["info", "warning", "critical"]),
  clusterId: z.string().max(64).nullable(),
  nodeId: z.string().max(64).nullable(),
  switchoverId: z.string().max(64).nullable(),
  message: z.string().max(2000),
  at: z.string().max(64),
  /** Only on `switchover.step` notifications. */
  step: z
    .object({
      seq: z.number().int(),
      phase: z.string().max(64),
      name: z.string().max(200),
      state: z.string().max(32),
    })
    .optional(),
});

/** What subscribers receive: a LiveEvent, or a transient notification without an events row. */
export type HubEvent = Omit<LiveEvent, "id"> & {
  id: number | null;
  step?: { seq: number; phase: string; name: string; state: string };
};

export function parseHubEvent(payload: string): HubEvent | null {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return null;
  }
  const parsed = liveEventSchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}

export type CloseReason = "unsubscribed" | "overflow" | "hub_stopped";

/** One consumer's view of the stream: pull events with `next()`, stop with `unsubscribe()`. */
export class Subscription {
  private readonly queue: HubEvent[] = [];
  private waiter: ((value: HubEvent | "timeout" | null) => void) | null = null;
  private reason: CloseReason | null = null;

  constructor(
    private readonly maxQueue: number,
    private readonly detach: (sub: Subscription) => void,
  ) {}

  /** Why this subscription ended, or null while it is open. */
  get closedReason(): CloseReason | null {
    return this.reason;
  }

  /** Events waiting to be pulled. */
  get pending(): number {
    return this.queue.length;
  }

  /** Called by the hub; never blocks. Returns false if the subscriber was dropped. */
  push(event: HubEvent): boolean {
    if (this.reason) return false;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(event);
      return true;
    }
    if (this.queue.length >= this.maxQueue) {
      this.close("overflow");
      return false;
    }
    this.queue.push(event);
    return true;
  }

  /**
   * The next event; "timeout" when none came within `timeoutMs` (the caller sends a keepalive);
   * null once closed. Queued events are still handed out after an unsubscribe from the hub side
   * ("overflow" drops them: the client reconnects and replays instead).
   */
  next(timeoutMs?: number): Promise<HubEvent | "timeout" | null> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.reason) return Promise.resolve(null);
    if (this.waiter) throw new Error("Subscription.next() is already waiting");
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      this.waiter = (value) => {
        if (timer) clearTimeout(timer);
        resolve(value);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiter = null;
          resolve("timeout");
        }, timeoutMs);
        // An idle stream must not keep a process (or a test worker) alive on its own.
        timer.unref?.();
      }
    });
  }

  unsubscribe(): void {
    this.close("unsubscribed");
  }

  close(reason: CloseReason): void {
    if (this.reason) return;
    this.reason = reason;
    if (reason !== "unsubscribed") this.queue.length = 0;
    this.detach(this);
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<HubEvent> {
    for (;;) {
      const e = await this.next();
      if (e === null) return;
      if (e !== "timeout") yield e;
    }
  }
}

export type HubOptions = {
  maxQueue?: number;
  log?: (line: string) => void;
};

export class EventHub {
  private readonly subscribers = new Set<Subscription>();
  private starting: Promise<void> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private stopped = false;
  private readonly maxQueue: number;
  private readonly log: (line: string) => void;
  /** Subscribers dropped for being too slow, since start (for logs and tests). */
  dropped = 0;

  constructor(
    readonly sql: postgres.Sql,
    opts: HubOptions = {},
  ) {
    this.maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.log = opts.log ?? ((line) => console.warn(`[events] ${line}`));
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Takes the LISTEN connection once; concurrent callers share the attempt, a failed one is retried. */
  start(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error("the event hub is stopped"));
    this.starting ??= listen(this.sql, EVENTS_CHANNEL, (payload) => this.deliver(payload)).then(
      ({ unlisten }) => {
        this.unlisten = unlisten;
      },
      (err: unknown) => {
        this.starting = null;
        throw err;
      },
    );
    return this.starting;
  }

  /** A new subscriber; the listener is started first, so nothing committed after this returns is missed. */
  async subscribe(): Promise<Subscription> {
    await this.start();
    const sub = new Subscription(this.maxQueue, (s) => this.subscribers.delete(s));
    this.subscribers.add(sub);
    return sub;
  }

  /** Fans one NOTIFY payload out to every subscriber. Exposed for tests. */
  deliver(payload: string): void {
    const event = parseHubEvent(payload);
    if (!event) {
      this.log(`ignored a malformed notification on ${EVENTS_CHANNEL}: ${payload.slice(0, 120)}`);
      return;
    }
    for (const sub of [...this.subscribers]) {
      if (!sub.push(event)) {
        this.dropped++;
        this.log(`dropped a subscriber that fell ${this.maxQueue} events behind`);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const sub of [...this.subscribers]) sub.close("hub_stopped");
    const unlisten = this.unlisten;
    this.unlisten = null;
    this.starting = null;
    if (unlisten) await unlisten().catch(() => {});
  }
}

const globalForHub = globalThis as unknown as { switchyardEventHub?: EventHub };

/**
 * The process-wide hub on the process-wide database client (cached on globalThis so hot reloads
 * in development keep one listener). Rebuilt only if the client itself was replaced (tests).
 */
export function getEventHub(): EventHub {
  const { sql } = getDbHandle();
  const current = globalForHub.switchyardEventHub;
  if (current && current.sql === sql) return current;
  if (current) void current.stop();
  const hub = new EventHub(sql);
  globalForHub.switchyardEventHub = hub;
  return hub;
}

/**
 * Events after `afterId`, oldest first, for a client reconnecting with Last-Event-ID. At most
 * `limit`: when more were missed, the newest `limit` are returned and `truncated` is set, so the
 * client knows to refetch everything rather than trust the replay.
 *
 * Visibility: every role with `fleet.read` sees every cluster (server/auth/roles.ts has no
 * per-cluster scoping), the same rule the live stream applies.
 */
export async function replayEvents(
  db: DbOrTx,
  afterId: number,
  limit = REPLAY_LIMIT,
): Promise<{ events: HubEvent[]; truncated: boolean }> {
  const rows = await db
    .select({
      id: events.id,
      kind: events.kind,
      severity: events.severity,
      clusterId: events.clusterId,
      nodeId: events.nodeId,
      switchoverId: events.switchoverId,
      message: events.message,
      at: events.at,
    })
    .from(events)
    .where(gt(events.id, afterId))
    .orderBy(desc(events.id))
    .limit(limit + 1);
  const truncated = rows.length > limit;
  return {
    truncated,
    events: rows
      .slice(0, limit)
      .reverse()
      .map((r) => ({ ...r, message: r.message.slice(0, 500), at: r.at.toISOString() })),
  };
}
