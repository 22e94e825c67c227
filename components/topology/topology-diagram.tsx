"use client";
// The cluster's topology as one SVG: the load balancer on top, every node below it, and the path
// traffic takes drawn solid (LB → primary, or LB → every pool member that is in), the rest dashed.
// Each node shows its detector state, target role and what it reports, the cluster's epoch, a
// maintenance badge, its latest TCP / HTTP / GPU signals and a 15-minute GPU-utilisation sparkline.
// The SVG scales with its container; the number of columns follows the container's width so that
// a tablet gets two legible columns rather than one shrunken row.
import { useCallback, useId, useState } from "react";
import type { NodeSignals } from "@/server/cluster/schemas";
import {
  type Box,
  LAYOUT,
  layoutTopology,
  sparklinePath,
  type TopologyModel,
  type TopologyNode,
} from "./model";
import styles from "./topology.module.css";

const STATE_LABEL: Record<TopologyNode["state"], string> = {
  unknown: "unknown",
  healthy: "healthy",
  suspect: "suspect",
  failed: "failed",
  recovering: "recovering",
};

type Tone = "ok" | "warn" | "bad" | "idle";
type Signal = { label: string; value: string; tone: Tone; title: string };

export type SignalThresholds = { latencyThresholdMs: number; gpuTempAlertC: number };

const fmt = (n: number, digits = 0) => {
  const f = 10 ** digits;
  return String(Math.round(n * f) / f);
};

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Pure: the three signal chips of a node, in words and a tone. */
export function nodeSignals(
  s: NodeSignals | null,
  t: SignalThresholds,
): { tcp: Signal; http: Signal; gpu: Signal } {
  const hb = s?.heartbeat ?? null;
  const none = (label: string, what: string): Signal => ({
    label,
    value: "no data",
    tone: "idle",
    title: `No ${what} in the last 15 minutes`,
  });
  const tcp: Signal = !hb
    ? none("TCP", "probe")
    : hb.tcpOk
      ? {
          label: "TCP",
          value: hb.tcpMs === null ? "ok" : `${fmt(hb.tcpMs, 1)} ms`,
          tone: "ok",
          title: "TCP connect succeeded",
        }
      : {
          label: "TCP",
          value: hb.error ?? "failed",
          tone: "bad",
          title: `TCP connect failed${hb.error ? `: ${hb.error}` : ""}`,
        };
  const http: Signal = !hb
    ? none("HTTP", "probe")
    : hb.httpOk
      ? {
          label: "HTTP",
          value: hb.httpMs === null ? "ok" : `${fmt(hb.httpMs)} ms`,
          tone: hb.httpMs !== null && hb.httpMs > t.latencyThresholdMs ? "warn" : "ok",
          title: `/health answered ${hb.httpStatus ?? "2xx"}${hb.httpMs === null ? "" : ` in ${fmt(hb.httpMs)} ms`} (threshold ${t.latencyThresholdMs} ms)`,
        }
      : {
          label: "HTTP",
          value: hb.httpStatus ? String(hb.httpStatus) : (hb.error ?? "failed"),
          tone: "bad",
          title: `/health failed${hb.httpStatus ? ` with ${hb.httpStatus}` : ""}${hb.error ? `: ${hb.error}` : ""}`,
        };
  let gpu: Signal;
  const g = s?.gpu;
  if (!g || g.status === "none") gpu = none("GPU", "GPU sample");
  else if (g.status === "lost") {
    // Losing telemetry is a signal, not a failure (DESIGN.md): warn, never "bad".
    gpu = {
      label: "GPU",
      value: "telemetry lost",
      tone: "warn",
      title: `GPU telemetry lost: ${g.reason ?? "no reason given"}`,
    };
  } else {
    const utils = g.gpus.map((x) => x.utilizationPct).filter((v): v is number => v !== null);
    const temps = g.gpus.map((x) => x.temperatureC).filter((v): v is number => v !== null);
    const util = utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : null;
    const temp = temps.length ? Math.max(...temps) : null;
    const parts = [util === null ? null : `${fmt(util)} %`, temp === null ? null : `${fmt(temp)} °C`].filter(
      Boolean,
    );
    const count = g.gpus.length > 1 ? ` (${g.gpus.length} GPUs)` : "";
    gpu = {
      label: "GPU",
      value: parts.length
        ? `${parts.join(" · ")}${g.gpus.length > 1 ? ` ×${g.gpus.length}` : ""}`
        : "no readings",
      tone: temp !== null && temp > t.gpuTempAlertC ? "warn" : "ok",
      title:
        g.gpus
          .map(
            (x) =>
              `GPU ${x.index}: ${x.utilizationPct === null ? "?" : fmt(x.utilizationPct)} % util, ${x.temperatureC === null ? "?" : fmt(x.temperatureC)} °C, ` +
              `${x.memoryUsedMib === null ? "?" : fmt(x.memoryUsedMib / 1024, 1)} / ${x.memoryTotalMib === null ? "?" : fmt(x.memoryTotalMib / 1024, 1)} GiB, ${x.powerW === null ? "?" : fmt(x.powerW)} W`,
          )
          .join("\n") + count,
    };
  }
  return { tcp, http, gpu };
}

function roleLine(n: TopologyNode): string {
  const reports = n.reportedRole ? `reports ${n.reportedRole}` : "reports nothing yet";
  return `${n.targetRole} · ${reports}`;
}

function describeNode(n: TopologyNode, t: SignalThresholds): string {
  const s = nodeSignals(n.signals, t);
  return (
    `${n.name}: ${n.targetRole}, ${STATE_LABEL[n.state]}${n.maintenance ? ", in maintenance" : ""}, ` +
    `${roleLine(n)}, link ${n.link.status}; TCP ${s.tcp.value}, HTTP ${s.http.value}, GPU ${s.gpu.value}.`
  );
}

function Chip({ x, y, signal, testId }: { x: number; y: number; signal: Signal; testId: string }) {
  return (
    <g transform={`translate(${x} ${y})`} data-testid={testId} data-tone={signal.tone}>
      <title>{signal.title}</title>
      <circle cx={5} cy={-4} r={4} className={styles[`dot-${signal.tone}`]} />
      <text x={14} y={0} className={styles.chipLabel}>
        {signal.label}
      </text>
      <text x={52} y={0} className={styles[`chip-${signal.tone}`]}>
        {truncate(signal.value, 30)}
      </text>
    </g>
  );
}

function NodeBox({
  node,
  box,
  epoch,
  thresholds,
  span,
}: {
  node: TopologyNode;
  box: Box;
  epoch: number;
  thresholds: SignalThresholds;
  span: { from: number; to: number; stepMs: number } | null;
}) {
  const pad = 12;
  const s = nodeSignals(node.signals, thresholds);
  const spark = { x: pad, y: 152, w: box.w - 2 * pad, h: 40 };
  const path = span ? sparklinePath(node.sparkline, spark, span) : "";
  const stateW = STATE_LABEL[node.state].length * 7 + 20;
  return (
    <g
      transform={`translate(${box.x} ${box.y})`}
      data-testid={`topology-node-${node.name}`}
      data-state={node.state}
      data-role={node.targetRole}
      className={styles.node}
    >
      <title>{describeNode(node, thresholds)}</title>
      <rect
        width={box.w}
        height={box.h}
        rx={10}
        className={`${styles.nodeRect} ${styles[`border-${node.state}`]} ${node.link.active ? styles.nodeActive : ""}`}
      />
      <text x={pad} y={24} className={styles.nodeName}>
        {truncate(node.name, 20)}
      </text>
      <g transform={`translate(${box.w - pad - stateW} 10)`}>
        <rect width={stateW} height={20} rx={10} className={styles[`pill-${node.state}`]} />
        <text x={stateW / 2} y={14} textAnchor="middle" className={styles.pillText}>
          {STATE_LABEL[node.state]}
        </text>
      </g>
      <text x={pad} y={44} className={node.roleMismatch ? styles.mismatch : styles.meta}>
        {node.targetRole === "primary" ? <tspan className={styles.primary}>primary</tspan> : node.targetRole}
        {` · ${node.reportedRole ? `reports ${node.reportedRole}` : "reports nothing yet"}`}
        {node.roleMismatch ? " ⚠" : ""}
      </text>
      <text x={pad} y={62} className={styles.mono}>
        {`epoch ${epoch} · ${truncate(node.endpoint, 22)}`}
      </text>
      {node.maintenance && (
        <g transform={`translate(${box.w - pad - 92} 134)`} data-testid={`maintenance-${node.name}`}>
          <rect width={92} height={16} rx={8} className={styles.maintRect} />
          <text x={46} y={12} textAnchor="middle" className={styles.maintText}>
            maintenance
          </text>
        </g>
      )}
      <Chip x={pad} y={88} signal={s.tcp} testId={`signal-tcp-${node.name}`} />
      <Chip x={pad} y={106} signal={s.http} testId={`signal-http-${node.name}`} />
      <Chip x={pad} y={124} signal={s.gpu} testId={`signal-gpu-${node.name}`} />
      <text x={pad} y={146} className={styles.sparkLabel}>
        GPU utilisation, last 15 min
      </text>
      <g transform={`translate(${spark.x} ${spark.y})`}>
        <rect width={spark.w} height={spark.h} className={styles.sparkBg} />
        <line x1={0} x2={spark.w} y1={0} y2={0} className={styles.sparkTop} />
        {path ? (
          <path d={path} className={styles.spark} data-testid={`sparkline-${node.name}`} />
        ) : (
          <text x={spark.w / 2} y={spark.h / 2 + 4} textAnchor="middle" className={styles.sparkEmpty}>
            no GPU readings
          </text>
        )}
        <text x={spark.w - 2} y={10} textAnchor="end" className={styles.sparkScale}>
          100 %
        </text>
      </g>
    </g>
  );
}

function linkPath(lb: Box, b: Box): string {
  const x1 = lb.x + lb.w / 2;
  const y1 = lb.y + lb.h;
  const x2 = b.x + b.w / 2;
  const y2 = b.y;
  const dy = (y2 - y1) / 2;
  return `M${x1} ${y1} C${x1} ${y1 + dy} ${x2} ${y2 - dy} ${x2} ${y2 - 6}`;
}

/** Columns that keep a node at least ~240 px wide on screen, at most 4. */
export function columnsFor(width: number | null, nodeCount: number): number {
  const fit =
    width === null
      ? 3
      : Math.max(1, Math.min(4, Math.floor((width + LAYOUT.gapX) / (LAYOUT.nodeW + LAYOUT.gapX - 8))));
  return Math.max(1, Math.min(fit, nodeCount));
}

export function TopologyDiagram({
  model,
  thresholds,
  span,
}: {
  model: TopologyModel;
  thresholds: SignalThresholds;
  /** The sparkline's window and step (the 15-minute series), null while it loads. */
  span: { from: number; to: number; stepMs: number } | null;
}) {
  const [width, setWidth] = useState<number | null>(null);
  const measure = useCallback((el: HTMLDivElement | null) => {
    if (!el) return;
    setWidth(el.clientWidth);
    const ro = new ResizeObserver((entries) => {
      const w = entries[0]?.contentRect.width;
      if (w) setWidth(w);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const rawId = useId();
  const id = rawId.replace(/[^a-zA-Z0-9_-]/g, "");
  const cols = columnsFor(width, model.nodes.length);
  const layout = layoutTopology(model.nodes.length, cols);
  const { lb } = layout;
  const desc = [model.summary, ...model.nodes.map((n) => describeNode(n, thresholds))].join(" ");

  return (
    <figure className={styles.figure} data-testid="topology">
      <div ref={measure} className={styles.canvas}>
        <svg
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          className={styles.svg}
          style={{ maxWidth: layout.width * 1.2 }}
          role="img"
          aria-labelledby={`${id}-title ${id}-desc`}
        >
          <title id={`${id}-title`}>Topology</title>
          <desc id={`${id}-desc`}>{desc}</desc>
          <defs>
            <marker
              id={`${id}-arrow`}
              viewBox="0 0 10 10"
              refX={8}
              refY={5}
              markerWidth={7}
              markerHeight={7}
              orient="auto-start-reverse"
            >
              <path d="M0 0 L10 5 L0 10 z" className={styles.arrow} />
            </marker>
          </defs>

          {model.nodes.map((n, i) => {
            const b = layout.nodes[i];
            if (!b) return null;
            return (
              <g
                key={`link-${n.id}`}
                data-testid={`topology-link-${n.name}`}
                data-active={n.link.active ? "true" : "false"}
                data-status={n.link.status}
              >
                <title>{`${model.lb?.name ?? "endpoint"} → ${n.name}: ${n.link.status}`}</title>
                <path
                  d={linkPath(lb, b)}
                  className={
                    n.link.active
                      ? styles.linkActive
                      : `${styles.linkIdle} ${styles[`link-${n.link.status}`] ?? ""}`
                  }
                  markerEnd={n.link.active ? `url(#${id}-arrow)` : undefined}
                />
                <text
                  x={b.x + b.w / 2 + 8}
                  y={b.y - 14}
                  className={n.link.active ? styles.linkLabelActive : styles.linkLabel}
                >
                  {n.link.status}
                </text>
              </g>
            );
          })}

          <g transform={`translate(${lb.x} ${lb.y})`} data-testid="topology-lb">
            <title>
              {model.lb
                ? `Load balancer ${model.lb.name} on ${model.lb.host}, clients use ${model.lb.endpointUrl}`
                : "No load balancer is configured for this cluster"}
            </title>
            <rect
              width={lb.w}
              height={lb.h}
              rx={10}
              className={model.lb ? styles.lbRect : styles.lbMissing}
            />
            <text x={14} y={24} className={styles.lbKind}>
              LOAD BALANCER
            </text>
            <text x={14} y={46} className={styles.nodeName}>
              {model.lb ? truncate(model.lb.name, 22) : "none configured"}
            </text>
            <text x={lb.w - 14} y={24} textAnchor="end" className={styles.mono}>
              {`epoch ${model.epoch}`}
            </text>
            <text x={lb.w - 14} y={46} textAnchor="end" className={styles.mono}>
              {model.lb ? truncate(model.lb.endpointUrl.replace(/^https?:\/\//, ""), 24) : ""}
            </text>
          </g>

          {model.nodes.map((n, i) => {
            const b = layout.nodes[i];
            return b ? (
              <NodeBox key={n.id} node={n} box={b} epoch={model.epoch} thresholds={thresholds} span={span} />
            ) : null;
          })}
        </svg>
      </div>
      <figcaption className={styles.caption} data-testid="topology-summary">
        {model.summary}
        <span className={styles.legend} aria-hidden="true">
          <span className={styles.legendActive} /> carries traffic <span className={styles.legendIdle} />{" "}
          backup, ejected, drained or down
        </span>
      </figcaption>
    </figure>
  );
}
