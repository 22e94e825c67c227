"use client";
// The dashboard's one live connection: an EventSource on /api/events. Each event marks the React
// Query keys it affects stale (components/live/invalidation.ts), batched over a short window so a
// burst — a switchover writes a step every few hundred milliseconds — refetches each query once.
// Nothing polls: data is re-read only when the server says something changed, when the stream
// (re)opens (it may have missed events while closed), and when React Query's own focus rules say so.
//
// The browser reconnects by itself after a network error, sending Last-Event-ID so the server
// replays what was missed. When the server refuses the stream (signed out, 503), EventSource gives
// up; then we reconnect by hand with jittered backoff and pass the last id as a query parameter.
import { type QueryKey, useQueryClient } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { ALL_LIVE_KEYS, invalidationKeys, parseLiveEvent } from "./invalidation";
import styles from "./live.module.css";
import {
  getLiveStatus,
  getServerLiveStatus,
  type LiveStatus,
  setLiveStatus,
  subscribeLiveStatus,
} from "./live-status";

const EVENTS_URL = "/api/events";
const BATCH_MS = 150;
const MAX_BACKOFF_MS = 30_000;

export function LiveEvents() {
  const queryClient = useQueryClient();

  useEffect(() => {
    let source: EventSource | null = null;
    let lastEventId: string | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | null = null;
    let flushTimer: ReturnType<typeof setTimeout> | null = null;
    let failures = 0;
    let disposed = false;
    const pending = new Map<string, QueryKey>();

    const flush = () => {
      flushTimer = null;
      const keys = [...pending.values()];
      pending.clear();
      for (const queryKey of keys) void queryClient.invalidateQueries({ queryKey });
    };
    const schedule = (keys: readonly QueryKey[]) => {
      for (const k of keys) pending.set(JSON.stringify(k), k);
      flushTimer ??= setTimeout(flush, BATCH_MS);
    };

    const connect = () => {
      retryTimer = null;
      if (disposed) return;
      const url = lastEventId ? `${EVENTS_URL}?lastEventId=${encodeURIComponent(lastEventId)}` : EVENTS_URL;
      const es = new EventSource(url);
      source = es;
      es.onopen = () => {
        failures = 0;
        setLiveStatus("live");
        // Whatever happened between the page's render (or the last connection) and now.
        schedule(ALL_LIVE_KEYS);
      };
      es.addEventListener("live", (m: MessageEvent<string>) => {
        if (m.lastEventId) lastEventId = m.lastEventId;
        const event = parseLiveEvent(m.data);
        if (event) schedule(invalidationKeys(event));
      });
      // More was missed than the server replays: refresh everything live.
      es.addEventListener("resync", () => schedule(ALL_LIVE_KEYS));
      es.onerror = () => {
        if (es.readyState === EventSource.CONNECTING) {
          setLiveStatus("reconnecting");
          return;
        }
        es.close();
        source = null;
        setLiveStatus("offline");
        const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** failures);
        failures = Math.min(failures + 1, 10);
        retryTimer = setTimeout(connect, backoff / 2 + Math.random() * (backoff / 2));
      };
    };

    connect();
    return () => {
      disposed = true;
      source?.close();
      if (retryTimer) clearTimeout(retryTimer);
      if (flushTimer) clearTimeout(flushTimer);
      setLiveStatus("connecting");
    };
  }, [queryClient]);

  return null;
}

const LABEL: Record<LiveStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline, retrying",
};

const TITLE: Record<LiveStatus, string> = {
  connecting: "Opening the live event stream",
  live: "Pages update as the controller reports changes",
  reconnecting: "The live event stream dropped; reconnecting (missed events are replayed)",
  offline: "The server refused the live event stream; retrying. Pages may show old data until then.",
};

/** A small live / reconnecting badge for the top bar. */
export function LiveIndicator() {
  const status = useSyncExternalStore(subscribeLiveStatus, getLiveStatus, getServerLiveStatus);
  return (
    <span
      className={`${styles.indicator} ${styles[status]}`}
      role="status"
      title={TITLE[status]}
      data-testid="live-indicator"
      data-status={status}
    >
      <span className={styles.dot} aria-hidden="true" />
      {LABEL[status]}
    </span>
  );
}
