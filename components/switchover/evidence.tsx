"use client";
// What the controller saw when it decided (automatic failovers): the last probe of the failed primary
// and of the standby it chose, the primary's last GPU sample and the policy — shown as facts, with
// the raw JSON one click away. Anything else recorded as evidence is shown as JSON.
import Link from "next/link";
import { Time } from "@/components/ui/time";
import { formatMs } from "./format";
import styles from "./switchover-detail.module.css";

type Probe = {
  at?: number;
  tcpOk?: boolean;
  tcpMs?: number | null;
  httpOk?: boolean;
  httpStatus?: number | null;
  httpMs?: number | null;
  error?: string | null;
  reportedRole?: string | null;
};
type NodeEvidence = { name?: string; state?: string; lastProbe?: Probe | null };
type Gpu = {
  index?: number;
  name?: string | null;
  utilizationGpuPct?: number | null;
  memoryUsedMib?: number | null;
  memoryTotalMib?: number | null;
  temperatureC?: number | null;
  powerDrawW?: number | null;
};
type AutoEvidence = {
  detectedAt?: string;
  primary?: NodeEvidence;
  standby?: NodeEvidence;
  gpu?: Gpu[] | null;
  policy?: Record<string, unknown>;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

function num(v: unknown, unit: string): string {
  return typeof v === "number" && Number.isFinite(v) ? `${Math.round(v * 10) / 10}${unit}` : "—";
}

function ProbeText({ probe }: { probe: Probe | null | undefined }) {
  if (!probe) return <span className="muted">no probe recorded</span>;
  const at = typeof probe.at === "number" ? new Date(probe.at).toISOString() : null;
  return (
    <span>
      TCP {probe.tcpOk ? `ok (${num(probe.tcpMs, " ms")})` : "failed"} · /health{" "}
      {probe.httpStatus != null
        ? `${probe.httpStatus} (${num(probe.httpMs, " ms")})`
        : probe.httpOk
          ? "ok"
          : "no answer"}
      {probe.reportedRole ? ` · reports ${probe.reportedRole}` : ""}
      {probe.error ? <span className="warn-text"> · {probe.error}</span> : null}
      {at && (
        <span className="muted">
          {" "}
          · <Time iso={at} />
        </span>
      )}
    </span>
  );
}

function NodeFacts({ title, node }: { title: string; node: NodeEvidence | undefined }) {
  if (!node) return null;
  return (
    <div>
      <dt>{title}</dt>
      <dd>
        <strong>{node.name ?? "?"}</strong>{" "}
        {node.state && <span className={`state state-${node.state}`}>{node.state}</span>}
        <br />
        <span className="small">
          Last probe: <ProbeText probe={node.lastProbe} />
        </span>
      </dd>
    </div>
  );
}

function GpuTable({ gpus }: { gpus: Gpu[] }) {
  return (
    <div className="table-wrap">
      <table className={styles.gpuTable}>
        <caption className="muted small">The primary's last GPU sample</caption>
        <thead>
          <tr>
            <th scope="col">GPU</th>
            <th scope="col">Utilisation</th>
            <th scope="col">Memory</th>
            <th scope="col">Temperature</th>
            <th scope="col">Power</th>
          </tr>
        </thead>
        <tbody>
          {gpus.map((g, i) => (
            <tr key={g.index ?? i}>
              <th scope="row">
                {g.index ?? i}
                {g.name ? <span className="muted small"> {g.name}</span> : null}
              </th>
              <td>{num(g.utilizationGpuPct, " %")}</td>
              <td>
                {num(g.memoryUsedMib, "")} / {num(g.memoryTotalMib, " MiB")}
              </td>
              <td>{num(g.temperatureC, " °C")}</td>
              <td>{num(g.powerDrawW, " W")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Evidence({ evidence }: { evidence: unknown }) {
  if (evidence === null || evidence === undefined) return null;
  const raw = (
    <details className={styles.raw}>
      <summary>Raw evidence (JSON)</summary>
      <pre className="mono small">{JSON.stringify(evidence, null, 2)}</pre>
    </details>
  );
  if (isObject(evidence) && typeof evidence.drillOf === "string") {
    return (
      <section className="panel" aria-labelledby="evidence-title">
        <h2 id="evidence-title">Why</h2>
        <p>
          The way back of a drill: it returns the primary to where{" "}
          <Link href={`/switchovers/${evidence.drillOf}`}>the drill's first leg</Link> started.
        </p>
      </section>
    );
  }
  const auto = evidence as AutoEvidence;
  const known = isObject(evidence) && (isObject(auto.primary) || Array.isArray(auto.gpu));
  return (
    <section className="panel" aria-labelledby="evidence-title" data-testid="switchover-evidence">
      <h2 id="evidence-title">Evidence</h2>
      {known ? (
        <>
          <dl className={`facts ${styles.evidenceFacts}`}>
            {auto.detectedAt && (
              <div>
                <dt>Primary failed</dt>
                <dd>
                  <Time iso={auto.detectedAt} />
                </dd>
              </div>
            )}
            <NodeFacts title="Failed primary" node={auto.primary} />
            <NodeFacts title="Chosen standby" node={auto.standby} />
            {isObject(auto.policy) && (
              <div>
                <dt>Policy</dt>
                <dd className="small">
                  {String(auto.policy.preset ?? "?")} · probe every{" "}
                  {formatMs(
                    typeof auto.policy.probeIntervalMs === "number" ? auto.policy.probeIntervalMs : null,
                  )}{" "}
                  · failed after {String(auto.policy.failuresToFail ?? "?")} failures · signals{" "}
                  {String(auto.policy.signalsRequired ?? "?").replaceAll("_", " ")}
                </dd>
              </div>
            )}
          </dl>
          {Array.isArray(auto.gpu) && auto.gpu.length > 0 ? (
            <GpuTable gpus={auto.gpu} />
          ) : (
            <p className="muted small">No GPU sample of the primary was at hand (telemetry lost or off).</p>
          )}
        </>
      ) : null}
      {raw}
    </section>
  );
}
