/**
 * Settings → playbooks. Per kind, the editor shows the active version (the latest `default-<kind>`,
 * the one the controller runs) as JSON text; an admin edits it, validates it, dry-runs it and saves
 * it as the next version. All checking is server/switchover/playbook.ts's (`parsePlaybookText`,
 * with a line and column for every problem); this module only adds that the per-kind editor saves
 * the playbook the controller will actually run (name `default-<kind>`, kind `<kind>`).
 *
 * The dry run renders every command with the values a switchover of a chosen cluster would use now
 * (its primary, its best standby, its load balancer, the next epoch, its verify deadline) through
 * the same `renderCommand` the engine uses, and runs nothing. A step that cannot render shows the
 * TemplateError it would fail with; a step the engine would skip says why.
 */
import { asc, desc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "@/db/client";
import { clusters, loadBalancers, nodes, playbooks, users } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import { renderUpstream, type UpstreamMember } from "@/server/lb/nginx-config";
import { notifyInventoryChanged } from "@/server/notify/events";
import { DEFAULT_POLICY } from "@/server/policy/presets";
import { DEFAULT_PLAYBOOKS } from "@/server/switchover/default-playbooks";
import {
  ALLOWED_TARGETS,
  activePlaybookName,
  jsonPathKey,
  PLAYBOOK_KINDS,
  type PlaybookDocument,
  type PlaybookError,
  type PlaybookKind,
  parseJsonWithLocations,
  parsePlaybookText,
  savePlaybookVersion,
} from "@/server/switchover/playbook";
import {
  renderCommand,
  type StepTarget,
  TEMPLATE_VARIABLES,
  TemplateError,
  type TemplateValues,
  type VariableName,
} from "@/server/switchover/template";
import { type FieldIssue, invalidInput, notFound, parseInput, SettingsError } from "./errors";
import type { AuditWho } from "./inventory";

export type PlaybookVersionView = {
  kind: PlaybookKind;
  name: string;
  /** null: nothing stored yet (the controller installs the built-in version 1 when it starts). */
  version: number | null;
  builtIn: boolean;
  createdAt: string | null;
  createdBy: string | null;
  text: string;
  allowedTargets: readonly StepTarget[];
};

export type PlaybookVariableView = { name: VariableName; scope: string; description: string };

export type PlaybookSettings = {
  playbooks: PlaybookVersionView[];
  variables: PlaybookVariableView[];
  /** For the dry run's cluster picker. */
  clusters: { id: string; name: string; mode: "active_standby" | "active_active" }[];
};

const KIND_SCHEMA = z.enum(PLAYBOOK_KINDS, { error: `Pick a playbook kind: ${PLAYBOOK_KINDS.join(", ")}.` });
const TEXT_SCHEMA = z.string({ error: "Playbook text is required." });

/** The text the editor shows: the document as a switchover reads it. */
export function playbookText(doc: Pick<PlaybookDocument, "name" | "kind" | "steps">): string {
  return `${JSON.stringify({ name: doc.name, kind: doc.kind, steps: doc.steps }, null, 2)}\n`;
}

export async function listPlaybookSettings(db: DbOrTx): Promise<PlaybookSettings> {
  const names = PLAYBOOK_KINDS.map(activePlaybookName);
  const rows = await db
    .selectDistinctOn([playbooks.name], {
      name: playbooks.name,
      kind: playbooks.kind,
      version: playbooks.version,
      steps: playbooks.steps,
      builtIn: playbooks.builtIn,
      createdAt: playbooks.createdAt,
      createdBy: users.username,
    })
    .from(playbooks)
    .leftJoin(users, eq(users.id, playbooks.createdBy))
    .where(inArray(playbooks.name, names))
    .orderBy(playbooks.name, desc(playbooks.version));
  const byName = new Map(rows.map((r) => [r.name, r]));
  const clusterRows = await db
    .select({ id: clusters.id, name: clusters.name, mode: clusters.mode })
    .from(clusters)
    .orderBy(asc(clusters.name));
  return {
    clusters: clusterRows,
    playbooks: PLAYBOOK_KINDS.map((kind) => {
      const name = activePlaybookName(kind);
      const row = byName.get(name);
      const builtIn = DEFAULT_PLAYBOOKS.find((d) => d.name === name);
      return {
        kind,
        name,
        version: row?.version ?? null,
        builtIn: row ? row.builtIn : true,
        createdAt: row?.createdAt.toISOString() ?? null,
        createdBy: row?.createdBy ?? null,
        text: row
          ? playbookText({ name, kind, steps: row.steps })
          : builtIn
            ? playbookText(builtIn)
            : playbookText({ name, kind, steps: [] }),
        allowedTargets: ALLOWED_TARGETS[kind],
      };
    }),
    variables: (Object.keys(TEMPLATE_VARIABLES) as VariableName[]).map((name) => ({
      name,
      scope: TEMPLATE_VARIABLES[name].scope,
      description: TEMPLATE_VARIABLES[name].description,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Checking

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

export type PlaybookCheck = { ok: true; playbook: PlaybookDocument } | { ok: false; errors: PlaybookError[] };

/**
 * parsePlaybookText, plus: this editor saves the playbook the controller runs for `kind`, so the
 * document must be named `default-<kind>` and be of that kind (pointed at like any other error).
 */
export function checkPlaybookText(text: string, kind: PlaybookKind): PlaybookCheck {
  const result = parsePlaybookText(text);
  if (!result.ok) return result;
  const located = parseJsonWithLocations(text);
  const at = (key: string) => lineColumn(text, located.locations.get(jsonPathKey([key]))?.start ?? 0);
  const errors: PlaybookError[] = [];
  const name = activePlaybookName(kind);
  if (result.playbook.kind !== kind) {
    errors.push({
      ...at("kind"),
      path: "kind",
      message: `this is the ${kind} editor: kind must be "${kind}" (got "${result.playbook.kind}")`,
    });
  }
  if (result.playbook.name !== name) {
    errors.push({
      ...at("name"),
      path: "name",
      message: `the controller runs the playbook named "${name}" for ${kind}; save under that name (got "${result.playbook.name}")`,
    });
  }
  errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return errors.length > 0 ? { ok: false, errors } : result;
}

export function playbookIssues(errors: readonly PlaybookError[]): FieldIssue[] {
  return errors.map((e) => ({
    field: "text",
    line: e.line,
    column: e.column,
    message: e.path ? `${e.path}: ${e.message}` : e.message,
  }));
}

function checked(input: { kind: PlaybookKind; text: string }): PlaybookDocument {
  const result = checkPlaybookText(input.text, input.kind);
  if (!result.ok) {
    const n = result.errors.length;
    const first = result.errors[0];
    throw invalidInput(
      playbookIssues(result.errors),
      `The playbook has ${n} ${n === 1 ? "problem" : "problems"}` +
        (first ? ` (the first at line ${first.line}, column ${first.column})` : "") +
        "; nothing was saved.",
    );
  }
  return result.playbook;
}

/** Validates editor text; throws SettingsError("invalid") with a line and column per problem. */
export function validatePlaybookInput(input: unknown): { kind: PlaybookKind; steps: number } {
  const v = parseInput(z.object({ kind: KIND_SCHEMA, text: TEXT_SCHEMA }), input);
  const doc = checked(v);
  return { kind: v.kind, steps: doc.steps.length };
}

// ---------------------------------------------------------------------------------------------
// Saving

/** Saves the editor's text as the next version of `default-<kind>`, audited. */
export async function savePlaybookText(
  db: DbOrTx,
  who: AuditWho,
  input: unknown,
): Promise<{ name: string; kind: PlaybookKind; version: number }> {
  const v = parseInput(
    z.object({
      kind: KIND_SCHEMA,
      text: TEXT_SCHEMA,
      /** The version the editor was opened on (null: none stored); a newer one stored meanwhile is refused. */
      expectedVersion: z.number().int().nullable().optional(),
    }),
    input,
  );
  const doc = checked(v);
  return await db.transaction(async (tx) => {
    const [latest] = await tx
      .select({ version: playbooks.version })
      .from(playbooks)
      .where(eq(playbooks.name, doc.name))
      .orderBy(desc(playbooks.version))
      .limit(1)
      .for("update");
    const current = latest?.version ?? null;
    if (v.expectedVersion !== undefined && v.expectedVersion !== current) {
      throw new SettingsError(
        "conflict",
        `${doc.name} is at version ${current ?? "none"} now, not ${v.expectedVersion ?? "none"}: someone saved meanwhile. Reload it and apply your change again.`,
      );
    }
    const saved = await savePlaybookVersion(tx, doc, who.actorUserId ?? undefined);
    await appendAudit(tx, {
      ...who,
      action: "playbook.save",
      targetType: "playbook",
      targetId: saved.id,
      before: current === null ? null : { name: doc.name, version: current },
      after: {
        name: saved.name,
        kind: saved.kind,
        version: saved.version,
        steps: doc.steps.map((s) => ({ name: s.name, target: s.target, onFailure: s.onFailure })),
      },
    });
    // Switchovers load playbooks when they start; the NOTIFY lets controllers drop any cache.
    await notifyInventoryChanged(tx, null);
    return { name: saved.name, kind: saved.kind, version: saved.version };
  });
}

// ---------------------------------------------------------------------------------------------
// Dry run

export type DryRunStep = {
  index: number;
  name: string;
  target: StepTarget;
  /** The node or load balancer it would run on. */
  on: string | null;
  timeoutMs: number;
  onFailure: string;
  expectExitCode: number;
  command: string | null;
  error: { message: string; variable: string | null } | null;
  /** Why the engine would skip it (no load balancer, no such node). */
  skipped: string | null;
};

export type DryRunResult = {
  cluster: string;
  kind: PlaybookKind;
  epoch: number;
  roles: {
    oldPrimary: string | null;
    newPrimary: string | null;
    member: string | null;
    loadBalancer: string | null;
  };
  values: Partial<Record<VariableName, string>>;
  notes: string[];
  steps: DryRunStep[];
};

/** An example switchover id: the dry run has no switchover row. */
export const DRY_RUN_SWITCHOVER_ID = "00000000-0000-4000-8000-000000000000";

type NodeRow = typeof nodes.$inferSelect;

export async function dryRunPlaybook(db: DbOrTx, input: unknown): Promise<DryRunResult> {
  const v = parseInput(
    z.object({ kind: KIND_SCHEMA, text: TEXT_SCHEMA, clusterId: z.uuid({ error: "Pick a cluster." }) }),
    input,
  );
  const doc = checked(v);
  const cluster = await db.query.clusters.findFirst({
    where: eq(clusters.id, v.clusterId),
    with: { nodes: { orderBy: [asc(nodes.priority), asc(nodes.name)] }, policy: true },
  });
  if (!cluster) throw notFound("This cluster");
  const [lb] = cluster.loadBalancerId
    ? await db.select().from(loadBalancers).where(eq(loadBalancers.id, cluster.loadBalancerId))
    : [];
  const notes: string[] = [];
  const epoch = cluster.epoch + 1;
  const members = cluster.nodes;
  const usable = members.filter((n) => !n.maintenance);

  let oldPrimary: NodeRow | null = null;
  let newPrimary: NodeRow | null = null;
  let member: NodeRow | null = null;
  if (cluster.mode === "active_standby") {
    const primary = members.find((n) => n.id === cluster.primaryNodeId) ?? null;
    const standby = usable.find((n) => n.id !== cluster.primaryNodeId) ?? null;
    if (!primary) notes.push(`${cluster.name} has no primary recorded: old_primary steps are skipped.`);
    if (!standby)
      notes.push(`${cluster.name} has no standby out of maintenance: new_primary steps are skipped.`);
    // A rollback restores the original primary (new_primary) and fences the standby that failed.
    [oldPrimary, newPrimary] = v.kind === "rollback" ? [standby, primary] : [primary, standby];
    if (v.kind === "rollback") {
      notes.push("Rollback: new_primary is the primary being restored, old_primary the standby that failed.");
    }
  } else {
    member = usable[0] ?? members[0] ?? null;
    const primary = members.find((n) => n.id === cluster.primaryNodeId) ?? null;
    oldPrimary = member;
    newPrimary = primary ?? member;
    if (member)
      notes.push(`${cluster.name} is a pool: member steps use ${member.name} as the example member.`);
    else notes.push(`${cluster.name} has no members: member steps are skipped.`);
  }

  const values: TemplateValues = {
    cluster_name: cluster.name,
    epoch,
    switchover_id: DRY_RUN_SWITCHOVER_ID,
    verify_deadline_ms: cluster.policy?.verifyDeadlineMs ?? DEFAULT_POLICY.verifyDeadlineMs,
  };
  if (oldPrimary) {
    values.old_primary_name = oldPrimary.name;
    values.old_primary_host = oldPrimary.host;
    values.old_primary_port = oldPrimary.servicePort;
  }
  if (newPrimary) {
    values.new_primary_name = newPrimary.name;
    values.new_primary_host = newPrimary.host;
    values.new_primary_port = newPrimary.servicePort;
  }
  if (lb) {
    values.lb_endpoint_url = lb.endpointUrl;
    values.upstream_path = lb.upstreamConfigPath;
    values.nginx_bin = lb.nginxBin;
    values.nginx_conf = lb.nginxConfPath ?? "";
    try {
      values.upstream_config = renderUpstream({
        clusterName: cluster.name,
        mode: cluster.mode === "active_active" ? "active-active" : "active-standby",
        epoch,
        members: members.map((m): UpstreamMember => {
          let state: UpstreamMember["state"];
          if (cluster.mode === "active_active") {
            const serving = m.lbStatus === "in" && !m.maintenance;
            state =
              member && m.id === member.id && (v.kind === "drain" || v.kind === "readmit")
                ? v.kind === "drain"
                  ? "down"
                  : "active"
                : serving
                  ? "active"
                  : "down";
          } else if (newPrimary && m.id === newPrimary.id) state = "active";
          else state = !m.maintenance && m.lbStatus === "in" ? "backup" : "down";
          return { name: m.name, host: m.host, port: m.servicePort, weight: m.weight, state };
        }),
      });
    } catch (err) {
      notes.push(`The upstream file cannot be generated for ${cluster.name}: ${(err as Error).message}.`);
    }
  } else {
    notes.push(`${cluster.name} has no load balancer: a switchover skips its lb steps.`);
  }

  const steps: DryRunStep[] = doc.steps.map((step, index) => {
    const target: NodeRow | null =
      step.target === "old_primary"
        ? oldPrimary
        : step.target === "new_primary"
          ? newPrimary
          : step.target === "member"
            ? member
            : null;
    const base = {
      index,
      name: step.name,
      target: step.target,
      on: step.target === "lb" ? (lb?.name ?? null) : (target?.name ?? null),
      timeoutMs: step.timeoutMs,
      onFailure: step.onFailure,
      expectExitCode: step.expect.exitCode,
    };
    if (step.target === "lb" && !lb) {
      return { ...base, command: null, error: null, skipped: "this cluster has no load balancer configured" };
    }
    if (step.target !== "lb" && !target) {
      return { ...base, command: null, error: null, skipped: `no ${step.target} in this cluster` };
    }
    const stepValues: TemplateValues = { ...values };
    if (target) {
      stepValues.node_name = target.name;
      stepValues.node_host = target.host;
      stepValues.node_port = target.servicePort;
      stepValues.health_path = target.healthPath;
    }
    try {
      return { ...base, command: renderCommand(step.command, stepValues), error: null, skipped: null };
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      return {
        ...base,
        command: null,
        error: { message: err.message, variable: err.variable },
        skipped: null,
      };
    }
  });

  const shown: Partial<Record<VariableName, string>> = {};
  for (const [k, val] of Object.entries(values)) {
    if (val !== undefined) shown[k as VariableName] = String(val);
  }
  return {
    cluster: cluster.name,
    kind: v.kind,
    epoch,
    roles: {
      oldPrimary: oldPrimary?.name ?? null,
      newPrimary: newPrimary?.name ?? null,
      member: member?.name ?? null,
      loadBalancer: lb?.name ?? null,
    },
    values: shown,
    notes,
    steps,
  };
}
