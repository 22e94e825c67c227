"use client";
// An absolute time in the reader's zone, with UTC in the title. The server does not know the
// reader's zone, so it renders UTC and the browser swaps in local time after hydration.
import { useHydrated } from "@/components/charts/use-hydrated";

function utcText(d: Date): string {
  return d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

function localText(d: Date, now: Date): string {
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleString(undefined, {
        month: "short",
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
}

export function LocalTime({ iso }: { iso: string }) {
  const hydrated = useHydrated();
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return <span className="muted">—</span>;
  const utc = utcText(d);
  return (
    <time dateTime={iso} title={utc}>
      {hydrated ? localText(d, new Date()) : utc}
    </time>
  );
}
