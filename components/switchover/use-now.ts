"use client";
// A clock for things that move while you watch (a running step's bar, "12 s so far"): ticks every
// `everyMs` while `everyMs` is set, and stops (no timer) when it is null. It is null until mounted,
// so the server's HTML and the first client render agree (callers fall back to the data's times).
import { useEffect, useState } from "react";

export function useNow(everyMs: number | null): number | null {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    if (everyMs === null) return;
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
