// What the topology diagram draws, computed from the cluster's detail and its latest signals: which
// links carry traffic (the active path) and how the rest are drawn, what each node says about
// itself, and where everything sits. Pure and framework-free, so it is tested without a browser.
//
// The active path follows the load balancer's rules (server/demo/load-balancer.ts renders the same
// nginx upstream): an active-standby cluster routes to its target primary only, the standbys are
// backups; a pool routes to every member whose lbStatus is "in". Members that are ejected, drained,
// in maintenance or failed are drawn dashed.

import type { ClusterDetail, NodeView } from "@/server/api/schemas";
import type { NodeSignals } from "@/server/cluster/schemas";
import type { SeriesPoint } from "@/server/history/series";

export type LinkStatus = "active" | "backup" | "ejected" | "drained" | "down" | "maintenance";

export type TopologyNode = {
  id: string;
  name: string;
  endpoint: string;
  /** The role the control plane wants (target), as a word: primary, standby or member. */
  targetRole: "primary" | "standby" | "member";
  /** What the node itself reports on /health, newest first from the probe, else from the row. */
  reportedRole: string | null;
  /** The node reports a role that contradicts its target (e.g. a standby saying "master"). */
  roleMismatch: boolean;
  state: NodeView["state"];
  maintenance: boolean;
  link: { status: LinkStatus; active: boolean };
  signals: NodeSignals | null;
  sparkline: SeriesPoint[];
};

export type TopologyModel = {
  mode: ClusterDetail["mode"];
  epoch: number;
  lb: { name: string; endpointUrl: string; host: string } | null;
  nodes: TopologyNode[];
  /** The active path in words, for the caption and screen readers. */
  summary: string;
};

export function linkFor(
  mode: ClusterDetail["mode"],
  node: Pick<NodeView, "id" | "state" | "maintenance" | "lbStatus">,
  primaryNodeId: string | null,
): { status: LinkStatus; active: boolean } {
  if (mode === "active_standby") {
    // nginx routes to the target primary whatever the detector thinks of it: that is the point of a
    // switchover. Its state is drawn on the node itself.
    if (node.id === primaryNodeId) return { status: "active", active: true };
    if (node.maintenance) return { status: "maintenance", active: false };
    if (node.lbStatus !== "in") return { status: node.lbStatus, active: false };
    if (node.state === "failed") return { status: "down", active: false };
    return { status: "backup", active: false };
  }
  if (node.lbStatus !== "in") return { status: node.lbStatus, active: false };
  if (node.state === "failed") return { status: "down", active: false };
  if (node.maintenance) return { status: "maintenance", active: false };
  return { status: "active", active: true };
}

function targetRole(mode: ClusterDetail["mode"], node: NodeView, primaryNodeId: string | null) {
  if (mode === "active_active") return "member" as const;
  return node.id === primaryNodeId ? ("primary" as const) : ("standby" as const);
}

/** A standby that says "master", or a primary that says anything else: fencing did not hold. */
export function isRoleMismatch(role: TopologyNode["targetRole"], reported: string | null): boolean {
  if (!reported || role === "member") return false;
  return role === "primary" ? reported !== "master" : reported === "master";
}

export function buildTopology(
  detail: ClusterDetail,
  latest: {
    nodes: Array<{ id: string; latest: NodeSignals; series: { gpu_util: { points: SeriesPoint[] } } }>;
  } | null,
): TopologyModel {
  const byId = new Map((latest?.nodes ?? []).map((n) => [n.id, n]));
  const nodes = detail.nodes.map((n): TopologyNode => {
    const role = targetRole(detail.mode, n, detail.primaryNodeId);
    const live = byId.get(n.id);
    const reportedRole = live?.latest.heartbeat?.reportedRole ?? n.reportedRole;
    return {
      id: n.id,
      name: n.name,
      endpoint: `${n.host}:${n.servicePort}`,
      targetRole: role,
      reportedRole,
      roleMismatch: isRoleMismatch(role, reportedRole),
      state: n.state,
      maintenance: n.maintenance,
      link: linkFor(detail.mode, n, detail.primaryNodeId),
      signals: live?.latest ?? null,
      sparkline: live?.series.gpu_util.points ?? [],
    };
  });
  const active = nodes.filter((n) => n.link.active).map((n) => n.name);
  const entry = detail.loadBalancer?.name ?? "the endpoint";
  const summary =
    active.length === 0
      ? `Traffic: ${entry} has no active node.`
      : detail.mode === "active_standby"
        ? `Traffic: ${entry} → ${active[0]} (primary); ${nodes.length - 1} standby${nodes.length - 1 === 1 ? "" : "s"} as backup.`
        : `Traffic: ${entry} → ${active.join(", ")} (${active.length} of ${nodes.length} members in the pool).`;
  return {
    mode: detail.mode,
    epoch: detail.epoch,
    lb: detail.loadBalancer
      ? {
          name: detail.loadBalancer.name,
          endpointUrl: detail.loadBalancer.endpointUrl,
          host: detail.loadBalancer.host,
        }
      : null,
    nodes,
    summary,
  };
}

// --- layout --------------------------------------------------------------------------------------

export const LAYOUT = {
  nodeW: 250,
  nodeH: 204,
  gapX: 28,
  gapY: 36,
  lbW: 320,
  lbH: 66,
  margin: 16,
  /** Vertical room for the links between the LB and the first row. */
  linkH: 86,
} as const;

export type Box = { x: number; y: number; w: number; h: number };

/**
 * Positions in viewBox units: the LB centred on top, nodes in rows of `columns` (each row centred).
 * The SVG scales to its container, and the caller picks `columns` from the container's width, so a
 * tablet gets two columns of legible nodes instead of one shrunken row.
 */
export function layoutTopology(
  nodeCount: number,
  columns: number,
): { width: number; height: number; lb: Box; nodes: Box[] } {
  const L = LAYOUT;
  const cols = Math.max(1, Math.min(Math.floor(columns) || 1, Math.max(1, nodeCount)));
  const rows = Math.max(1, Math.ceil(nodeCount / cols));
  const rowW = cols * L.nodeW + (cols - 1) * L.gapX;
  const width = Math.max(rowW, L.lbW) + 2 * L.margin;
  const lb: Box = { x: (width - L.lbW) / 2, y: L.margin, w: L.lbW, h: L.lbH };
  const top = L.margin + L.lbH + L.linkH;
  const boxes: Box[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const row = Math.floor(i / cols);
    const inRow = Math.min(cols, nodeCount - row * cols);
    const w = inRow * L.nodeW + (inRow - 1) * L.gapX;
    const x0 = (width - w) / 2;
    boxes.push({
      x: x0 + (i % cols) * (L.nodeW + L.gapX),
      y: top + row * (L.nodeH + L.gapY),
      w: L.nodeW,
      h: L.nodeH,
    });
  }
  const height = top + rows * L.nodeH + (rows - 1) * L.gapY + L.margin;
  return { width, height, lb, nodes: boxes };
}

/**
 * An SVG path for a sparkline in a w×h box: x over [from, to], y over [0, 100] (%). A gap longer
 * than two steps starts a new segment, so missing telemetry is not drawn as a flat line.
 */
export function sparklinePath(
  points: readonly SeriesPoint[],
  box: { w: number; h: number },
  span: { from: number; to: number; stepMs: number },
): string {
  const dx = span.to - span.from;
  if (dx <= 0) return "";
  let d = "";
  let prevT: number | null = null;
  for (const p of points) {
    if (p.value === null || p.t < span.from - span.stepMs || p.t > span.to) {
      prevT = null;
      continue;
    }
    const x = Math.max(0, Math.min(box.w, ((p.t - span.from) / dx) * box.w));
    const v = Math.max(0, Math.min(100, p.value));
    const y = box.h - (v / 100) * box.h;
    const move = prevT === null || p.t - prevT > 2 * span.stepMs;
    d += `${move ? "M" : "L"}${x.toFixed(1)} ${y.toFixed(1)}`;
    prevT = p.t;
  }
  return d;
}
