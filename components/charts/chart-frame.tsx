"use client";
// The shared chart container: a titled figure of fixed height that shows a placeholder until the
// browser has hydrated, an empty state when the range has no data, and the chart otherwise.
import type { ReactNode } from "react";
import styles from "./charts.module.css";
import { useHydrated } from "./use-hydrated";

export function ChartFrame({
  title,
  unit,
  height = 200,
  empty,
  emptyText = "No data in this range.",
  testId,
  children,
}: {
  title: string;
  unit?: string;
  height?: number;
  empty: boolean;
  emptyText?: string;
  testId?: string;
  children: ReactNode;
}) {
  const hydrated = useHydrated();
  return (
    <figure className={styles.frame} data-testid={testId} data-empty={empty ? "true" : "false"}>
      <figcaption className={styles.caption}>
        <span className={styles.title}>{title}</span>
        {unit && <span className="muted small">{unit}</span>}
      </figcaption>
      <div className={styles.plot} style={{ height }}>
        {!hydrated ? (
          <div className={styles.placeholder} aria-hidden="true" />
        ) : empty ? (
          <p className={`muted small ${styles.empty}`}>{emptyText}</p>
        ) : (
          children
        )}
      </div>
    </figure>
  );
}
