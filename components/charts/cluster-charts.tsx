"use client";
// The cluster's charts: health latency and the four GPU metrics per node, over a range the reader
// picks. Each range is its own cache entry (["cluster", id, "series", range]); switching keeps the
// previous range on screen, marked as loading, until the new one arrives.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { clusterSeriesKey, fetchClusterSeries } from "@/components/cluster/query";
import {
  CLUSTER_SERIES_RANGES,
  type ClusterSeriesRange,
  DEFAULT_SERIES_RANGE,
  SERIES_RANGE_LABEL,
} from "@/server/cluster/ranges";
import type { ClusterSeries } from "@/server/cluster/schemas";
import type { SeriesMetric } from "@/server/history/series";
import styles from "./charts.module.css";
import { type ChartSeries, TimeSeriesChart } from "./time-series-chart";

/** Short ranges move; long ones barely do between two looks. Live events refresh them too. */
const REFRESH_MS: Record<ClusterSeriesRange, number> = {
  "15m": 10_000,
  "1h": 20_000,
  "24h": 60_000,
  "7d": 300_000,
};

const round = (v: number, digits = 0) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

const CHARTS: Array<{
  metric: SeriesMetric;
  title: string;
  unit: string;
  format: (v: number) => string;
  scale?: number;
  yMax?: number;
}> = [
  {
    metric: "latency",
    title: "Health latency",
    unit: "HTTP /health, median ms",
    format: (v) => `${round(v, v < 10 ? 1 : 0)} ms`,
  },
  {
    metric: "gpu_util",
    title: "GPU utilisation",
    unit: "%, mean of GPUs",
    format: (v) => `${round(v)} %`,
    yMax: 100,
  },
  { metric: "gpu_temp", title: "GPU temperature", unit: "°C, mean of GPUs", format: (v) => `${round(v)} °C` },
  {
    metric: "gpu_mem",
    title: "GPU memory used",
    unit: "GiB, mean of GPUs",
    format: (v) => `${round(v, v < 10 ? 1 : 0)} GiB`,
    scale: 1 / 1024,
  },
  { metric: "gpu_power", title: "GPU power", unit: "W, mean of GPUs", format: (v) => `${round(v)} W` },
];

function seriesOf(data: ClusterSeries, metric: SeriesMetric): ChartSeries[] {
  return data.nodes.map((n) => ({
    id: n.id,
    name: n.name,
    stepMs: n.series[metric].stepMs,
    points: n.series[metric].points,
  }));
}

export function ClusterCharts({ clusterId }: { clusterId: string }) {
  const [range, setRange] = useState<ClusterSeriesRange>(DEFAULT_SERIES_RANGE);
  const { data, error, isPlaceholderData, isFetching } = useQuery({
    queryKey: clusterSeriesKey(clusterId, range),
    queryFn: () => fetchClusterSeries(clusterId, range),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS[range],
  });
  const shown = data?.range ?? range;
  const loading = isPlaceholderData || (!data && isFetching);
  const source = data?.nodes[0]?.series.latency;
  return (
    <section
      className={`panel ${styles.section}`}
      aria-labelledby="cluster-charts-title"
      data-testid="cluster-charts"
      data-range={shown}
      aria-busy={loading}
    >
      <header className={styles.head}>
        <h2 id="cluster-charts-title">Health and GPU</h2>
        <fieldset className={styles.ranges}>
          <legend className="sr-only">Chart range</legend>
          {CLUSTER_SERIES_RANGES.map((r) => (
            <button
              key={r}
              type="button"
              className={`button ${styles.range}`}
              aria-pressed={r === range}
              onClick={() => setRange(r)}
              data-testid={`range-${r}`}
            >
              {SERIES_RANGE_LABEL[r]}
            </button>
          ))}
        </fieldset>
      </header>
      <p className="muted small" aria-live="polite">
        {loading
          ? `Loading the last ${SERIES_RANGE_LABEL[range]}…`
          : data && source
            ? `Last ${SERIES_RANGE_LABEL[shown]}, one point per ${formatStep(source.stepMs)} (${source.source === "raw" ? "raw probes and samples" : `${source.source} rollups`}).`
            : null}
        {error ? ` Refresh failed: ${error.message}` : ""}
      </p>
      {error && !data ? (
        <p className="error-text" role="alert">
          {error.message}
        </p>
      ) : !data ? (
        <div className={styles.grid} aria-hidden="true">
          {CHARTS.map((c) => (
            <div key={c.metric} className={styles.skeleton} />
          ))}
        </div>
      ) : data.nodes.length === 0 ? (
        <p className="muted">This cluster has no nodes to chart.</p>
      ) : (
        <div className={`${styles.grid} ${loading ? styles.stale : ""}`}>
          {CHARTS.map((c) => (
            <TimeSeriesChart
              key={c.metric}
              testId={`chart-${c.metric}`}
              title={c.title}
              unit={c.unit}
              series={seriesOf(data, c.metric)}
              from={Date.parse(data.from)}
              to={Date.parse(data.to)}
              format={c.format}
              scale={c.scale}
              yMax={c.yMax}
            />
          ))}
        </div>
      )}
    </section>
  );
}

function formatStep(ms: number): string {
  if (ms < 60_000) return `${ms / 1000} s`;
  if (ms < 3_600_000) return `${ms / 60_000} min`;
  return `${ms / 3_600_000} h`;
}
