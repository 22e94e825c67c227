"use client";
// One metric, one line per node, over a fixed time window. The server has already downsampled every
// series (at most ~500 points each); here the series are only merged into rows for recharts, with a
// null inserted wherever a series skips a bin so that missing data shows as a gap, not a slope.
import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from "recharts";
import type { SeriesPoint } from "@/server/history/series";
import { ChartFrame } from "./chart-frame";

export type ChartSeries = { id: string; name: string; stepMs: number; points: readonly SeriesPoint[] };
type Row = { t: number } & Record<string, number | null>;

/** Distinct on light and dark backgrounds; a node keeps its colour across every chart. */
export const SERIES_COLORS = [
  "#2f6fed",
  "#e8710a",
  "#13854a",
  "#a142f4",
  "#c0262d",
  "#0f9d9a",
  "#8d6e00",
  "#d01884",
] as const;

export function seriesColor(index: number): string {
  return SERIES_COLORS[index % SERIES_COLORS.length] ?? "#2f6fed";
}

/** Pure: series → rows keyed by time, with a null after every skipped bin. */
export function mergeSeries(series: readonly ChartSeries[], scale = 1): Row[] {
  const rows = new Map<number, Row>();
  const row = (t: number): Row => {
    let r = rows.get(t);
    if (!r) {
      r = { t } as Row;
      rows.set(t, r);
    }
    return r;
  };
  for (const s of series) {
    let prev: number | null = null;
    for (const p of s.points) {
      if (prev !== null && p.t - prev > 1.5 * s.stepMs) row(prev + s.stepMs)[s.id] = null;
      row(p.t)[s.id] = p.value === null ? null : p.value * scale;
      prev = p.t;
    }
  }
  return [...rows.values()].sort((a, b) => a.t - b.t);
}

export function formatTick(t: number, spanMs: number): string {
  const d = new Date(t);
  if (spanMs > 2 * 24 * 3_600_000) {
    return d.toLocaleDateString(undefined, { weekday: "short", day: "numeric" });
  }
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function TimeSeriesChart({
  title,
  unit,
  series,
  from,
  to,
  format,
  scale = 1,
  yMax,
  testId,
}: {
  title: string;
  unit: string;
  series: readonly ChartSeries[];
  from: number;
  to: number;
  /** How a value reads in the tooltip and on the axis, e.g. v => `${v} ms`. */
  format: (v: number) => string;
  /** Multiplies every value (e.g. MiB → GiB). */
  scale?: number;
  /** Fixed upper bound of the value axis (percentages); otherwise from the data. */
  yMax?: number;
  testId?: string;
}) {
  const rows = mergeSeries(series, scale);
  const empty = !rows.some((r) => series.some((s) => typeof r[s.id] === "number"));
  const span = to - from;
  return (
    <ChartFrame title={title} unit={unit} empty={empty} testId={testId}>
      <LineChart
        responsive
        style={{ width: "100%", height: "100%" }}
        data={rows}
        margin={{ top: 6, right: 12, bottom: 0, left: 0 }}
      >
        <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" vertical={false} />
        <XAxis
          dataKey="t"
          type="number"
          scale="time"
          domain={[from, to]}
          allowDataOverflow
          tickFormatter={(t: number) => formatTick(t, span)}
          tick={{ fill: "var(--muted)", fontSize: 11 }}
          stroke="var(--border)"
          minTickGap={24}
        />
        <YAxis
          width={52}
          domain={[0, yMax ?? "auto"]}
          tickFormatter={(v: number) => format(v)}
          tick={{ fill: "var(--muted)", fontSize: 11 }}
          stroke="var(--border)"
        />
        <Tooltip
          labelFormatter={(label) =>
            typeof label === "number" ? new Date(label).toLocaleString() : String(label ?? "")
          }
          formatter={(value) => (typeof value === "number" ? format(value) : "—")}
          contentStyle={{ background: "var(--panel)", borderColor: "var(--border)", fontSize: 12 }}
        />
        <Legend iconType="plainline" wrapperStyle={{ fontSize: 12 }} />
        {series.map((s, i) => (
          <Line
            key={s.id}
            dataKey={s.id}
            name={s.name}
            type="linear"
            stroke={seriesColor(i)}
            strokeWidth={1.5}
            dot={false}
            connectNulls={false}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </ChartFrame>
  );
}
