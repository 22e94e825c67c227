// Server-sent events framing for GET /api/events: turns a hub subscription (plus the events a
// reconnecting client missed) into a `text/event-stream` body that is pulled at the client's pace.
// The stream never buffers more than one frame itself: if the client stops reading, the hub's
// bounded queue fills and drops the subscriber, which ends this stream (the browser reconnects).
import type { HubEvent, Subscription } from "@/server/notify/hub";

/** Silence longer than this gets a comment frame, so proxies and browsers keep the stream open. */
export const KEEPALIVE_MS = 15_000;
/** How long a browser waits before reconnecting after the stream ends. */
export const RETRY_MS = 3_000;

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  // no-transform keeps compression middleware (Next's included) from buffering the stream.
  "cache-control": "no-cache, no-store, no-transform",
  // nginx in front of the web process must not buffer it either.
  "x-accel-buffering": "no",
} as const;

/** A Last-Event-ID (header, or `?lastEventId=` for a client that reconnects by hand), or null. */
export function parseLastEventId(value: string | null | undefined): number | null {
  if (!value || !/^\d{1,15}$/.test(value.trim())) return null;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : null;
}

/** One event as a frame. Transient notifications (no events row) carry no `id:`, so they never move the client's Last-Event-ID. */
export function eventFrame(event: HubEvent): string {
  const id = event.id === null ? "" : `id: ${event.id}\n`;
  // JSON.stringify escapes newlines, so the data is one line.
  return `${id}event: live\ndata: ${JSON.stringify(event)}\n\n`;
}

export function eventStream(
  sub: Subscription,
  replay: { events: HubEvent[]; truncated: boolean },
  signal: AbortSignal,
  opts: { keepaliveMs?: number } = {},
): ReadableStream<Uint8Array> {
  const keepaliveMs = opts.keepaliveMs ?? KEEPALIVE_MS;
  const encoder = new TextEncoder();
  const replayedUpTo = replay.events.reduce((max, e) => Math.max(max, e.id ?? -1), -1);
  // Set once the consumer went away (cancel): a pull still waiting must not touch the controller then.
  let cancelled = false;
  const stop = () => sub.unsubscribe();
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });
  const cleanup = () => {
    signal.removeEventListener("abort", stop);
    stop();
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      // A first chunk at once: the browser's `open` fires and the headers leave every buffer.
      controller.enqueue(encoder.encode(`retry: ${RETRY_MS}\n: connected\n\n`));
      if (replay.truncated) {
        controller.enqueue(
          encoder.encode(`event: resync\ndata: ${JSON.stringify({ reason: "missed too many events" })}\n\n`),
        );
      }
      for (const e of replay.events) controller.enqueue(encoder.encode(eventFrame(e)));
    },
    async pull(controller) {
      for (;;) {
        const next = await sub.next(keepaliveMs);
        if (cancelled) return;
        if (next === null) {
          cleanup();
          controller.close();
          return;
        }
        if (next === "timeout") {
          controller.enqueue(encoder.encode(": keepalive\n\n"));
          return;
        }
        // Subscribed before the replay was read, so the replay and the live feed can overlap.
        if (next.id !== null && next.id <= replayedUpTo) continue;
        controller.enqueue(encoder.encode(eventFrame(next)));
        return;
      }
    },
    cancel() {
      cancelled = true;
      cleanup();
    },
  });
}
