// Failure of the control plane itself: a leader SIGKILLed (a follower takes over within the lease
// TTL with a higher epoch, and the dead leader's epoch can no longer write), and Postgres
// restarted under a running controller (it keeps probing and deciding, and catches up on writes).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { startEmbeddedPostgres } from "@/db/embedded";
import { runMigrations } from "@/db/migrate";
import { controllerLease, heartbeats, nodeStateChanges, nodes } from "@/db/schema";
import { insertHeartbeats } from "@/server/history";
import { startTestFleet, type TestFleet } from "@/sim/testing";
import { seedSimCluster, waitFor } from "@/test/cluster";
import { createScratchDatabase } from "@/test/db";
import { Controller } from "./controller";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const TTL_MS = 1500;

function startControllerProcess(databaseUrl: string, dataDir: string): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "server/controller/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      SWITCHYARD_DATA_DIR: dataDir,
      SWITCHYARD_LEASE_TTL_MS: String(TTL_MS),
      SWITCHYARD_CONTROLLER_METRICS_PORT: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("controller leadership", () => {
  const children: ChildProcess[] = [];
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  let h: ReturnType<typeof createDb> | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await h?.sql.end();
    await scratch?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("a follower takes over within the lease TTL when the leader is SIGKILLed; the old epoch cannot write", async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 2 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-lead-"));
    const a = startControllerProcess(scratch.url, dataDir);
    children.push(a);
    const first = await waitFor(
      "a leader",
      async () => (await h?.db.select().from(controllerLease))?.[0],
      30_000,
      100,
    );
    const b = startControllerProcess(scratch.url, dataDir);
    children.push(b);
    await new Promise((r) => setTimeout(r, 2000)); // b is up and following
    const stillFirst = (await h.db.select().from(controllerLease))[0];
    expect(stillFirst?.holderId).toBe(first.holderId);
    expect(stillFirst?.epoch).toBe(first.epoch);

    const leaderPid = Number(first.holderId.split(":")[1]);
    const leader = [a, b].find((c) => c.pid === leaderPid);
    const follower = [a, b].find((c) => c.pid !== leaderPid);
    expect(leader, `holder ${first.holderId} is one of our children`).toBeDefined();
    const killedAt = Date.now();
    leader?.kill("SIGKILL");

    const next = await waitFor(
      "the follower to lead",
      async () => {
        const row = (await h?.db.select().from(controllerLease))?.[0];
        return row && row.holderId !== first.holderId ? row : null;
      },
      TTL_MS * 4,
      50,
    );
    const tookMs = Date.now() - killedAt;
    expect(next.holderId).toContain(`:${follower?.pid}:`);
    expect(next.epoch).toBeGreaterThan(first.epoch);
    // TTL plus one renewal period of the follower (it tries every TTL/3), plus scheduling slack.
    expect(tookMs).toBeLessThan(TTL_MS + TTL_MS / 3 + 1000);

    const nodeId = "00000000-0000-0000-0000-000000000001";
    const row = {
      time: new Date(),
      nodeId,
      tcpOk: true,
      tcpMs: 1,
      httpOk: true,
      httpStatus: 200,
      httpMs: 1,
      reportedRole: null,
      error: null,
    };
    const stale = await insertHeartbeats(h.db, [row], { leaseName: "controller", epoch: first.epoch });
    expect(stale.fenced).toBe(true);
    expect(await h.db.select().from(heartbeats).where(eq(heartbeats.nodeId, nodeId))).toHaveLength(0);
    const fresh = await insertHeartbeats(h.db, [row], { leaseName: "controller", epoch: next.epoch });
    expect(fresh).toEqual({ inserted: 1, fenced: false });
  }, 90_000);
});

describe("controller under a Postgres restart", () => {
  let pgDir: string;
  let pg: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let fleet: TestFleet | undefined;
  let controller: Controller | undefined;
  let h: ReturnType<typeof createDb> | undefined;

  afterEach(async () => {
    await controller?.stop();
    await fleet?.stop();
    await h?.sql.end({ timeout: 1 });
    await pg?.stop();
    if (pgDir) await rm(pgDir, { recursive: true, force: true });
  });

  it("keeps probing and deciding while the database is down, then writes what it saw", async () => {
    pgDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-pgrestart-"));
    await chmod(pgDir, 0o755); // as root, Postgres runs as "postgres" and must enter it
    pg = await startEmbeddedPostgres(pgDir);
    await runMigrations(pg.url);
    h = createDb(pg.url, { max: 2 });
    fleet = await startTestFleet([
      { name: "r-a", host: "127.0.0.31", cluster: "rs", role: "master", epoch: 1 },
      { name: "r-b", host: "127.0.0.32", cluster: "rs", role: "standby", epoch: 1 },
    ]);
    const secretKey = randomBytes(32);
    const seeded = await seedSimCluster(h.db, {
      name: "rs",
      mode: "active_standby",
      fleet,
      secretKey,
      roles: { "r-a": "primary", "r-b": "standby" },
      policy: {
        probeIntervalMs: 200,
        tcpTimeoutMs: 200,
        httpTimeoutMs: 300,
        failuresToFail: 3,
        successesToRecover: 2,
      },
    });
    const idA = seeded.nodeIds.get("r-a") as string;
    controller = new Controller({
      databaseUrl: pg.url,
      secretKey,
      leaseTtlMs: 3000,
      metricsPort: null,
      gpu: false,
      log: () => {},
    });
    await controller.start();
    await waitFor(
      "r-a healthy",
      async () => (await h?.db.select().from(nodes).where(eq(nodes.id, idA)))?.[0]?.state === "healthy",
      10_000,
    );

    await h.sql.end({ timeout: 1 });
    h = undefined;
    await pg.stop();
    const downAt = new Date();
    // With the database gone, a crash is still detected: decisions read memory only.
    await fleet.fleet.getNode("r-a")?.applyFault("crash");
    await waitFor("r-a failed in memory", () => controller?.nodeState(idA) === "failed", 5000, 20);
    await new Promise((r) => setTimeout(r, 1000));
    const status = controller.status();
    expect(status.dbHealthy).toBe(false);
    expect(status.bufferedRows).toBeGreaterThan(0);
    expect(status.pendingWrites).toBeGreaterThan(0);

    pg = await startEmbeddedPostgres(pgDir);
    h = createDb(pg.url, { max: 2 });
    const db = h.db;
    await waitFor(
      "the failure written after the restart",
      async () => {
        const rows = await db.select().from(nodeStateChanges).where(eq(nodeStateChanges.nodeId, idA));
        return rows.some((r) => r.toState === "failed");
      },
      20_000,
      200,
    );
    // Heartbeats are flushed after the state changes in the same tick: wait for them rather than
    // racing the batch.
    const during = await waitFor(
      "the outage's heartbeats written after the restart",
      async () => {
        const rows = await db.execute<{ n: number }>(
          sql`select count(*)::int as n from heartbeats where node_id = ${idA} and time >= ${downAt.toISOString()}::timestamptz and not tcp_ok`,
        );
        return rows[0]?.n ? rows[0].n : null;
      },
      10_000,
      200,
    );
    expect(during).toBeGreaterThan(0);
    expect(controller.status()).toMatchObject({ leader: true, dbHealthy: true });
  }, 90_000);
});
