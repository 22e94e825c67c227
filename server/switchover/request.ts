/**
 * Asking for a switchover: validate, insert a `requested` row, audit it and NOTIFY the leader, all
 * in one transaction. The caller gets the id at once; the controller's executor picks the row up
 * through LISTEN (no polling delay) and drives it (engine.ts).
 *
 * "At most one switchover in flight per cluster" is the partial unique index on switchovers; a
 * second request while one runs loses that race in the database and gets SwitchoverInFlightError
 * naming the one in flight, whatever the callers did in code.
 */
import { and, desc, eq, notInArray, sql } from "drizzle-orm";
import type { Db, DbOrTx } from "@/db/client";
import { clusters, nodes, switchovers, TERMINAL_SWITCHOVER_STATES } from "@/db/schema";
import { type AuditEntry, appendAudit } from "@/server/audit/append";
import { recordEvent } from "@/server/notify/events";

/** The leader LISTENs here; the payload is the switchover id. */
export const SWITCHOVER_CHANNEL = "switchyard_switchovers";

export type Actor = { userId?: string | null; label: string; role: string; address?: string | null };

export type SwitchoverRequestKind = "manual" | "auto" | "drill";
export type PoolChangeKind = "eject" | "readmit" | "drain";

export class SwitchoverRequestError extends Error {
  override name = "SwitchoverRequestError";
  constructor(
    readonly code: "not_found" | "invalid" | "in_flight" | "not_allowed",
    message: string,
    readonly inFlightId: string | null = null,
  ) {
    super(message);
  }
}

const MAX_REASON = 500;

function cleanReason(reason: string): string {
  const r = reason.trim();
  if (r.length === 0)
    throw new SwitchoverRequestError("invalid", "A reason is required: say why you switch over.");
  if (r.length > MAX_REASON) {
    throw new SwitchoverRequestError(
      "invalid",
      `The reason is too long (${r.length} > ${MAX_REASON} characters).`,
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\0-\x08\x0b-\x1f\x7f]/.test(r)) {
    throw new SwitchoverRequestError("invalid", "The reason contains control characters.");
  }
  return r;
}

async function inFlightFor(db: DbOrTx, clusterId: string) {
  const [row] = await db
    .select({ id: switchovers.id, state: switchovers.state, kind: switchovers.kind })
    .from(switchovers)
    .where(
      and(
        eq(switchovers.clusterId, clusterId),
        notInArray(switchovers.state, [...TERMINAL_SWITCHOVER_STATES]),
      ),
    )
    .limit(1);
  return row ?? null;
}

function inFlightError(row: { id: string; state: string; kind: string }): SwitchoverRequestError {
  return new SwitchoverRequestError(
    "in_flight",
    `A ${row.kind} switchover (${row.id.slice(0, 8)}) is already in flight for this cluster (state ${row.state}); wait for it to finish or abort it.`,
    row.id,
  );
}

function isUniqueViolation(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === "object"; i++) {
    if ((e as { code?: unknown }).code === "23505") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The one way a request is written: the `requested` row, its audit entry and its event in the
 * caller's transaction, and the NOTIFY the leader's executor listens for (sent on commit).
 */
async function insertRequest(
  tx: DbOrTx,
  r: {
    clusterId: string;
    kind: SwitchoverRequestKind | PoolChangeKind;
    fromNodeId: string;
    toNodeId: string;
    actor: Actor;
    reason: string;
    evidence: unknown;
    /** The audit entry's action and target; targetId defaults to the new switchover. */
    audit: Pick<AuditEntry, "action" | "targetType" | "before" | "after"> & { targetId?: string };
    event: { severity: "info" | "warning"; message: string; nodeId?: string };
  },
): Promise<{ id: string }> {
  const [row] = await tx
    .insert(switchovers)
    .values({
      clusterId: r.clusterId,
      kind: r.kind,
      state: "requested",
      fromNodeId: r.fromNodeId,
      toNodeId: r.toNodeId,
      requestedBy: r.actor.userId ?? null,
      requestedByLabel: r.actor.label,
      reason: r.reason,
      evidence: r.evidence ?? null,
    })
    .returning({ id: switchovers.id });
  if (!row) throw new Error("switchover insert returned no row");
  await appendAudit(tx, {
    actorUserId: r.actor.userId ?? null,
    actorLabel: r.actor.label,
    actorRole: r.actor.role,
    address: r.actor.address ?? null,
    ...r.audit,
    targetId: r.audit.targetId ?? row.id,
    clusterId: r.clusterId,
    reason: r.reason,
  });
  await recordEvent(tx, {
    kind: "switchover.requested",
    severity: r.event.severity,
    clusterId: r.clusterId,
    nodeId: r.event.nodeId ?? null,
    switchoverId: row.id,
    message: r.event.message,
  });
  await tx.execute(sql`select pg_notify(${SWITCHOVER_CHANNEL}, ${row.id})`);
  return { id: row.id };
}

export type RequestSwitchoverInput = {
  /** Cluster id or name. */
  cluster: string;
  /** Node id or name; omitted = the best standby (healthy first, then by priority). */
  target?: string | null;
  reason: string;
  kind: SwitchoverRequestKind;
  actor: Actor;
  evidence?: unknown;
};

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates and records a switchover request; returns its id. Throws SwitchoverRequestError. */
export async function requestSwitchover(db: Db, input: RequestSwitchoverInput): Promise<{ id: string }> {
  const reason = cleanReason(input.reason);
  try {
    return await db.transaction(async (tx) => {
      const clusterWhere = UUID_RE.test(input.cluster)
        ? eq(clusters.id, input.cluster)
        : eq(clusters.name, input.cluster);
      const [cluster] = await tx.select().from(clusters).where(clusterWhere).for("update");
      if (!cluster)
        throw new SwitchoverRequestError("not_found", `No cluster named ${JSON.stringify(input.cluster)}.`);
      if (cluster.mode !== "active_standby") {
        throw new SwitchoverRequestError(
          "not_allowed",
          `${cluster.name} is an active-active pool: it has no primary to switch. Drain or readmit members instead.`,
        );
      }
      const running = await inFlightFor(tx, cluster.id);
      if (running) throw inFlightError(running);
      const members = await tx.select().from(nodes).where(eq(nodes.clusterId, cluster.id));
      const primary = members.find((n) => n.id === cluster.primaryNodeId) ?? null;
      if (!primary) {
        throw new SwitchoverRequestError(
          "invalid",
          `${cluster.name} has no primary recorded; fix the inventory first.`,
        );
      }
      let target: (typeof members)[number] | undefined;
      if (input.target) {
        target = members.find((n) => n.id === input.target || n.name === input.target);
        if (!target) {
          throw new SwitchoverRequestError(
            "not_found",
            `${JSON.stringify(input.target)} is not a node of ${cluster.name}.`,
          );
        }
        if (target.id === primary.id) {
          throw new SwitchoverRequestError(
            "invalid",
            `${target.name} is already the primary of ${cluster.name}.`,
          );
        }
        if (target.maintenance) {
          throw new SwitchoverRequestError("invalid", `${target.name} is in maintenance; take it out first.`);
        }
      } else {
        const rank = (s: string) => (s === "healthy" ? 0 : s === "recovering" || s === "unknown" ? 1 : 2);
        target = members
          .filter((n) => n.id !== primary.id && !n.maintenance)
          .sort(
            (a, b) =>
              rank(a.state) - rank(b.state) || a.priority - b.priority || a.name.localeCompare(b.name),
          )[0];
        if (!target) {
          throw new SwitchoverRequestError("invalid", `${cluster.name} has no standby to switch to.`);
        }
      }
      return await insertRequest(tx, {
        clusterId: cluster.id,
        kind: input.kind,
        fromNodeId: primary.id,
        toNodeId: target.id,
        actor: input.actor,
        reason,
        evidence: input.evidence,
        audit: {
          action: `switchover.request.${input.kind}`,
          targetType: "switchover",
          before: { primary: primary.name, epoch: cluster.epoch },
          after: { target: target.name },
        },
        event: {
          severity: input.kind === "auto" ? "warning" : "info",
          message: `${input.kind} switchover of ${cluster.name} requested by ${input.actor.label}: ${primary.name} → ${target.name} (${reason})`,
        },
      });
    });
  } catch (err) {
    if (err instanceof SwitchoverRequestError) throw err;
    if (isUniqueViolation(err)) {
      // Lost the race to the partial unique index: name the winner.
      const [c] = await db
        .select({ id: clusters.id })
        .from(clusters)
        .where(
          UUID_RE.test(input.cluster) ? eq(clusters.id, input.cluster) : eq(clusters.name, input.cluster),
        );
      const running = c ? await inFlightFor(db, c.id) : null;
      if (running) throw inFlightError(running);
      throw new SwitchoverRequestError("in_flight", "A switchover is already in flight for this cluster.");
    }
    throw err;
  }
}

export type RequestPoolChangeInput = {
  node: string;
  kind: PoolChangeKind;
  reason: string;
  actor: Actor;
  evidence?: unknown;
};

/** Ejects, readmits or drains one member of an active-active pool (same journal and guarantees). */
export async function requestPoolChange(db: Db, input: RequestPoolChangeInput): Promise<{ id: string }> {
  const reason = cleanReason(input.reason);
  try {
    return await db.transaction(async (tx) => {
      const [node] = await tx
        .select()
        .from(nodes)
        .where(UUID_RE.test(input.node) ? eq(nodes.id, input.node) : eq(nodes.name, input.node));
      if (!node)
        throw new SwitchoverRequestError("not_found", `No node named ${JSON.stringify(input.node)}.`);
      const [cluster] = await tx.select().from(clusters).where(eq(clusters.id, node.clusterId)).for("update");
      if (!cluster) throw new SwitchoverRequestError("not_found", "The node's cluster is gone.");
      if (
        cluster.mode !== "active_active" &&
        (input.kind !== "readmit" || node.id === cluster.primaryNodeId)
      ) {
        throw new SwitchoverRequestError(
          "not_allowed",
          `${cluster.name} is active-standby: switch its primary over instead of ejecting members.`,
        );
      }
      const running = await inFlightFor(tx, cluster.id);
      if (running) throw inFlightError(running);
      return await insertRequest(tx, {
        clusterId: cluster.id,
        kind: input.kind,
        fromNodeId: node.id,
        toNodeId: node.id,
        actor: input.actor,
        reason,
        evidence: input.evidence,
        audit: {
          action: `pool.${input.kind}`,
          targetType: "node",
          targetId: node.id,
          before: { lbStatus: node.lbStatus },
        },
        event: {
          severity: input.kind === "eject" ? "warning" : "info",
          nodeId: node.id,
          message: `${input.kind} of ${node.name} from ${cluster.name} requested by ${input.actor.label} (${reason})`,
        },
      });
    });
  } catch (err) {
    if (err instanceof SwitchoverRequestError) throw err;
    if (isUniqueViolation(err)) {
      throw new SwitchoverRequestError("in_flight", "A switchover is already in flight for this cluster.");
    }
    throw err;
  }
}

/** An admin's way out of a stuck switchover: marks it aborted (terminal), audited. The executor
 * notices at its next step and stops; nothing is rolled back automatically. */
export async function abortSwitchover(
  db: Db,
  input: { id: string; reason: string; actor: Actor },
): Promise<{ state: string }> {
  const reason = cleanReason(input.reason);
  return await db.transaction(async (tx) => {
    const [row] = await tx.select().from(switchovers).where(eq(switchovers.id, input.id)).for("update");
    if (!row) throw new SwitchoverRequestError("not_found", "No such switchover.");
    if ((TERMINAL_SWITCHOVER_STATES as readonly string[]).includes(row.state)) {
      throw new SwitchoverRequestError("invalid", `The switchover already ended (${row.state}).`);
    }
    await tx
      .update(switchovers)
      .set({
        state: "aborted",
        error: `aborted by ${input.actor.label}: ${reason}`,
        finishedAt: new Date(),
        updatedAt: new Date(),
      })
      .where(eq(switchovers.id, row.id));
    await appendAudit(tx, {
      actorUserId: input.actor.userId ?? null,
      actorLabel: input.actor.label,
      actorRole: input.actor.role,
      address: input.actor.address ?? null,
      action: "switchover.abort",
      targetType: "switchover",
      targetId: row.id,
      clusterId: row.clusterId,
      reason,
      before: { state: row.state },
      after: { state: "aborted" },
      epoch: row.epoch,
    });
    await recordEvent(tx, {
      kind: "switchover.aborted",
      severity: "warning",
      clusterId: row.clusterId,
      switchoverId: row.id,
      message: `switchover ${row.id.slice(0, 8)} aborted by ${input.actor.label} in state ${row.state}: ${reason}`,
    });
    await tx.execute(sql`select pg_notify(${SWITCHOVER_CHANNEL}, ${row.id})`);
    return { state: "aborted" };
  });
}

/** The latest switchovers of a cluster (history, guards). */
export async function recentSwitchovers(db: DbOrTx, clusterId: string, limit = 50) {
  return await db
    .select()
    .from(switchovers)
    .where(eq(switchovers.clusterId, clusterId))
    .orderBy(desc(switchovers.requestedAt))
    .limit(limit);
}
