// Pure wording and geometry for the switchover UI: state labels and tones, durations, the sentence
// the confirm button says, and where each step's bar sits on the timeline. No React, no I/O, so it
// is tested directly (format.test.ts).
import type { ClusterPreflight } from "@/server/switchover/preflight";
import type { SwitchoverStepView, SwitchoverView } from "@/server/switchover/queries";

export const TERMINAL_STATES = new Set(["completed", "rolled_back", "failed", "aborted"]);

export function isTerminal(state: string): boolean {
  return TERMINAL_STATES.has(state);
}

export type Tone = "ok" | "warn" | "bad" | "idle";

/** The badge tone of a switchover's state: in flight is idle (neutral), the end says how it went. */
export function stateTone(state: string): Tone {
  switch (state) {
    case "completed":
      return "ok";
    case "rolled_back":
    case "rolling_back":
      return "warn";
    case "failed":
    case "aborted":
      return "bad";
    default:
      return "idle";
  }
}

export function label(value: string): string {
  return value.replaceAll("_", " ");
}

export const KIND_LABEL: Record<string, string> = {
  manual: "Manual",
  auto: "Automatic",
  drill: "Drill",
  rollback: "Rollback",
  eject: "Pool eject",
  readmit: "Pool readmit",
  drain: "Pool drain",
};

export function kindLabel(kind: string): string {
  return KIND_LABEL[kind] ?? label(kind);
}

/** Pool changes act on one member: "from → to" would name it twice. */
export function isPoolChange(kind: string): boolean {
  return kind === "eject" || kind === "readmit" || kind === "drain";
}

export function moveLabel(sw: Pick<SwitchoverView, "kind" | "from" | "to">): string {
  if (isPoolChange(sw.kind)) return sw.from ?? sw.to ?? "?";
  return `${sw.from ?? "?"} → ${sw.to ?? "?"}`;
}

/** 340 → "340 ms", 3421 → "3.42 s", 12_345 → "12.3 s", 125_000 → "2 min 5 s", 7_500_000 → "2 h 5 min". */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 10_000) return `${(v / 1000).toFixed(2)} s`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  const s = Math.round(v / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ""}`;
}

/** Request to end (what an operator waited), or null while it runs. */
export function totalMs(sw: Pick<SwitchoverView, "requestedAt" | "finishedAt">): number | null {
  if (!sw.finishedAt) return null;
  return Date.parse(sw.finishedAt) - Date.parse(sw.requestedAt);
}

/**
 * The confirm button's words: exactly what will happen, e.g. "Move gte-pro-search from gte-a to
 * gte-b now (epoch 7 → 8): degrade gte-a, switch nginx, activate gte-b".
 */
export function describeMove(p: ClusterPreflight, targetId: string | null, drill: boolean): string | null {
  const target = p.standbys.find((s) => s.id === targetId);
  if (!p.primary || !target) return null;
  const from = p.primary.name;
  const to = target.name;
  const e = p.cluster.epoch;
  const fence = p.primary.state === "failed" ? `fence ${from} (failed)` : `degrade ${from}`;
  const traffic = p.loadBalancer ? "switch nginx" : "no traffic switch (no load balancer)";
  const steps = `${fence}, ${traffic}, activate ${to}`;
  if (drill) {
    return `Drill ${p.cluster.name}: move from ${from} to ${to} and back (epoch ${e} → ${e + 1} → ${e + 2}): ${steps}, then the same back`;
  }
  return `Move ${p.cluster.name} from ${from} to ${to} now (epoch ${e} → ${e + 1}): ${steps}`;
}

export type BarLayout = {
  /** Percent of the timeline's width. */
  leftPct: number;
  widthPct: number;
  /** Offset from the switchover's start, ms (null: not started). */
  offsetMs: number | null;
  /** Its duration so far (running) or in all (ended), ms. */
  elapsedMs: number | null;
};

/** Narrower than this and a bar would vanish: a 3 ms step still gets a visible sliver. */
const MIN_WIDTH_PCT = 0.6;

/**
 * Where each step's bar goes: from the switchover's start (its startedAt, else requestedAt, or the
 * first step if that is earlier) to its end (finishedAt, else `now`), a running step growing with
 * `now`.
 */
export function layoutTimeline(
  sw: Pick<SwitchoverView, "requestedAt" | "startedAt" | "finishedAt">,
  steps: ReadonlyArray<Pick<SwitchoverStepView, "state" | "startedAt" | "durationMs" | "finishedAt">>,
  now: number,
): { startMs: number; spanMs: number; bars: BarLayout[] } {
  const starts = steps.map((s) => (s.startedAt ? Date.parse(s.startedAt) : null));
  const elapsed = steps.map((s, i) => {
    const start = starts[i];
    if (start === null || start === undefined) return null;
    if (s.durationMs !== null) return s.durationMs;
    if (s.finishedAt) return Date.parse(s.finishedAt) - start;
    return s.state === "running" ? Math.max(0, now - start) : 0;
  });
  let startMs = Date.parse(sw.startedAt ?? sw.requestedAt);
  for (const s of starts) if (s !== null && s < startMs) startMs = s;
  let endMs = sw.finishedAt ? Date.parse(sw.finishedAt) : now;
  steps.forEach((_, i) => {
    const s = starts[i];
    const e = elapsed[i];
    if (s !== null && s !== undefined && e !== null && e !== undefined) endMs = Math.max(endMs, s + e);
  });
  const spanMs = Math.max(1, endMs - startMs);
  const bars = steps.map((_, i): BarLayout => {
    const s = starts[i];
    const e = elapsed[i];
    if (s === null || s === undefined || e === null || e === undefined) {
      return { leftPct: 0, widthPct: 0, offsetMs: null, elapsedMs: null };
    }
    const leftPct = Math.min(100, Math.max(0, ((s - startMs) / spanMs) * 100));
    const widthPct = Math.min(100 - leftPct, Math.max(MIN_WIDTH_PCT, (e / spanMs) * 100));
    return { leftPct, widthPct, offsetMs: s - startMs, elapsedMs: e };
  });
  return { startMs, spanMs, bars };
}
