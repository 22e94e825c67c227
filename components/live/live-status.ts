// The state of this tab's live event stream, shared between <LiveEvents /> (which owns the
// EventSource) and <LiveIndicator /> (which shows it) without a context: one stream per tab.
export type LiveStatus = "connecting" | "live" | "reconnecting" | "offline";

let status: LiveStatus = "connecting";
const listeners = new Set<() => void>();

export function setLiveStatus(next: LiveStatus): void {
  if (next === status) return;
  status = next;
  for (const l of listeners) l();
}

export function subscribeLiveStatus(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const getLiveStatus = (): LiveStatus => status;
/** The server renders "connecting": the stream only exists in the browser. */
export const getServerLiveStatus = (): LiveStatus => "connecting";
