import { describe, expect, it } from "vitest";
import type { ClusterDetail, NodeView } from "@/server/api/schemas";
import { buildTopology, isRoleMismatch, LAYOUT, layoutTopology, linkFor, sparklinePath } from "./model";

const T = "2026-07-08T00:00:00.000Z";
function node(over: Partial<NodeView> & Pick<NodeView, "id" | "name">): NodeView {
  return {
    clusterId: "c",
    clusterName: "c",
    host: "10.0.0.1",
    sshPort: 22,
    servicePort: 8000,
    healthPath: "/health",
    role: "standby",
    isPrimary: false,
    state: "healthy",
    reportedRole: null,
    priority: 0,
    weight: 1,
    maintenance: false,
    lbStatus: "in",
    hostKeyFingerprint: null,
    stateChangedAt: T,
    lastSeenAt: null,
    ...over,
  };
}

function detail(over: Partial<ClusterDetail>): ClusterDetail {
  return {
    id: "c",
    name: "gte-pro-search",
    description: "",
    mode: "active_standby",
    slaTargetPct: 99.9,
    primaryNodeId: "a",
    primary: "gte-a",
    epoch: 3,
    maintenance: false,
    frozenUntil: null,
    nodeCount: 2,
    healthyNodes: 2,
    status: "healthy",
    createdAt: T,
    updatedAt: T,
    nodes: [],
    policy: null,
    loadBalancer: {
      id: "lb",
      name: "lb-gte",
      host: "10.0.0.9",
      endpointUrl: "http://10.0.0.9/",
      hostKeyFingerprint: null,
    },
    inFlightSwitchover: null,
    ...over,
  };
}

describe("linkFor", () => {
  const base = { id: "x", state: "healthy" as const, maintenance: false, lbStatus: "in" as const };
  it("active-standby: only the primary carries traffic, even when failed; standbys are backups", () => {
    expect(linkFor("active_standby", { ...base, id: "p" }, "p")).toEqual({ status: "active", active: true });
    expect(linkFor("active_standby", { ...base, id: "p", state: "failed" }, "p").active).toBe(true);
    expect(linkFor("active_standby", base, "p")).toEqual({ status: "backup", active: false });
    expect(linkFor("active_standby", { ...base, state: "failed" }, "p").status).toBe("down");
    expect(linkFor("active_standby", { ...base, maintenance: true }, "p").status).toBe("maintenance");
    expect(linkFor("active_standby", base, null).active).toBe(false);
  });
  it("pools: every member that is in and not failed; ejected, drained and down are not", () => {
    expect(linkFor("active_active", base, null)).toEqual({ status: "active", active: true });
    expect(linkFor("active_active", { ...base, lbStatus: "ejected" }, null)).toEqual({
      status: "ejected",
      active: false,
    });
    expect(linkFor("active_active", { ...base, lbStatus: "drained" }, null).status).toBe("drained");
    expect(linkFor("active_active", { ...base, state: "failed" }, null).status).toBe("down");
  });
});

describe("buildTopology", () => {
  it("draws LB → primary for active-standby and names it", () => {
    const t = buildTopology(
      detail({
        nodes: [
          node({ id: "a", name: "gte-a", role: "primary", isPrimary: true, reportedRole: "master" }),
          node({ id: "b", name: "gte-b", reportedRole: "master" }),
        ],
      }),
      null,
    );
    expect(t.nodes.map((n) => [n.name, n.targetRole, n.link.active])).toEqual([
      ["gte-a", "primary", true],
      ["gte-b", "standby", false],
    ]);
    expect(t.summary).toBe("Traffic: lb-gte → gte-a (primary); 1 standby as backup.");
    // A standby that claims master: fencing did not hold, and the diagram says so.
    expect(t.nodes.map((n) => n.roleMismatch)).toEqual([false, true]);
  });

  it("draws LB → every member in the pool, and takes the reported role from the newest probe", () => {
    const t = buildTopology(
      detail({
        mode: "active_active",
        primaryNodeId: null,
        loadBalancer: null,
        nodes: [
          node({ id: "1", name: "m1", role: "member" }),
          node({ id: "2", name: "m2", role: "member", lbStatus: "ejected", state: "failed" }),
          node({ id: "3", name: "m3", role: "member" }),
        ],
      }),
      {
        nodes: [
          {
            id: "1",
            latest: {
              heartbeat: {
                at: T,
                tcpOk: true,
                tcpMs: 1,
                httpOk: true,
                httpStatus: 200,
                httpMs: 9,
                reportedRole: "member",
                error: null,
              },
              gpu: { status: "none", at: null, reason: null, gpus: [] },
            },
            series: { gpu_util: { points: [{ t: 1, value: 5, max: 5 }] } },
          },
        ],
      },
    );
    expect(t.nodes.filter((n) => n.link.active).map((n) => n.name)).toEqual(["m1", "m3"]);
    expect(t.summary).toBe("Traffic: the endpoint → m1, m3 (2 of 3 members in the pool).");
    expect(t.nodes[0]?.reportedRole).toBe("member");
    expect(t.nodes[0]?.sparkline).toHaveLength(1);
    expect(t.nodes[1]?.signals).toBeNull();
  });

  it("role mismatches", () => {
    expect(isRoleMismatch("primary", "standby")).toBe(true);
    expect(isRoleMismatch("primary", "master")).toBe(false);
    expect(isRoleMismatch("standby", null)).toBe(false);
    expect(isRoleMismatch("member", "master")).toBe(false);
  });
});

describe("layoutTopology", () => {
  it("centres the LB over rows of at most `columns` nodes that never overlap", () => {
    for (const [count, columns] of [
      [1, 4],
      [2, 4],
      [3, 2],
      [8, 4],
      [5, 1],
    ] as const) {
      const l = layoutTopology(count, columns);
      expect(l.nodes).toHaveLength(count);
      expect(l.lb.x + l.lb.w / 2).toBeCloseTo(l.width / 2);
      for (const b of l.nodes) {
        expect(b.x).toBeGreaterThanOrEqual(0);
        expect(b.x + b.w).toBeLessThanOrEqual(l.width);
        expect(b.y + b.h).toBeLessThanOrEqual(l.height);
        expect(b.y).toBeGreaterThan(l.lb.y + l.lb.h);
      }
      for (let i = 1; i < l.nodes.length; i++) {
        const p = l.nodes[i - 1];
        const b = l.nodes[i];
        if (p && b && p.y === b.y) expect(b.x - (p.x + p.w)).toBe(LAYOUT.gapX);
      }
      const rows = new Set(l.nodes.map((b) => b.y)).size;
      expect(rows).toBe(Math.ceil(count / Math.min(columns, count)));
    }
  });
});

describe("sparklinePath", () => {
  const span = { from: 0, to: 100, stepMs: 10 };
  it("scales time to x and 0–100 % to y (up)", () => {
    expect(
      sparklinePath(
        [
          { t: 0, value: 0, max: 0 },
          { t: 100, value: 100, max: 100 },
        ],
        { w: 50, h: 20 },
        { ...span, stepMs: 100 },
      ),
    ).toBe("M0.0 20.0L50.0 0.0");
  });
  it("breaks the line at a gap and at a null instead of drawing through it", () => {
    const d = sparklinePath(
      [
        { t: 0, value: 10, max: 10 },
        { t: 10, value: 10, max: 10 },
        { t: 60, value: 10, max: 10 },
        { t: 70, value: null, max: null },
        { t: 80, value: 10, max: 10 },
      ],
      { w: 100, h: 10 },
      span,
    );
    expect(d.match(/M/g)).toHaveLength(3);
    expect(sparklinePath([], { w: 10, h: 10 }, span)).toBe("");
  });
});
