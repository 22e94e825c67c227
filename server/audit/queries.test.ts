// The audit log's read side against a real Postgres: filters (exact actor, action prefix with
// literal wildcards, cluster by name / id / deleted id, time range), keyset paging in both
// directions, the CSV export (RFC 4180 quoting and the spreadsheet formula guard, checked with an
// independent parser), the cached chain status, and the route handlers called as Next.js calls
// them under a given actor.
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { GET as getChain } from "@/app/api/v1/audit/chain/route";
import { GET as getAudit } from "@/app/api/v1/audit/route";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { auditLog, clusters } from "@/db/schema";
import { ErrorSchema } from "@/server/api/schemas";
import { type Actor, runAsActor } from "@/server/auth/guard";
import { createScratchDatabase } from "@/test/db";
import { type AuditEntry, appendAudit } from "./append";
import {
  AUDIT_PAGE_SIZE,
  AuditChainStatusSchema,
  type AuditEntryView,
  AuditPageSchema,
  AuditQueryError,
  auditChainStatus,
  auditCsvStream,
  auditExceedsCap,
  csvCell,
  forgetAuditChainStatus,
  listAuditEntries,
  resolveAuditFilter,
} from "./queries";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An RFC 4180 reader written for the test (not the code under test): records of fields. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i += 1;
      } else {
        field += c;
        i += 1;
      }
    } else if (c === '"' && field === "") {
      quoted = true;
      i += 1;
    } else if (c === ",") {
      row.push(field);
      field = "";
      i += 1;
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i += 2;
    } else if (c === "\n" || c === "\r" || c === '"') {
      throw new Error(`bare ${JSON.stringify(c)} outside quotes at ${i}`);
    } else {
      field += c;
      i += 1;
    }
  }
  if (quoted) throw new Error("unterminated quote");
  if (field !== "" || row.length > 0) throw new Error("last record not terminated by CRLF");
  return rows;
}

async function streamText(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

const VIEWER: Actor = { kind: "session", userId: null, label: "viewer-test", role: "viewer", address: null };
const NO_PARAMS = { params: Promise.resolve({}) as Promise<Record<string, never>> };

async function callAudit(query: string, actor: Actor | null = VIEWER) {
  const res = await runAsActor(actor, () =>
    getAudit(new Request(`http://127.0.0.1/api/v1/audit?${query}`), NO_PARAMS),
  );
  return res;
}

describe("audit log queries", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  const previous = (globalThis as { switchyardDb?: unknown }).switchyardDb;
  const ids: Record<string, number> = {};
  const gteId = randomUUID();
  const llmId = randomUUID();
  const goneId = randomUUID();
  let bulkIds: number[] = [];
  let t1: Date;
  let t2: Date;

  const append = async (name: string, e: Partial<AuditEntry> & { action: string }) => {
    const { id } = await h.db.transaction((tx) =>
      appendAudit(tx, { actorLabel: "alice", actorRole: "operator", targetType: "test", ...e }),
    );
    ids[name] = id;
    return id;
  };

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4 });
    (globalThis as { switchyardDb?: unknown }).switchyardDb = h;
    await h.db.insert(clusters).values([
      { id: gteId, name: "gte-pro-search", mode: "active_standby" },
      { id: llmId, name: "llm-chat", mode: "active_standby" },
    ]);

    // 120 bulk rows first (paging), then the rows the filters look for, in three time slices.
    for (let i = 0; i < 120; i++) {
      await append(`bulk${i}`, {
        actorLabel: "bulk",
        actorRole: "system",
        action: "test.bulk",
        targetId: String(i),
      });
    }
    bulkIds = Array.from({ length: 120 }, (_, i) => ids[`bulk${i}`] as number);
    await append("login", {
      action: "auth.login",
      targetType: "user",
      targetId: "alice",
      address: "10.0.0.1",
    });
    await append("manual", {
      action: "switchover.request.manual",
      targetType: "switchover",
      targetId: randomUUID(),
      clusterId: gteId,
      reason: "kernel patch",
      before: { primary: "gte-a" },
      after: { primary: "gte-b", epoch: 4 },
      epoch: 4,
    });
    await sleep(5);
    t1 = new Date();
    await sleep(5);
    await append("abort", {
      actorLabel: "bob",
      actorRole: "admin",
      action: "switchover.abort",
      targetType: "switchover",
      clusterId: gteId,
      reason: "stuck in verifying",
    });
    await append("auto", {
      actorLabel: "controller",
      actorRole: "system",
      action: "switchover.request.auto",
      targetType: "switchover",
      clusterId: llmId,
      reason: "primary failed",
    });
    await append("failed", {
      actorLabel: "bob",
      action: "auth.login_failed",
      targetType: "user",
      targetId: "bob",
    });
    await append("loginx", { actorLabel: "bob", action: "auth.loginXfoo", targetType: "user" });
    await sleep(5);
    t2 = new Date();
    await sleep(5);
    await append("formula", {
      actorLabel: "=cmd|' /C calc'!A0",
      actorRole: "viewer",
      address: "@evil",
      action: "test.formula",
      targetType: "+SUM(1,2)",
      targetId: "-2+3",
      reason: 'said "hi", then\r\nleft, quietly',
      after: { note: "=1+1", n: -5 },
      clusterId: goneId,
    });
  });

  afterAll(async () => {
    (globalThis as { switchyardDb?: unknown }).switchyardDb = previous;
    await h?.sql.end();
    await scratch?.drop();
  });

  const all = async (filter: Parameters<typeof listAuditEntries>[1]) =>
    (await listAuditEntries(h.db, filter, { limit: 200 })).items.map((e) => e.id);

  describe("filters", () => {
    it("unfiltered: newest first, 50 a page, with the cursor to older rows", async () => {
      const page = await listAuditEntries(h.db, {});
      expect(page.items).toHaveLength(AUDIT_PAGE_SIZE);
      expect(page.items[0]?.id).toBe(ids.formula);
      const got = page.items.map((e) => e.id);
      expect(got).toEqual([...got].sort((a, b) => b - a));
      expect(page.newer).toBeNull();
      expect(page.older).toBe(page.items.at(-1)?.id);
    });

    it("actor is exact; action is a prefix whose % and _ are literal", async () => {
      expect(await all({ actor: "bob" })).toEqual([ids.loginx, ids.failed, ids.abort]);
      expect(await all({ actor: "bo" })).toEqual([]);
      expect(await all({ action: "switchover." })).toEqual([ids.auto, ids.abort, ids.manual]);
      expect(await all({ action: "switchover.request." })).toEqual([ids.auto, ids.manual]);
      expect(await all({ action: "auth.login" })).toEqual([ids.loginx, ids.failed, ids.login]);
      // `_` must not match the X of auth.loginXfoo, `%` must not match anything.
      expect(await all({ action: "auth.login_" })).toEqual([ids.failed]);
      expect(await all({ action: "auth.%" })).toEqual([]);
      expect(await all({ action: "switchover.", actor: "bob" })).toEqual([ids.abort]);
    });

    it("cluster by name or id; a deleted cluster's id still finds its rows; an unknown name is an error", async () => {
      const byName = await resolveAuditFilter(h.db, { cluster: "gte-pro-search" });
      expect(byName).toEqual({ clusterId: gteId });
      expect(await all(byName)).toEqual([ids.abort, ids.manual]);
      expect(await all(await resolveAuditFilter(h.db, { cluster: llmId.toUpperCase() }))).toEqual([ids.auto]);
      const gone = await listAuditEntries(h.db, await resolveAuditFilter(h.db, { cluster: goneId }));
      expect(gone.items.map((e) => [e.id, e.clusterId, e.clusterName])).toEqual([
        [ids.formula, goneId, null],
      ]);
      const manual = (await listAuditEntries(h.db, byName)).items.find((e) => e.id === ids.manual);
      expect(manual).toMatchObject({
        clusterName: "gte-pro-search",
        reason: "kernel patch",
        before: { primary: "gte-a" },
        after: { primary: "gte-b", epoch: 4 },
        epoch: 4,
        actorLabel: "alice",
        actorRole: "operator",
      });
      expect(manual?.hash).toMatch(/^[0-9a-f]{64}$/);
      await expect(resolveAuditFilter(h.db, { cluster: "no-such-cluster" })).rejects.toBeInstanceOf(
        AuditQueryError,
      );
    });

    it("time range: from inclusive, to exclusive; from must precede to", async () => {
      expect(await all({ from: t1, to: t2 })).toEqual([ids.loginx, ids.failed, ids.auto, ids.abort]);
      expect(await all({ from: t2 })).toEqual([ids.formula]);
      const before = await all({ to: t1 });
      expect(before).toContain(ids.manual);
      expect(before).not.toContain(ids.abort);
      const [row] = await h.db.select({ at: auditLog.at }).from(auditLog).where(sql`id = ${ids.abort}`);
      if (!row) throw new Error("no row");
      expect(await all({ from: row.at, to: new Date(row.at.getTime() + 1) })).toContain(ids.abort);
      expect(await all({ to: row.at })).not.toContain(ids.abort);
      await expect(
        resolveAuditFilter(h.db, { from: t2.toISOString(), to: t1.toISOString() }),
      ).rejects.toMatchObject({ code: "invalid_range" });
    });
  });

  describe("keyset paging", () => {
    it("walks a filter to its end with `older` and back with `newer`, seeing every row once", async () => {
      const filter = { actor: "bulk" };
      const expected = [...bulkIds].reverse();
      const pages: AuditEntryView[][] = [];
      let page = await listAuditEntries(h.db, filter);
      pages.push(page.items);
      expect(page.newer).toBeNull();
      while (page.older !== null) {
        page = await listAuditEntries(h.db, filter, { before: page.older });
        pages.push(page.items);
        expect(page.newer).toBe(page.items[0]?.id);
      }
      expect(pages.map((p) => p.length)).toEqual([50, 50, 20]);
      expect(pages.flat().map((e) => e.id)).toEqual(expected);

      // Back up from the last page: the same pages, in reverse.
      const back = [page.items];
      while (page.newer !== null) {
        page = await listAuditEntries(h.db, filter, { after: page.newer });
        back.unshift(page.items);
      }
      expect(back.map((p) => p.map((e) => e.id))).toEqual(pages.map((p) => p.map((e) => e.id)));
      expect(page.older).toBe(page.items.at(-1)?.id);
    });

    it("pages past either end are empty but lead back", async () => {
      const filter = { actor: "bulk" };
      const oldest = bulkIds[0] as number;
      const newest = bulkIds.at(-1) as number;
      const past = await listAuditEntries(h.db, filter, { before: oldest });
      expect(past).toMatchObject({ items: [], older: null, newer: oldest - 1 });
      expect((await listAuditEntries(h.db, filter, { after: past.newer ?? 0 })).items.at(-1)?.id).toBe(
        oldest,
      );
      const future = await listAuditEntries(h.db, filter, { after: newest });
      expect(future).toMatchObject({ items: [], newer: null, older: newest + 1 });
      expect((await listAuditEntries(h.db, filter, { before: future.older ?? 0 })).items[0]?.id).toBe(newest);
    });
  });

  describe("CSV", () => {
    it.each([
      ["plain", "plain"],
      ["", ""],
      [null, ""],
      [42, "42"],
      [-5, "-5"],
      [true, "true"],
      ["a,b", '"a,b"'],
      ['say "x"', '"say ""x"""'],
      ["two\nlines", '"two\nlines"'],
      [" padded", '" padded"'],
      ["=1+1", "'=1+1"],
      ["+1", "'+1"],
      ["-2+3", "'-2+3"],
      ["@SUM(A1)", "'@SUM(A1)"],
      ["\t=1", "'\t=1"],
      ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
      ["a=b", "a=b"],
    ] as const)("csvCell(%j) is %j", (input, expected) => {
      expect(csvCell(input)).toBe(expected);
    });

    it("exports the filter's rows newest first, quoted so a parser gets them back, formulas defused", async () => {
      const text = await streamText(auditCsvStream(h.db, { from: t1 }, { pageSize: 2 }));
      expect(text.endsWith("\r\n")).toBe(true);
      const rows = parseCsv(text);
      const [header, ...records] = rows;
      expect(header).toEqual([
        "id",
        "at",
        "actor",
        "actor_role",
        "address",
        "action",
        "target_type",
        "target_id",
        "cluster_id",
        "cluster",
        "reason",
        "epoch",
        "before",
        "after",
        "prev_hash",
        "hash",
      ]);
      expect(records.map((r) => Number(r[0]))).toEqual([
        ids.formula,
        ids.loginx,
        ids.failed,
        ids.auto,
        ids.abort,
      ]);
      for (const r of records) expect(r).toHaveLength(16);
      const f = records[0] ?? [];
      expect(f[2]).toBe("'=cmd|' /C calc'!A0");
      expect(f[4]).toBe("'@evil");
      expect(f[6]).toBe("'+SUM(1,2)");
      expect(f[7]).toBe("'-2+3");
      expect(f[8]).toBe(goneId);
      expect(f[9]).toBe("");
      expect(f[10]).toBe('said "hi", then\r\nleft, quietly');
      expect(JSON.parse(f[13] ?? "")).toEqual({ note: "=1+1", n: -5 });
      expect(f[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const abort = records.find((r) => Number(r[0]) === ids.abort) ?? [];
      expect(abort.slice(2, 11)).toEqual([
        "bob",
        "admin",
        "",
        "switchover.abort",
        "switchover",
        "",
        gteId,
        "gte-pro-search",
        "stuck in verifying",
      ]);
      // No cell a spreadsheet would evaluate.
      for (const r of records) for (const cell of r) expect(cell, cell).not.toMatch(/^[=+@\t\r]/);
    });

    it("stops at the row cap and says whether the filter matched more", async () => {
      const rows = parseCsv(
        await streamText(auditCsvStream(h.db, { actor: "bulk" }, { maxRows: 7, pageSize: 3 })),
      );
      expect(rows).toHaveLength(8);
      expect(rows.slice(1).map((r) => Number(r[0]))).toEqual([...bulkIds].reverse().slice(0, 7));
      expect(await auditExceedsCap(h.db, { actor: "bulk" }, 7)).toBe(true);
      expect(await auditExceedsCap(h.db, { actor: "bulk" }, 120)).toBe(false);
      const empty = parseCsv(await streamText(auditCsvStream(h.db, { actor: "nobody" })));
      expect(empty).toHaveLength(1);
    });
  });

  describe("route handlers", () => {
    it("GET /api/v1/audit answers a page with the same filters", async () => {
      const res = await callAudit("action=switchover.&cluster=gte-pro-search&limit=1");
      expect(res.status).toBe(200);
      const page = AuditPageSchema.parse(await res.json());
      expect(page.items.map((e) => e.id)).toEqual([ids.abort]);
      expect(page.older).toBe(ids.abort);
      const next = AuditPageSchema.parse(
        await (
          await callAudit(`action=switchover.&cluster=gte-pro-search&limit=1&before=${page.older}`)
        ).json(),
      );
      expect(next.items.map((e) => e.id)).toEqual([ids.manual]);
      expect(next).toMatchObject({ older: null, newer: ids.manual });
      const ranged = AuditPageSchema.parse(
        await (
          await callAudit(
            `from=${encodeURIComponent(t1.toISOString())}&to=${encodeURIComponent(t2.toISOString())}&actor=bob`,
          )
        ).json(),
      );
      expect(ranged.items.map((e) => e.id)).toEqual([ids.loginx, ids.failed, ids.abort]);
    });

    it("400 for bad input, 404 for an unknown cluster, 401 without a caller", async () => {
      for (const q of [
        "from=yesterday",
        "to=2026-13-01T00:00:00Z",
        "before=abc",
        "before=1&after=2",
        "limit=0",
        "limit=500",
        "format=xml",
        `from=${t2.toISOString()}&to=${t1.toISOString()}`,
      ]) {
        const res = await callAudit(q);
        expect(res.status, q).toBe(400);
        expect(ErrorSchema.parse(await res.json()).error).toBe("invalid_query");
      }
      const unknown = await callAudit("cluster=nope");
      expect(unknown.status).toBe(404);
      expect((await callAudit("", null)).status).toBe(401);
    });

    it("format=csv streams a download of the whole filter", async () => {
      const res = await callAudit("format=csv&actor=bulk&limit=5&before=99999");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toMatch(
        /^attachment; filename="switchyard-audit-[\w-]+\.csv"$/,
      );
      expect(res.headers.get("x-truncated")).toBe("false");
      const rows = parseCsv(await res.text());
      // limit and before are for pages; the export is the whole filter.
      expect(rows).toHaveLength(121);
    });

    it("GET /api/v1/audit/chain reports the verified chain", async () => {
      forgetAuditChainStatus(h.db);
      const res = await runAsActor(VIEWER, () =>
        getChain(new Request("http://127.0.0.1/api/v1/audit/chain"), NO_PARAMS),
      );
      expect(res.status).toBe(200);
      const status = AuditChainStatusSchema.parse(await res.json());
      expect(status).toMatchObject({ verified: true, rows: 127, firstBadId: null, reason: null });
      expect(status.head).toMatch(/^[0-9a-f]{64}$/);
      const anonymous = await runAsActor(null, () =>
        getChain(new Request("http://127.0.0.1/api/v1/audit/chain"), NO_PARAMS),
      );
      expect(anonymous.status).toBe(401);
    });
  });

  // Last: appends and tampers.
  describe("chain status", () => {
    it("is cached for a minute, shared by concurrent callers, and names the first broken row", async () => {
      forgetAuditChainStatus(h.db);
      let clock = Date.parse("2026-03-10T12:00:00Z");
      const now = () => clock;
      const [a, b] = await Promise.all([auditChainStatus(h.db, { now }), auditChainStatus(h.db, { now })]);
      expect(a).toBe(b);
      expect(a).toMatchObject({ verified: true, rows: 127, checkedAt: "2026-03-10T12:00:00.000Z" });

      await append("late", { action: "test.late" });
      clock += 59_000;
      expect(await auditChainStatus(h.db, { now })).toBe(a);
      clock += 2_000;
      const fresh = await auditChainStatus(h.db, { now });
      expect(fresh).toMatchObject({ verified: true, rows: 128, checkedAt: "2026-03-10T12:01:01.000Z" });

      // Tamper as the table owner could, with the append-only trigger off.
      await h.db.transaction(async (tx) => {
        await tx.execute(sql`alter table audit_log disable trigger audit_log_no_update`);
        await tx.execute(sql`update audit_log set reason = 'nothing happened' where id = ${ids.abort}`);
        await tx.execute(sql`alter table audit_log enable trigger audit_log_no_update`);
      });
      expect(await auditChainStatus(h.db, { now })).toBe(fresh);
      clock += 60_000;
      const broken = await auditChainStatus(h.db, { now });
      expect(broken).toMatchObject({ verified: false, firstBadId: ids.abort, head: null });
      expect(broken.reason).toMatch(/does not match the row's content/);
    });
  });
});
