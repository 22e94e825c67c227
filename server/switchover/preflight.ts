/**
 * Preflight for a manual switchover: what an on-call engineer must know before pressing "confirm",
 * computed from what the control plane already knows (no SSH, no probes: this answers in
 * milliseconds while the dialog opens; the engine's own preflight step still runs the real checks).
 *
 * Each check is ok | warn | block:
 * - block: the request would be refused or would take the service down — no standby at all, no
 *   healthy target, a switchover already in flight, a pool (nothing to switch), no primary. A block
 *   on one standby (failed, in maintenance) only rules out that target.
 * - warn: worth reading, never a reason to refuse — lost or stale GPU telemetry (the control plane's
 *   sight is not the service's health), a standby not reporting `standby`, maintenance, no load
 *   balancer, and the anti-flap guard: cooldown and freeze hold back *automatic* failover only, and
 *   the panel says so instead of pretending a manual switchover is blocked by them.
 *
 * The target the panel proposes is the one `requestSwitchover` would pick by itself: the best
 * healthy standby, not in maintenance, by priority then name.
 */
import { and, desc, eq, gt, inArray, notInArray } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "@/db/client";
import {
  clusterMode,
  clusters,
  gpuSamples,
  heartbeats,
  loadBalancers,
  nodeState,
  nodes,
  policies,
  switchovers,
  TERMINAL_SWITCHOVER_STATES,
} from "@/db/schema";
import { apiRegistry } from "@/server/api/schemas";
import { autoFailoverGuard, HOUR_MS } from "@/server/policy/alerts";
import { describeNetworkError, formatDuration, formatNumber, oneLine } from "@/server/policy/format";

/** A GPU sample older than this means the telemetry is stale (the stream runs at about 1 s). */
export const TELEMETRY_FRESH_MS = 30_000;
/** How far back to look for the latest GPU sample / heartbeat (bounds the partitions scanned). */
const GPU_LOOKBACK_MS = 2 * HOUR_MS;
const PROBE_LOOKBACK_MS = 10 * 60_000;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isoTime = z.iso.datetime();

export const CheckLevelSchema = z.enum(["ok", "warn", "block"]);
export type CheckLevel = z.infer<typeof CheckLevelSchema>;

export const PreflightCheckSchema = z
  .object({
    key: z.string().describe("Stable id, e.g. `in_flight`, `healthy`, `telemetry`."),
    level: CheckLevelSchema,
    label: z.string().describe("What is checked, in a few words."),
    detail: z.string().describe("What was found, in a sentence."),
  })
  .register(apiRegistry, { id: "PreflightCheck" });
export type PreflightCheck = z.infer<typeof PreflightCheckSchema>;

const NodeStateSchema = z.enum(nodeState.enumValues);

export const StandbyPreflightSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    priority: z.number().int(),
    state: NodeStateSchema,
    reportedRole: z.string().nullable(),
    maintenance: z.boolean(),
    lastSeenAt: isoTime.nullable(),
    lastProbe: z
      .object({
        at: isoTime,
        tcpOk: z.boolean(),
        httpOk: z.boolean(),
        httpStatus: z.number().int().nullable(),
        httpMs: z.number().nullable(),
        error: z.string().nullable(),
      })
      .nullable()
      .describe("The latest heartbeat of the last 10 minutes."),
    telemetry: z.object({
      status: z.enum(["fresh", "stale", "lost", "none"]),
      lastSampleAt: isoTime.nullable(),
      ageMs: z.number().nullable(),
      error: z.string().nullable().describe("The driver or SSH error when telemetry is lost."),
      gpus: z.array(
        z.object({
          index: z.number().int(),
          utilizationPct: z.number().nullable(),
          temperatureC: z.number().nullable(),
          memoryUsedPct: z.number().nullable(),
        }),
      ),
    }),
    checks: z.array(PreflightCheckSchema),
    level: CheckLevelSchema.describe("The worst of its checks: `block` rules it out as a target."),
    recommended: z.boolean().describe("The target a switchover without an explicit one would take."),
  })
  .register(apiRegistry, { id: "StandbyPreflight" });
export type StandbyPreflight = z.infer<typeof StandbyPreflightSchema>;

export const ClusterPreflightSchema = z
  .object({
    generatedAt: isoTime,
    cluster: z.object({
      id: z.uuid(),
      name: z.string(),
      mode: z.enum(clusterMode.enumValues),
      epoch: z.number().int().describe("The current epoch; the switchover takes the next one."),
      maintenance: z.boolean(),
      frozenUntil: isoTime.nullable(),
    }),
    primary: z
      .object({ id: z.uuid(), name: z.string(), state: NodeStateSchema, reportedRole: z.string().nullable() })
      .nullable(),
    loadBalancer: z.object({ name: z.string(), host: z.string(), endpointUrl: z.string() }).nullable(),
    inFlight: z
      .object({
        id: z.uuid(),
        kind: z.string(),
        state: z.string(),
        requestedBy: z.string(),
        requestedAt: isoTime,
      })
      .nullable(),
    checks: z.array(PreflightCheckSchema).describe("Cluster-wide checks."),
    standbys: z.array(StandbyPreflightSchema).describe("Every node but the primary, by priority."),
    recommendedTargetId: z.uuid().nullable(),
    blockers: z
      .array(z.string())
      .describe("Why no switchover can be requested now, whatever the target; empty when one can."),
  })
  .register(apiRegistry, {
    id: "ClusterPreflight",
    description: "What to know before a manual switchover: each check is ok, warn or block.",
  });
export type ClusterPreflight = z.infer<typeof ClusterPreflightSchema>;

const RANK: Record<CheckLevel, number> = { ok: 0, warn: 1, block: 2 };

export function worstLevel(checks: ReadonlyArray<{ level: CheckLevel }>): CheckLevel {
  let worst: CheckLevel = "ok";
  for (const c of checks) if (RANK[c.level] > RANK[worst]) worst = c.level;
  return worst;
}

function ago(ms: number): string {
  return ms < 1000 ? "just now" : `${formatDuration(ms)} ago`;
}

type ProbeRow = NonNullable<StandbyPreflight["lastProbe"]>;
type Telemetry = StandbyPreflight["telemetry"];

function describeProbe(p: ProbeRow | null, now: number): string {
  if (!p) return "no probe in the last 10 min";
  const when = ago(now - Date.parse(p.at));
  if (!p.tcpOk) return `last probe ${when}: TCP ${describeNetworkError(p.error) ?? "failed"}`;
  if (p.httpStatus === null)
    return `last probe ${when}: /health ${describeNetworkError(p.error) ?? "failed"}`;
  const ms = p.httpMs !== null ? ` in ${formatNumber(p.httpMs)} ms` : "";
  return `last probe ${when}: /health ${p.httpStatus}${ms}`;
}

const STATE_WORDS: Record<StandbyPreflight["state"], string> = {
  healthy: "healthy",
  unknown: "not probed yet",
  suspect: "suspect (probes failing)",
  failed: "failed",
  recovering: "recovering (not healthy long enough yet)",
};

function healthCheck(state: StandbyPreflight["state"], probe: ProbeRow | null, now: number): PreflightCheck {
  const probeText = describeProbe(probe, now);
  if (state === "healthy") {
    const text = `${probeText.charAt(0).toUpperCase()}${probeText.slice(1)}.`;
    return { key: "healthy", level: "ok", label: "Healthy", detail: text };
  }
  const why =
    state === "failed"
      ? "switching to it would take the service down"
      : "only a healthy standby can take over safely";
  return {
    key: "healthy",
    level: "block",
    label: "Healthy",
    detail: `Not healthy: ${STATE_WORDS[state]}; ${probeText}; ${why}.`,
  };
}

function roleCheck(reportedRole: string | null, primaryName: string | null): PreflightCheck {
  if (reportedRole === "standby") {
    return { key: "role", level: "ok", label: "Reports standby", detail: "Its /health says role standby." };
  }
  if (reportedRole === "master") {
    return {
      key: "role",
      level: "warn",
      label: "Reports standby",
      detail: `It reports master although ${primaryName ?? "another node"} is the primary; the switchover fences the old primary before activating it.`,
    };
  }
  return {
    key: "role",
    level: "warn",
    label: "Reports standby",
    detail:
      reportedRole === null
        ? "It has not reported a role on /health yet."
        : `It reports role ${JSON.stringify(oneLine(reportedRole))}, not standby.`,
  };
}

function telemetryCheck(t: Telemetry): PreflightCheck {
  const label = "GPU telemetry";
  const suffix = "Not a failure by itself: it says what the control plane can see, not the service's health.";
  switch (t.status) {
    case "fresh": {
      const gpus = t.gpus
        .map((g) => {
          const parts = [
            g.utilizationPct !== null ? `${formatNumber(g.utilizationPct)} %` : null,
            g.temperatureC !== null ? `${formatNumber(g.temperatureC)} °C` : null,
          ].filter(Boolean);
          return parts.length > 0 ? `GPU ${g.index}: ${parts.join(", ")}` : `GPU ${g.index}`;
        })
        .join("; ");
      return {
        key: "telemetry",
        level: "ok",
        label,
        detail: `Fresh: sample ${ago(t.ageMs ?? 0)}${gpus ? ` (${gpus})` : ""}.`,
      };
    }
    case "lost":
      return {
        key: "telemetry",
        level: "warn",
        label,
        detail: `Lost ${ago(t.ageMs ?? 0)}: ${t.error ?? "no reason given"}. ${suffix}`,
      };
    case "stale":
      return {
        key: "telemetry",
        level: "warn",
        label,
        detail: `Stale: the last GPU sample is ${ago(t.ageMs ?? 0)} (fresh means under ${formatDuration(TELEMETRY_FRESH_MS)}). ${suffix}`,
      };
    default:
      return {
        key: "telemetry",
        level: "warn",
        label,
        detail: `No GPU sample in the last ${formatDuration(GPU_LOOKBACK_MS)}. ${suffix}`,
      };
  }
}

function maintenanceCheck(maintenance: boolean): PreflightCheck {
  return maintenance
    ? {
        key: "maintenance",
        level: "block",
        label: "Not in maintenance",
        detail: "In maintenance: take it out of maintenance before making it the primary.",
      }
    : { key: "maintenance", level: "ok", label: "Not in maintenance", detail: "Available as a target." };
}

/** The latest heartbeat per node, within the lookback. */
async function latestProbes(db: DbOrTx, ids: string[], now: Date): Promise<Map<string, ProbeRow>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectDistinctOn([heartbeats.nodeId], {
      nodeId: heartbeats.nodeId,
      time: heartbeats.time,
      tcpOk: heartbeats.tcpOk,
      httpOk: heartbeats.httpOk,
      httpStatus: heartbeats.httpStatus,
      httpMs: heartbeats.httpMs,
      error: heartbeats.error,
    })
    .from(heartbeats)
    .where(
      and(inArray(heartbeats.nodeId, ids), gt(heartbeats.time, new Date(now.getTime() - PROBE_LOOKBACK_MS))),
    )
    .orderBy(heartbeats.nodeId, desc(heartbeats.time));
  return new Map(
    rows.map((r) => [
      r.nodeId,
      {
        at: r.time.toISOString(),
        tcpOk: r.tcpOk,
        httpOk: r.httpOk,
        httpStatus: r.httpStatus,
        httpMs: r.httpMs,
        error: r.error,
      },
    ]),
  );
}

/**
 * Per node, the telemetry status from the newest GPU row of each GPU: the newest row overall decides
 * (a "lost" marker newer than every reading means lost; a reading newer than the marker means the
 * stream is back), and its age decides fresh or stale.
 */
async function latestTelemetry(db: DbOrTx, ids: string[], now: Date): Promise<Map<string, Telemetry>> {
  const out = new Map<string, Telemetry>();
  for (const id of ids)
    out.set(id, { status: "none", lastSampleAt: null, ageMs: null, error: null, gpus: [] });
  if (ids.length === 0) return out;
  const rows = await db
    .selectDistinctOn([gpuSamples.nodeId, gpuSamples.gpuIndex], {
      nodeId: gpuSamples.nodeId,
      gpuIndex: gpuSamples.gpuIndex,
      time: gpuSamples.time,
      utilizationPct: gpuSamples.utilizationPct,
      temperatureC: gpuSamples.temperatureC,
      memoryUsedMib: gpuSamples.memoryUsedMib,
      memoryTotalMib: gpuSamples.memoryTotalMib,
      error: gpuSamples.error,
    })
    .from(gpuSamples)
    .where(
      and(inArray(gpuSamples.nodeId, ids), gt(gpuSamples.time, new Date(now.getTime() - GPU_LOOKBACK_MS))),
    )
    .orderBy(gpuSamples.nodeId, gpuSamples.gpuIndex, desc(gpuSamples.time));
  const byNode = new Map<string, typeof rows>();
  for (const r of rows) byNode.set(r.nodeId, [...(byNode.get(r.nodeId) ?? []), r]);
  for (const [nodeId, list] of byNode) {
    const newest = list.reduce((a, b) => (b.time > a.time ? b : a));
    const ageMs = Math.max(0, now.getTime() - newest.time.getTime());
    const status = newest.error !== null ? "lost" : ageMs < TELEMETRY_FRESH_MS ? "fresh" : "stale";
    out.set(nodeId, {
      status,
      lastSampleAt: newest.time.toISOString(),
      ageMs,
      error: newest.error !== null ? oneLine(newest.error) : null,
      gpus: list
        .filter((r) => r.error === null)
        .sort((a, b) => a.gpuIndex - b.gpuIndex)
        .map((r) => ({
          index: r.gpuIndex,
          utilizationPct: r.utilizationPct,
          temperatureC: r.temperatureC,
          memoryUsedPct:
            r.memoryUsedMib !== null && r.memoryTotalMib ? (100 * r.memoryUsedMib) / r.memoryTotalMib : null,
        })),
    });
  }
  return out;
}

/** The preflight for a cluster (by id or name), or null when there is no such cluster. */
export async function computePreflight(
  db: DbOrTx,
  clusterIdOrName: string,
  now: Date = new Date(),
): Promise<ClusterPreflight | null> {
  const [cluster] = await db
    .select()
    .from(clusters)
    .where(
      UUID_RE.test(clusterIdOrName) ? eq(clusters.id, clusterIdOrName) : eq(clusters.name, clusterIdOrName),
    );
  if (!cluster) return null;
  const nowMs = now.getTime();

  const [members, [policy], lbRows, [running], autoRows] = await Promise.all([
    db.select().from(nodes).where(eq(nodes.clusterId, cluster.id)),
    db
      .select({
        autoFailover: policies.autoFailover,
        cooldownS: policies.cooldownS,
        freezeAfterFailoversPerHour: policies.freezeAfterFailoversPerHour,
      })
      .from(policies)
      .where(eq(policies.clusterId, cluster.id)),
    cluster.loadBalancerId
      ? db
          .select({
            name: loadBalancers.name,
            host: loadBalancers.host,
            endpointUrl: loadBalancers.endpointUrl,
          })
          .from(loadBalancers)
          .where(eq(loadBalancers.id, cluster.loadBalancerId))
      : Promise.resolve([]),
    db
      .select({
        id: switchovers.id,
        kind: switchovers.kind,
        state: switchovers.state,
        requestedBy: switchovers.requestedByLabel,
        requestedAt: switchovers.requestedAt,
      })
      .from(switchovers)
      .where(
        and(
          eq(switchovers.clusterId, cluster.id),
          notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]),
        ),
      )
      .limit(1),
    // The same history the controller's guard reads: automatic failovers of the last hour.
    db
      .select({ at: switchovers.requestedAt })
      .from(switchovers)
      .where(
        and(
          eq(switchovers.clusterId, cluster.id),
          eq(switchovers.kind, "auto"),
          gt(switchovers.requestedAt, new Date(nowMs - HOUR_MS)),
        ),
      ),
  ]);
  const lb = lbRows[0] ?? null;
  const primary = members.find((n) => n.id === cluster.primaryNodeId) ?? null;
  const others = members
    .filter((n) => n.id !== primary?.id)
    .sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name));
  const ids = others.map((n) => n.id);
  const [probes, telemetry] = await Promise.all([latestProbes(db, ids, now), latestTelemetry(db, ids, now)]);

  const recommended =
    cluster.mode === "active_standby"
      ? (others.find((n) => n.state === "healthy" && !n.maintenance) ?? null)
      : null;
  const standbys: StandbyPreflight[] = others.map((n) => {
    const probe = probes.get(n.id) ?? null;
    const t = telemetry.get(n.id) ?? {
      status: "none",
      lastSampleAt: null,
      ageMs: null,
      error: null,
      gpus: [],
    };
    const checks = [
      healthCheck(n.state, probe, nowMs),
      roleCheck(n.reportedRole, primary?.name ?? null),
      telemetryCheck(t),
      maintenanceCheck(n.maintenance),
    ];
    return {
      id: n.id,
      name: n.name,
      priority: n.priority,
      state: n.state,
      reportedRole: n.reportedRole,
      maintenance: n.maintenance,
      lastSeenAt: n.lastSeenAt?.toISOString() ?? null,
      lastProbe: probe,
      telemetry: t,
      checks,
      level: worstLevel(checks),
      recommended: n.id === recommended?.id,
    };
  });

  const checks: PreflightCheck[] = [];
  if (cluster.mode !== "active_standby") {
    checks.push({
      key: "mode",
      level: "block",
      label: "Active–standby",
      detail: `${cluster.name} is an active-active pool: it has no primary to switch. Drain or readmit members instead.`,
    });
  }
  checks.push(
    running
      ? {
          key: "in_flight",
          level: "block",
          label: "No switchover in flight",
          detail: `A ${running.kind} switchover (${running.id.slice(0, 8)}, requested by ${running.requestedBy}) is in flight, state ${running.state.replaceAll("_", " ")}: wait for it to finish or abort it.`,
        }
      : {
          key: "in_flight",
          level: "ok",
          label: "No switchover in flight",
          detail: "Nothing else is moving this cluster.",
        },
  );
  if (cluster.mode === "active_standby") {
    if (!primary) {
      checks.push({
        key: "primary",
        level: "block",
        label: "Primary",
        detail: `${cluster.name} has no primary recorded; fix the inventory first.`,
      });
    } else if (primary.state === "healthy") {
      checks.push({
        key: "primary",
        level: primary.reportedRole === "master" ? "ok" : "warn",
        label: "Primary",
        detail:
          primary.reportedRole === "master"
            ? `${primary.name} is healthy and reports master: it will be degraded (fenced) first.`
            : `${primary.name} is healthy but reports ${primary.reportedRole ?? "no role"}, not master; it will be degraded (fenced) first.`,
      });
    } else {
      checks.push({
        key: "primary",
        level: "warn",
        label: "Primary",
        detail: `${primary.name} is ${STATE_WORDS[primary.state]}: degrading it may fail, and the load-balancer switch takes it out of the path anyway.`,
      });
    }
    const healthyCount = standbys.filter((s) => s.level !== "block").length;
    checks.push(
      recommended
        ? {
            key: "target",
            level: "ok",
            label: "Healthy standby",
            detail:
              healthyCount > 1
                ? `${healthyCount} standbys can take over; the best by priority is ${recommended.name}.`
                : `${recommended.name} can take over.`,
          }
        : {
            key: "target",
            level: "block",
            label: "Healthy standby",
            detail:
              others.length === 0
                ? `${cluster.name} has no standby to switch to.`
                : "No standby is healthy and out of maintenance: there is nothing safe to switch to.",
          },
    );
  }
  checks.push(
    cluster.maintenance
      ? {
          key: "maintenance",
          level: "warn",
          label: "Cluster maintenance",
          detail:
            "The cluster is in maintenance: automatic failover is paused. A manual switchover still runs.",
        }
      : { key: "maintenance", level: "ok", label: "Cluster maintenance", detail: "Not in maintenance." },
  );

  // Cooldown and freeze: asked of the controller's own guard with everything else favourable, so
  // only they can answer. They hold back automatic failover; a manual switchover is not blocked.
  const pol = policy ?? { autoFailover: true, cooldownS: 300, freezeAfterFailoversPerHour: 2 };
  const times = autoRows.map((r) => r.at.getTime());
  const guard = autoFailoverGuard({
    now: nowMs,
    lastAutoFailoverAt: times.length > 0 ? Math.max(...times) : null,
    failoverTimesMs: times,
    policy: { ...pol, autoFailover: true },
    maintenance: false,
    inFlight: false,
    standbyHealthy: true,
    frozenUntil: cluster.frozenUntil?.getTime() ?? null,
  });
  const autoOff = pol.autoFailover ? "" : " Automatic failover is off in the policy.";
  if (!guard.allowed && (guard.reason === "frozen" || guard.reason === "cooldown")) {
    checks.push({
      key: guard.reason === "frozen" ? "freeze" : "cooldown",
      level: "warn",
      label: "Cooldown / freeze",
      detail: `${guard.message} This holds back automatic failover only: a manual switchover is not blocked by ${guard.reason === "frozen" ? "the freeze" : "the cooldown"}.${autoOff}`,
    });
  } else {
    checks.push({
      key: "cooldown",
      level: "ok",
      label: "Cooldown / freeze",
      detail: `No cooldown or freeze is active.${autoOff}`,
    });
  }

  checks.push(
    lb
      ? {
          key: "load_balancer",
          level: "ok",
          label: "Load balancer",
          detail: `nginx on ${lb.name} (${lb.host}) is switched; clients use ${lb.endpointUrl}.`,
        }
      : {
          key: "load_balancer",
          level: "warn",
          label: "Load balancer",
          detail:
            "No load balancer is configured: the traffic switch is skipped and clients must find the new primary themselves.",
        },
  );

  return {
    generatedAt: now.toISOString(),
    cluster: {
      id: cluster.id,
      name: cluster.name,
      mode: cluster.mode,
      epoch: cluster.epoch,
      maintenance: cluster.maintenance,
      frozenUntil: cluster.frozenUntil?.toISOString() ?? null,
    },
    primary: primary
      ? { id: primary.id, name: primary.name, state: primary.state, reportedRole: primary.reportedRole }
      : null,
    loadBalancer: lb,
    inFlight: running
      ? {
          id: running.id,
          kind: running.kind,
          state: running.state,
          requestedBy: running.requestedBy,
          requestedAt: running.requestedAt.toISOString(),
        }
      : null,
    checks,
    standbys,
    recommendedTargetId: recommended?.id ?? null,
    blockers: checks.filter((c) => c.level === "block").map((c) => c.detail),
  };
}
