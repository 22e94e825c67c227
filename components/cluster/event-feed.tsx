"use client";
// The cluster's latest events, newest first: what the controller saw and did (state changes,
// switchover steps, alerts). Key ["cluster", id, "events", limit]: the live-events provider
// invalidates it when an event names this cluster; a slow refetch covers a missed one.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { DEFAULT_EVENT_LIMIT } from "@/server/cluster/ranges";
import type { ClusterEvent } from "@/server/cluster/schemas";
import styles from "./cluster.module.css";
import { LocalTime } from "./local-time";
import { clusterEventsKey, fetchClusterEvents } from "./query";

const TONE: Record<ClusterEvent["severity"], string> = { info: "idle", warning: "warn", critical: "bad" };

export function EventFeed({ clusterId, limit = DEFAULT_EVENT_LIMIT }: { clusterId: string; limit?: number }) {
  const { data, error, isPending } = useQuery({
    queryKey: clusterEventsKey(clusterId, limit),
    queryFn: () => fetchClusterEvents(clusterId, limit),
  });
  return (
    <section
      className={`panel ${styles.feed}`}
      aria-labelledby="cluster-events-title"
      data-testid="event-feed"
    >
      <header className={styles.sectionHead}>
        <h2 id="cluster-events-title">Events</h2>
        <span className="muted small">latest {limit}, newest first</span>
      </header>
      {error && !data ? (
        <p className="error-text" role="alert">
          {error.message}
        </p>
      ) : isPending ? (
        <p className="muted">Loading events…</p>
      ) : data.items.length === 0 ? (
        <p className="muted" data-testid="event-feed-empty">
          No events yet. State changes, switchovers and alerts for this cluster will appear here.
        </p>
      ) : (
        <ol className={styles.events}>
          {data.items.map((e) => (
            <li key={e.id} className={styles.event} data-testid="event" data-severity={e.severity}>
              <span className={`badge badge-${TONE[e.severity]} ${styles.severity}`}>{e.severity}</span>
              <span className={`small muted ${styles.when}`}>
                <LocalTime iso={e.at} />
              </span>
              <span className={styles.message}>
                {e.message}
                {e.switchoverId && (
                  <>
                    {" "}
                    <Link href={`/switchovers/${e.switchoverId}`} className="small">
                      switchover
                    </Link>
                  </>
                )}
                <span className="muted small mono"> {e.kind}</span>
              </span>
            </li>
          ))}
        </ol>
      )}
      {error && data && <p className="muted small">Refresh failed; showing the last events loaded.</p>}
    </section>
  );
}
