// Playbook settings against a real Postgres: the active version of each kind as text, invalid text
// rejected with its line and column and nothing saved, a valid edit saved as the next version with
// its audit row, stale editors refused, and a dry run that renders every command for a cluster
// (quoted values, the next epoch, the generated upstream) or names the TemplateError, running nothing.
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { auditLog, clusters, loadBalancers, nodes, playbooks, policies, switchovers } from "@/db/schema";
import { type Actor, runAsActor } from "@/server/auth/guard";
import { createUser } from "@/server/auth/users";
import type { SettingsFailure } from "@/server/settings/errors";
import { ensureBuiltInPlaybooks } from "@/server/switchover/playbook";
import { createScratchDatabase } from "@/test/db";
import {
  checkPlaybookAction,
  dryRunPlaybookAction,
  loadPlaybooksAction,
  savePlaybookAction,
} from "./playbooks";

const SYSTEM = { actorUserId: null, actorLabel: "test", actorRole: "system" } as const;
type Result<T> = { ok: true; data: T } | SettingsFailure;

function expectOk<T>(res: Result<T>): T {
  if (!res.ok) throw new Error(`expected ok, got ${res.error} ${JSON.stringify(res.issues ?? [])}`);
  return res.data;
}
function expectFailure<T>(res: Result<T>): SettingsFailure {
  if (res.ok) throw new Error(`expected a failure, got ${JSON.stringify(res.data)}`);
  return res;
}

describe("playbook settings", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const previous = (globalThis as { switchyardDb?: unknown }).switchyardDb;
  let admin: Actor;
  let clusterId: string;
  let bareClusterId: string;
  const as = <T>(fn: () => Promise<T>) => runAsActor(admin, fn);
  const counts = async () => ({
    playbooks: (await h.db.select({ n: sql<number>`count(*)::int` }).from(playbooks))[0]?.n,
    audit: (await h.db.select({ n: sql<number>`count(*)::int` }).from(auditLog))[0]?.n,
    switchovers: (await h.db.select({ n: sql<number>`count(*)::int` }).from(switchovers))[0]?.n,
  });

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4 });
    (globalThis as { switchyardDb?: unknown }).switchyardDb = h;
    const { id } = await createUser(
      h.db,
      { username: "pb-admin", password: "pw-admin-Long-Enough-1", role: "admin" },
      SYSTEM,
    );
    admin = { kind: "session", userId: id, label: "pb-admin", role: "admin", address: "192.0.2.10" };
    await ensureBuiltInPlaybooks(h.db);

    // A cluster as an operator would have it: primary, two standbys (one in maintenance), an LB.
    const [lb] = await h.db
      .insert(loadBalancers)
      .values({
        name: "lb-dry",
        host: "lb.dry.internal",
        upstreamConfigPath: "/etc/nginx/switchyard/dry.conf",
        endpointUrl: "http://lb.dry.internal:8080/",
      })
      .returning({ id: loadBalancers.id });
    const [c] = await h.db
      .insert(clusters)
      .values({ name: "dry", mode: "active_standby", epoch: 7, loadBalancerId: lb?.id })
      .returning({ id: clusters.id });
    clusterId = c?.id ?? "";
    await h.db.insert(policies).values({ clusterId, verifyDeadlineMs: 15_000 });
    const inserted = await h.db
      .insert(nodes)
      .values([
        { clusterId, name: "dry-a", host: "10.1.0.1", role: "primary", priority: 0 },
        { clusterId, name: "dry-b", host: "10.1.0.2", role: "standby", priority: 20 },
        { clusterId, name: "dry-c", host: "10.1.0.3", role: "standby", priority: 10, maintenance: true },
      ])
      .returning({ id: nodes.id, name: nodes.name });
    const primary = inserted.find((n) => n.name === "dry-a");
    await h.db.update(clusters).set({ primaryNodeId: primary?.id }).where(eq(clusters.id, clusterId));

    const [bare] = await h.db
      .insert(clusters)
      .values({ name: "bare", mode: "active_standby", epoch: 1 })
      .returning({ id: clusters.id });
    bareClusterId = bare?.id ?? "";
    const [p] = await h.db
      .insert(nodes)
      .values([
        { clusterId: bareClusterId, name: "bare-a", host: "10.2.0.1", role: "primary" },
        { clusterId: bareClusterId, name: "bare-b", host: "10.2.0.2", role: "standby" },
      ])
      .returning({ id: nodes.id });
    await h.db.update(clusters).set({ primaryNodeId: p?.id }).where(eq(clusters.id, bareClusterId));
  }, 60_000);

  afterAll(async () => {
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previous;
    await h?.sql.end();
    await scratch?.drop();
  });

  const activeText = async (kind: string) => {
    const all = expectOk(await as(() => loadPlaybooksAction({})));
    const view = all.playbooks.find((p) => p.kind === kind);
    if (!view) throw new Error(`no ${kind}`);
    return view;
  };

  it("shows the active version of every kind as JSON text, with the variables a template may use", async () => {
    const all = expectOk(await as(() => loadPlaybooksAction({})));
    expect(all.playbooks.map((p) => [p.kind, p.name, p.version, p.builtIn])).toEqual([
      ["preflight", "default-preflight", 1, true],
      ["degrade", "default-degrade", 1, true],
      ["switch_traffic", "default-switch-traffic", 1, true],
      ["activate", "default-activate", 1, true],
      ["verify", "default-verify", 1, true],
      ["rollback", "default-rollback", 1, true],
      ["drain", "default-drain", 1, true],
      ["readmit", "default-readmit", 1, true],
    ]);
    const preflight = all.playbooks[0];
    expect(JSON.parse(preflight?.text ?? "")).toMatchObject({
      name: "default-preflight",
      kind: "preflight",
      steps: [{ name: "new-primary-healthy" }, { name: "lb-ready" }],
    });
    expect(all.variables.map((v) => v.name)).toContain("node_host");
  });

  it("an unknown variable is reported at its line and column, and nothing is saved", async () => {
    const view = await activeText("activate");
    const text = view.text.replace("{{node_host}}", "{{node_hots}}");
    const lineNo = text.split("\n").findIndex((l) => l.includes("{{node_hots}}")) + 1;
    const column = (text.split("\n")[lineNo - 1]?.indexOf("{{node_hots}}") ?? -1) + 1;
    const before = await counts();
    const attempts: Array<() => Promise<Result<unknown>>> = [
      () => checkPlaybookAction({ kind: "activate", text }),
      () => savePlaybookAction({ kind: "activate", text, expectedVersion: 1 }),
    ];
    for (const attempt of attempts) {
      const res = expectFailure(await as(attempt));
      expect(res.status).toBe(422);
      expect(res.issues).toEqual([
        {
          field: "text",
          line: lineNo,
          column,
          message: expect.stringMatching(/^steps\[0\]\.command: unknown variable \{\{node_hots\}\}; known: /),
        },
      ]);
      expect(res.error).toBe(
        `The playbook has 1 problem (the first at line ${lineNo}, column ${column}); nothing was saved.`,
      );
    }
    expect(await counts()).toEqual(before);
  });

  it("a JSON syntax error, a wrong kind and a wrong name are each located", async () => {
    const syntax = expectFailure(
      await as(() =>
        checkPlaybookAction({
          kind: "degrade",
          text: '{\n  "name": "default-degrade",\n  "kind": "degrade",\n}',
        }),
      ),
    );
    expect(syntax.issues).toEqual([
      { field: "text", line: 4, column: 1, message: "trailing comma before '}'" },
    ]);

    const view = await activeText("degrade");
    const renamed = view.text.replace('"default-degrade"', '"my-degrade"');
    const wrongName = expectFailure(await as(() => checkPlaybookAction({ kind: "degrade", text: renamed })));
    expect(wrongName.issues?.[0]).toMatchObject({
      line: 2,
      column: 11,
      message: expect.stringContaining('the controller runs the playbook named "default-degrade"'),
    });
    const wrongKind = expectFailure(
      await as(() => checkPlaybookAction({ kind: "activate", text: view.text })),
    );
    expect(wrongKind.issues?.map((i) => i.line)).toEqual([2, 3]);
    expect(expectOk(await as(() => checkPlaybookAction({ kind: "degrade", text: view.text })))).toEqual({
      kind: "degrade",
      steps: 1,
    });
  });

  it("saves an edit as the next version, audited; an editor opened on an older version is refused", async () => {
    const view = await activeText("degrade");
    const doc = JSON.parse(view.text);
    doc.steps[0].timeoutMs = 4000;
    const text = JSON.stringify(doc, null, 2);
    const saved = expectOk(await as(() => savePlaybookAction({ kind: "degrade", text, expectedVersion: 1 })));
    expect(saved).toEqual({ name: "default-degrade", kind: "degrade", version: 2 });
    const after = await activeText("degrade");
    expect(after).toMatchObject({ version: 2, builtIn: false, createdBy: "pb-admin" });
    expect(JSON.parse(after.text).steps[0].timeoutMs).toBe(4000);
    const [audit] = await h.db.select().from(auditLog).where(eq(auditLog.action, "playbook.save"));
    expect(audit).toMatchObject({
      actorLabel: "pb-admin",
      before: { name: "default-degrade", version: 1 },
      after: {
        name: "default-degrade",
        kind: "degrade",
        version: 2,
        steps: [{ name: "degrade-old-primary" }],
      },
    });

    const before = await counts();
    const stale = expectFailure(
      await as(() => savePlaybookAction({ kind: "degrade", text, expectedVersion: 1 })),
    );
    expect(stale).toMatchObject({ status: 409 });
    expect(stale.error).toMatch(/is at version 2 now, not 1/);
    expect(await counts()).toEqual(before);
  });

  it("a dry run renders every command with the cluster's values, quoted, and runs nothing", async () => {
    const before = await counts();
    const preflight = await activeText("preflight");
    const res = expectOk(
      await as(() => dryRunPlaybookAction({ kind: "preflight", text: preflight.text, clusterId })),
    );
    expect(res).toMatchObject({
      cluster: "dry",
      epoch: 8,
      // The best standby out of maintenance, by priority: dry-c is in maintenance.
      roles: { oldPrimary: "dry-a", newPrimary: "dry-b", loadBalancer: "lb-dry" },
      values: {
        verify_deadline_ms: "15000",
        new_primary_host: "10.1.0.2",
        upstream_path: "/etc/nginx/switchyard/dry.conf",
      },
    });
    const [health, lb] = res.steps;
    expect(health).toMatchObject({ name: "new-primary-healthy", on: "dry-b", error: null, skipped: null });
    expect(health?.command).toContain("h=10.1.0.2;");
    expect(health?.command).toContain(`u="http://$h:"8000;`);
    expect(health?.command).not.toContain("{{");
    expect(lb).toMatchObject({ name: "lb-ready", on: "lb-dry", error: null });
    expect(lb?.command).toContain("p=/etc/nginx/switchyard/dry.conf;");

    const switchText = (await activeText("switch_traffic")).text;
    const sw = expectOk(
      await as(() => dryRunPlaybookAction({ kind: "switch_traffic", text: switchText, clusterId })),
    );
    const cmd = sw.steps[0]?.command ?? "";
    // Multi-line text is single-quoted whole: it can never become code.
    expect(cmd).toContain("new='# switchyard-epoch: 8\n");
    expect(cmd).toMatch(/server 10\.1\.0\.2:8000 max_fails=1 fail_timeout=2s;\s+# dry-b/);
    expect(cmd).toMatch(/server 10\.1\.0\.3:8000 .* down;\s+# dry-c/);
    expect(await counts()).toEqual(before);
  });

  it("a dry run shows the TemplateError a step would fail with, and skips what a switchover would skip", async () => {
    const doc = {
      name: "default-verify",
      kind: "verify",
      steps: [
        {
          name: "endpoint-from-the-node",
          target: "new_primary",
          command: "curl -fsS {{lb_endpoint_url}}",
          timeoutMs: 1000,
          expect: { exitCode: 0 },
          onFailure: "rollback",
        },
        {
          name: "endpoint",
          target: "lb",
          command: "curl -fsS {{lb_endpoint_url}}",
          timeoutMs: 1000,
          expect: { exitCode: 0 },
          onFailure: "rollback",
        },
      ],
    };
    const text = JSON.stringify(doc, null, 2);
    const bare = expectOk(
      await as(() => dryRunPlaybookAction({ kind: "verify", text, clusterId: bareClusterId })),
    );
    expect(bare.steps[0]).toMatchObject({
      command: null,
      error: { message: "no value for {{lb_endpoint_url}} in this step", variable: "lb_endpoint_url" },
    });
    expect(bare.steps[1]).toMatchObject({
      command: null,
      skipped: "this cluster has no load balancer configured",
    });
    expect(bare.notes).toContain("bare has no load balancer: a switchover skips its lb steps.");

    const withLb = expectOk(await as(() => dryRunPlaybookAction({ kind: "verify", text, clusterId })));
    expect(withLb.steps.map((s) => s.command)).toEqual([
      "curl -fsS http://lb.dry.internal:8080/",
      "curl -fsS http://lb.dry.internal:8080/",
    ]);

    const invalid = expectFailure(
      await as(() =>
        dryRunPlaybookAction({
          kind: "verify",
          text: text.replace("{{lb_endpoint_url}}", "{{nope}}"),
          clusterId,
        }),
      ),
    );
    expect(invalid.issues?.[0]).toMatchObject({ field: "text", line: 8, column: 29 });
    const missing = expectFailure(
      await as(() =>
        dryRunPlaybookAction({ kind: "verify", text, clusterId: "00000000-0000-4000-8000-000000000001" }),
      ),
    );
    expect(missing.status).toBe(404);
  });
});
