// GET /api/events: the live event stream (server-sent events) every dashboard page listens to.
// Subscribes to this process's event hub (one LISTEN per process, server/notify/hub.ts) and, for a
// browser reconnecting with Last-Event-ID, first replays what it missed from the events table.
import { getDb } from "@/db/client";
import { withAuth } from "@/server/auth/guard";
import { getEventHub, type HubEvent, replayEvents, type Subscription } from "@/server/notify/hub";
import { eventStream, parseLastEventId, SSE_HEADERS } from "./sse";

export const dynamic = "force-dynamic";

function unavailable(): Response {
  return Response.json(
    { error: "unavailable", message: "The live event stream is unavailable; the page will retry." },
    { status: 503, headers: { "retry-after": "5", "cache-control": "no-store" } },
  );
}

export const GET = withAuth("fleet.read", async (request) => {
  const lastEventId = parseLastEventId(
    request.headers.get("last-event-id") ?? new URL(request.url).searchParams.get("lastEventId"),
  );
  let sub: Subscription;
  try {
    // Subscribe before reading the replay, so nothing committed in between falls in a gap.
    sub = await getEventHub().subscribe();
  } catch {
    return unavailable();
  }
  let replay: { events: HubEvent[]; truncated: boolean } = { events: [], truncated: false };
  if (lastEventId !== null) {
    try {
      replay = await replayEvents(getDb(), lastEventId);
    } catch {
      sub.unsubscribe();
      return unavailable();
    }
  }
  return new Response(eventStream(sub, replay, request.signal), { headers: SSE_HEADERS });
});
