// One cell per UTC day, coloured by the day's availability against the cluster's SLA, in rows of
// 30 days. A CSS grid rather than an SVG chart: it prints without being cut or rescaled, and needs
// no measuring. Each cell's title gives the day's figures; the same figures are in a table below
// it for keyboards and screen readers (the picture itself is one image with a summary).
import type { AvailabilityDay, DayStatus } from "@/server/availability/schemas";
import styles from "./availability.module.css";
import { formatDuration, formatPct } from "./format";

const ROW = 30;

const STATUS_LABEL: Record<DayStatus, string> = {
  met: "meets the SLA",
  below: "below the SLA",
  far_below: "far below the SLA",
  no_data: "no data",
};

const STATUS_CLASS: Record<DayStatus, string | undefined> = {
  met: styles.met,
  below: styles.below,
  far_below: styles.farBelow,
  no_data: styles.noData,
};

function dayTitle(d: AvailabilityDay): string {
  const parts = [`${d.day} (UTC): ${formatPct(d.availabilityPct)}`, STATUS_LABEL[d.status]];
  if (d.downtimeMs > 0) parts.push(`${formatDuration(d.downtimeMs)} down`);
  if (d.incidents > 0) parts.push(`${d.incidents} ${d.incidents === 1 ? "incident" : "incidents"}`);
  if (d.unknownMs > 0 && d.availabilityPct !== null)
    parts.push(`${formatDuration(d.unknownMs)} without data`);
  return parts.join(" · ");
}

export function Legend() {
  return (
    <ul className={styles.legend} aria-label="Legend">
      {(Object.keys(STATUS_LABEL) as DayStatus[]).map((s) => (
        <li key={s}>
          <span className={`${styles.cell} ${STATUS_CLASS[s]}`} aria-hidden="true" />
          {STATUS_LABEL[s]}
        </li>
      ))}
    </ul>
  );
}

export function DayHeatmap({
  cluster,
  days,
  slaTargetPct,
}: {
  cluster: string;
  days: AvailabilityDay[];
  slaTargetPct: number;
}) {
  const count = (s: DayStatus) => days.filter((d) => d.status === s).length;
  const summary =
    `Daily availability of ${cluster}, last ${days.length} days against ${slaTargetPct}%: ` +
    `${count("met")} met, ${count("below")} below, ${count("far_below")} far below, ${count("no_data")} without data.`;
  const rows: AvailabilityDay[][] = [];
  for (let i = 0; i < days.length; i += ROW) rows.push(days.slice(i, i + ROW));
  return (
    <div className={styles.heatmapBlock}>
      <div className={styles.heatmap} role="img" aria-label={summary} data-testid="availability-heatmap">
        {rows.map((row) => (
          <div key={row[0]?.day} className={styles.heatRow}>
            <span className={styles.heatLabel} aria-hidden="true">
              {row[0]?.day}
            </span>
            <div className={styles.heatCells}>
              {row.map((d) => (
                <span
                  key={d.day}
                  className={`${styles.cell} ${STATUS_CLASS[d.status]}`}
                  title={dayTitle(d)}
                  data-day={d.day}
                  data-status={d.status}
                />
              ))}
            </div>
          </div>
        ))}
      </div>
      <Legend />
      <details className={styles.daily}>
        <summary>Daily figures</summary>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                <th scope="col">Availability</th>
                <th scope="col">Downtime</th>
                <th scope="col">Incidents</th>
                <th scope="col">Without data</th>
              </tr>
            </thead>
            <tbody>
              {[...days].reverse().map((d) => (
                <tr key={d.day}>
                  <th scope="row" className="mono">
                    {d.day}
                  </th>
                  <td>{formatPct(d.availabilityPct)}</td>
                  <td>{formatDuration(d.downtimeMs)}</td>
                  <td>{d.incidents}</td>
                  <td>{formatDuration(d.unknownMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </div>
  );
}
