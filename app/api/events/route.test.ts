// GET /api/events called as Next would call it — a Request with an abort signal — against a real
// Postgres: frames as they arrive, replay after Last-Event-ID, keepalives, and clean-up on abort.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { type Actor, runAsActor } from "@/server/auth/guard";
import { EVENTS_CHANNEL, recordEvent } from "@/server/notify/events";
import { getEventHub } from "@/server/notify/hub";
import { createScratchDatabase } from "@/test/db";
import { GET } from "./route";
import { eventStream, parseLastEventId } from "./sse";

const VIEWER: Actor = {
  kind: "session",
  userId: null,
  label: "sse-viewer",
  role: "viewer",
  address: "127.0.0.1",
};
const ctx = { params: Promise.resolve({}) };

type Frame = { id?: string; event?: string; data?: string; comment?: string; retry?: string };

/** Reads SSE frames off a response body, one at a time. */
function frameReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const parse = (block: string): Frame => {
    const f: Frame = {};
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) f.comment = line.slice(1).trim();
      else {
        const i = line.indexOf(": ");
        const [k, v] = i < 0 ? [line, ""] : [line.slice(0, i), line.slice(i + 2)];
        if (k === "id" || k === "event" || k === "data" || k === "retry") f[k] = v;
      }
    }
    return f;
  };
  return {
    /** The next frame, or null at the end of the stream. */
    async next(timeoutMs = 5_000): Promise<Frame | null> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          return parse(block);
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error("no frame in time");
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no frame in time")), left)),
        ]);
        if (chunk.done) return null;
        buffer += decoder.decode(chunk.value, { stream: true });
      }
    },
    /** The next frame that carries an event (skipping comments). */
    async nextEvent(timeoutMs = 5_000): Promise<Frame> {
      for (;;) {
        const f = await this.next(timeoutMs);
        if (!f) throw new Error("stream ended");
        if (f.event) return f;
      }
    },
  };
}

describe("GET /api/events (server-sent events)", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const previous = (globalThis as { switchyardDb?: unknown }).switchyardDb;

  const open = async (headers: Record<string, string> = {}, actor: Actor | null = VIEWER) => {
    const abort = new AbortController();
    const res = await runAsActor(actor, () =>
      GET(new Request("http://127.0.0.1/api/events", { headers, signal: abort.signal }), ctx),
    );
    return { res, abort };
  };

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4, applicationName: "sse-test" });
    (globalThis as { switchyardDb?: unknown }).switchyardDb = h;
  }, 60_000);

  afterAll(async () => {
    await getEventHub().stop();
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previous;
    await h?.sql.end({ timeout: 5 });
    await scratch?.drop();
  });

  it("refuses a caller who is not signed in", async () => {
    const { res } = await open({}, null);
    expect(res.status).toBe(401);
  });

  it("streams live events as id/event/data frames and unsubscribes when the request is aborted", async () => {
    const { res, abort } = await open();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("cache-control")).toContain("no-transform");
    const hub = getEventHub();
    expect(hub.subscriberCount).toBe(1);
    const frames = frameReader(res.body as ReadableStream<Uint8Array>);
    expect(await frames.next()).toMatchObject({ retry: "3000", comment: "connected" });

    const e = await recordEvent(h.db, {
      kind: "node.state",
      severity: "critical",
      message: "gpu-a: healthy → failed (tcp refused)",
    });
    const f = await frames.nextEvent();
    expect(f).toMatchObject({ id: String(e.id), event: "live" });
    expect(JSON.parse(f.data ?? "")).toEqual(e);

    // Step progress has no events row: no id line, so it never moves the browser's Last-Event-ID.
    const step = { ...e, id: null, kind: "switchover.step", message: "step 1 preflight: running" };
    await h.db.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${JSON.stringify(step)})`);
    const s = await frames.nextEvent();
    expect(s.id).toBeUndefined();
    expect(JSON.parse(s.data ?? "")).toMatchObject({ kind: "switchover.step", id: null });

    abort.abort();
    expect(await frames.next()).toBeNull();
    expect(hub.subscriberCount).toBe(0);
  });

  it("unsubscribes when the client goes away while the stream waits for an event (the body is cancelled)", async () => {
    const { res } = await open();
    const hub = getEventHub();
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // the "connected" frame; the next pull now waits in the hub
    await new Promise((r) => setTimeout(r, 20));
    expect(hub.subscriberCount).toBe(1);
    await reader.cancel();
    expect(hub.subscriberCount).toBe(0);
    // An event after the client left goes nowhere and breaks nothing.
    await recordEvent(h.db, { kind: "test.gone", message: "nobody listens" });
    await new Promise((r) => setTimeout(r, 50));
  });

  it("replays what a reconnecting client missed (Last-Event-ID), then continues live without duplicates", async () => {
    const a = await recordEvent(h.db, { kind: "test.replay", message: "a" });
    const b = await recordEvent(h.db, { kind: "test.replay", message: "b" });
    const c = await recordEvent(h.db, { kind: "test.replay", message: "c" });
    const { res, abort } = await open({ "last-event-id": String(a.id) });
    const frames = frameReader(res.body as ReadableStream<Uint8Array>);
    expect((await frames.nextEvent()).id).toBe(String(b.id));
    expect((await frames.nextEvent()).id).toBe(String(c.id));
    const d = await recordEvent(h.db, { kind: "test.replay", message: "d" });
    expect((await frames.nextEvent()).id).toBe(String(d.id));
    abort.abort();
    expect(await frames.next()).toBeNull();
  });

  it("takes the last id from the query string too (a client reconnecting by hand), and ignores garbage", async () => {
    expect(parseLastEventId("42")).toBe(42);
    expect(parseLastEventId(" 7 ")).toBe(7);
    for (const bad of [null, "", "-1", "1e3", "abc", "1; drop table events", "9".repeat(20)]) {
      expect(parseLastEventId(bad)).toBeNull();
    }
    const before = await recordEvent(h.db, { kind: "test.query", message: "before" });
    const after = await recordEvent(h.db, { kind: "test.query", message: "after" });
    const abort = new AbortController();
    const res = await runAsActor(VIEWER, () =>
      GET(new Request(`http://127.0.0.1/api/events?lastEventId=${before.id}`, { signal: abort.signal }), ctx),
    );
    const frames = frameReader(res.body as ReadableStream<Uint8Array>);
    expect((await frames.nextEvent()).id).toBe(String(after.id));
    abort.abort();
  });

  it("tells the client to refetch everything when it missed more than the replay holds", async () => {
    const first = await recordEvent(h.db, { kind: "test.many", message: "first" });
    await h.db.execute(sql`
      insert into events (kind, message) select 'test.many', 'bulk ' || g from generate_series(1, 205) g`);
    const { res, abort } = await open({ "last-event-id": String(first.id) });
    const frames = frameReader(res.body as ReadableStream<Uint8Array>);
    expect((await frames.nextEvent()).event).toBe("resync");
    let replayed = 0;
    let last = "";
    for (let i = 0; i < 200; i++) {
      const f = await frames.nextEvent();
      replayed++;
      last = JSON.parse(f.data ?? "{}").message;
    }
    expect(replayed).toBe(200);
    expect(last).toBe("bulk 205");
    abort.abort();
  });

  it("sends a keepalive comment when nothing happened for a while", async () => {
    const sub = await getEventHub().subscribe();
    const abort = new AbortController();
    const frames = frameReader(
      eventStream(sub, { events: [], truncated: false }, abort.signal, { keepaliveMs: 50 }),
    );
    expect(await frames.next()).toMatchObject({ comment: "connected" });
    expect(await frames.next(2_000)).toEqual({ comment: "keepalive" });
    abort.abort();
    expect(await frames.next()).toBeNull();
    expect(sub.closedReason).toBe("unsubscribed");
  });

  it("ends the stream when the hub drops the client for falling behind (the browser reconnects and replays)", async () => {
    const sub = await getEventHub().subscribe();
    const abort = new AbortController();
    const frames = frameReader(eventStream(sub, { events: [], truncated: false }, abort.signal));
    expect(await frames.next()).toMatchObject({ comment: "connected" });
    sub.close("overflow");
    expect(await frames.next()).toBeNull();
  });
});
