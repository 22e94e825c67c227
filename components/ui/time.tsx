"use client";

import { useEffect, useState } from "react";

function relative(ms: number): string {
  const s = Math.round(ms / 1000);
  if (Math.abs(s) < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (Math.abs(m) < 60) return `${m}m ago`;
  const h = Math.round(m / 60);
  if (Math.abs(h) < 48) return `${h}h ago`;
  return `${Math.round(h / 24)}d ago`;
}

/** A timestamp shown relative to now in the reader's zone, with exact local and UTC on hover. */
export function Time({ iso }: { iso: string | null }) {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 10_000);
    return () => clearInterval(t);
  }, []);
  if (!iso) return <span className="muted">never</span>;
  const d = new Date(iso);
  const utc = d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
  return (
    <time dateTime={iso} title={`${d.toLocaleString()} (local)\n${utc}`}>
      {now === null ? utc : relative(now - d.getTime())}
    </time>
  );
}
