/**
 * Small wording helpers shared by the policy description, transition reasons and alert messages.
 * Pure and allocation-light: they run only when a human-readable string is actually needed
 * (a transition, a firing alert, a settings page), never on the per-probe fast path.
 */

/** 500 → "500 ms", 1000 → "1 s", 1500 → "1.5 s", 300000 → "5 min", 90000 → "1 min 30 s", 3600000 → "1 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "an unknown time";
  const abs = Math.max(0, ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 60_000) {
    const s = Math.round(abs / 100) / 10;
    return s >= 60 ? "1 min" : `${trimZero(s)} s`;
  }
  if (abs < 3_600_000) {
    const totalS = Math.round(abs / 1000);
    const min = Math.floor(totalS / 60);
    const s = totalS % 60;
    if (min >= 60) return "1 h";
    return s === 0 ? `${min} min` : `${min} min ${s} s`;
  }
  const totalMin = Math.round(abs / 60_000);
  const h = Math.floor(totalMin / 60);
  const min = totalMin % 60;
  return min === 0 ? `${h} h` : `${h} h ${min} min`;
}

function trimZero(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** A count with its noun: plural(1, "probe") → "1 probe", plural(3, "probe") → "3 probes". */
export function plural(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : `${noun}s`}`;
}

/** Rounds a measured value for display: 812.4 → "812", 97.25 → "97.3". */
export function formatNumber(n: number): string {
  if (Math.abs(n) >= 100) return String(Math.round(n));
  return trimZero(Math.round(n * 10) / 10);
}

const MAX_ERROR_CHARS = 160;

/**
 * Turns a prober error (an errno code, an undici/AbortError name, or free text from a node) into a
 * few words. Unknown text is kept but trimmed to one line and bounded, because it ends up in event
 * rows and on screens.
 */
export function describeNetworkError(error: string | null | undefined): string | null {
  if (!error) return null;
  if (/ECONNREFUSED|refused/i.test(error)) return "refused";
  if (/ETIMEDOUT|timed? ?out|timeout|AbortError/i.test(error)) return "timed out";
  if (/EHOSTUNREACH|host unreachable|no route to host/i.test(error)) return "host unreachable";
  if (/ENETUNREACH|network unreachable|network is unreachable/i.test(error)) return "network unreachable";
  if (/ECONNRESET|socket hang up|reset/i.test(error)) return "connection reset";
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(error)) return "name lookup failed";
  const text = oneLine(error);
  return text === "" ? null : text;
}

/** Text from outside (a node, a driver) squeezed to one bounded line for messages and events. */
export function oneLine(text: string, maxChars = MAX_ERROR_CHARS): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}
