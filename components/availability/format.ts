// Number formats for the availability report. A percentage is cut, never rounded, to three
// decimals: 99.98996 % must not read as meeting a 99.99 % target. Unknown is "no data yet".

export const NO_DATA = "no data yet";

export function formatPct(pct: number | null): string {
  if (pct === null) return NO_DATA;
  if (pct >= 100) return "100%";
  const cut = Math.floor(pct * 1000 + 1e-9) / 1000;
  return `${cut.toFixed(3)}%`;
}

/** A duration for people: "0 min", "42 s", "4.3 min", "2 h 5 min", "3 d 4 h". */
export function formatDuration(ms: number | null): string {
  if (ms === null) return "—";
  const neg = ms < 0;
  const a = Math.abs(ms);
  let s: string;
  if (a === 0) s = "0 min";
  else if (a < 60_000) s = `${Math.max(1, Math.round(a / 1000))} s`;
  else if (a < 3_600_000) s = `${(Math.round(a / 6_000) / 10).toLocaleString("en-US")} min`;
  else if (a < 48 * 3_600_000) {
    const h = Math.floor(a / 3_600_000);
    const m = Math.round((a - h * 3_600_000) / 60_000);
    s = m === 60 ? `${h + 1} h` : m === 0 ? `${h} h` : `${h} h ${m} min`;
  } else {
    const d = Math.floor(a / 86_400_000);
    const h = Math.round((a - d * 86_400_000) / 3_600_000);
    s = h === 24 ? `${d + 1} d` : h === 0 ? `${d} d` : `${d} d ${h} h`;
  }
  return neg ? `−${s}` : s;
}
