// The live-event hub against a real Postgres: one LISTEN per process fanned out to subscribers,
// bounded queues that drop a slow subscriber, unsubscribe, a listener connection that is killed
// and comes back, replay for Last-Event-ID — and the switchover engine's step notifications
// reaching subscribers from a real switchover.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { Controller } from "@/server/controller/controller";
import { requestSwitchover } from "@/server/switchover/request";
import { waitFor } from "@/test/cluster";
import { createScratchDatabase } from "@/test/db";
import { type SwitchoverRig, startSwitchoverRig } from "@/test/switchover-rig";
import { EVENTS_CHANNEL, recordEvent } from "./events";
import { EventHub, type HubEvent, parseHubEvent, replayEvents, type Subscription } from "./hub";

const APP = "hub-test";

/** The next event, failing the test instead of hanging when none comes. */
async function nextEvent(sub: Subscription, timeoutMs = 5_000): Promise<HubEvent> {
  const e = await sub.next(timeoutMs);
  if (e === null) throw new Error(`subscription closed (${sub.closedReason})`);
  if (e === "timeout") throw new Error(`no event within ${timeoutMs} ms`);
  return e;
}

describe("event hub (real Postgres LISTEN/NOTIFY)", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  let hub: EventHub;

  const listeners = async () =>
    (
      await h.db.execute<{ pid: number }>(sql`
        select pid from pg_stat_activity
        where datname = current_database() and application_name = ${APP} and query ilike 'listen %'`)
    ).map((r) => r.pid);

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 4, applicationName: APP });
    hub = new EventHub(h.sql, { maxQueue: 5, log: () => {} });
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
    await h?.sql.end({ timeout: 5 });
    await scratch?.drop();
  });

  it("listens lazily, once per process, and fans every event out to every subscriber in order", async () => {
    expect(await listeners()).toEqual([]);
    const subs = await Promise.all([hub.subscribe(), hub.subscribe(), hub.subscribe()]);
    expect(hub.subscriberCount).toBe(3);
    expect(await listeners()).toHaveLength(1);

    const sent = [];
    for (const i of [1, 2, 3]) {
      sent.push(await recordEvent(h.db, { kind: "test.fanout", severity: "warning", message: `event ${i}` }));
    }
    for (const sub of subs) {
      const got = [await nextEvent(sub), await nextEvent(sub), await nextEvent(sub)];
      expect(got).toEqual(sent);
    }
    for (const sub of subs) sub.unsubscribe();
    expect(hub.subscriberCount).toBe(0);
  });

  it("delivers notifications without an events row (step progress) with a null id, and ignores malformed ones", async () => {
    const sub = await hub.subscribe();
    await h.db.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${"not json"})`);
    await h.db.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${JSON.stringify({ id: 1, kind: "x" })})`);
    const step = {
      id: null,
      kind: "switchover.step",
      severity: "info",
      clusterId: null,
      nodeId: null,
      switchoverId: "6f1c3a52-1d55-4c3f-9d2e-0a4b7c8d9e10",
      message: "step 1 preflight: running",
      at: new Date().toISOString(),
      step: { seq: 1, phase: "preflight", name: "preflight", state: "running" },
    };
    await h.db.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${JSON.stringify(step)})`);
    // The two bad payloads were dropped: the first thing through is the step.
    expect(await nextEvent(sub)).toEqual(step);
    expect(sub.pending).toBe(0);
    sub.unsubscribe();
    expect(parseHubEvent("{")).toBeNull();
    expect(parseHubEvent(JSON.stringify({ ...step, severity: "fatal" }))).toBeNull();
  });

  it("drops a subscriber that stops reading once its queue is full; the others keep everything", async () => {
    const fast = await hub.subscribe();
    const slow = await hub.subscribe();
    const droppedBefore = hub.dropped;
    const got: number[] = [];
    // maxQueue is 5: the slow one holds 5, the 6th drops it.
    for (let i = 1; i <= 8; i++) {
      const e = await recordEvent(h.db, { kind: "test.slow", message: `event ${i}` });
      expect((await nextEvent(fast)).id).toBe(e.id);
      got.push(e.id);
      if (i <= 5) expect(slow.pending).toBe(i);
    }
    expect(got).toHaveLength(8);
    expect(slow.closedReason).toBe("overflow");
    expect(await slow.next(100)).toBeNull();
    expect(hub.dropped).toBe(droppedBefore + 1);
    expect(fast.closedReason).toBeNull();
    expect(hub.subscriberCount).toBe(1);
    fast.unsubscribe();
  });

  it("unsubscribe ends a waiting read at once and stops delivery", async () => {
    const sub = await hub.subscribe();
    const other = await hub.subscribe();
    const waiting = sub.next();
    sub.unsubscribe();
    await expect(waiting).resolves.toBeNull();
    expect(sub.closedReason).toBe("unsubscribed");
    const e = await recordEvent(h.db, { kind: "test.after", message: "after unsubscribe" });
    expect((await nextEvent(other)).id).toBe(e.id);
    expect(sub.pending).toBe(0);
    expect(await sub.next(50)).toBeNull();
    other.unsubscribe();
  });

  it("keeps its subscribers across a lost listener connection: postgres-js listens again", async () => {
    const sub = await hub.subscribe();
    const [pid] = await listeners();
    expect(pid).toBeDefined();
    await h.db.execute(sql`select pg_terminate_backend(${pid}::int)`);
    const again = await waitFor(
      "a new listener connection",
      async () => (await listeners()).find((p) => p !== pid),
      10_000,
    );
    expect(again).not.toBe(pid);
    const e = await recordEvent(h.db, { kind: "test.reconnected", message: "after the reconnect" });
    expect((await nextEvent(sub)).id).toBe(e.id);
    expect(sub.closedReason).toBeNull();
    sub.unsubscribe();
  });

  it("replays events after a Last-Event-ID, oldest first, bounded to the newest N when more were missed", async () => {
    const a = await recordEvent(h.db, { kind: "test.replay", message: "a" });
    const b = await recordEvent(h.db, { kind: "test.replay", message: "b" });
    const c = await recordEvent(h.db, { kind: "test.replay", message: "c" });
    const d = await recordEvent(h.db, { kind: "test.replay", message: "d" });
    expect(await replayEvents(h.db, a.id)).toEqual({ events: [b, c, d], truncated: false });
    expect(await replayEvents(h.db, a.id, 2)).toEqual({ events: [c, d], truncated: true });
    expect(await replayEvents(h.db, d.id)).toEqual({ events: [], truncated: false });
  });

  it("a stopped hub closes its subscribers and refuses new ones", async () => {
    const own = new EventHub(h.sql, { log: () => {} });
    const sub = await own.subscribe();
    await own.stop();
    expect(sub.closedReason).toBe("hub_stopped");
    await expect(own.subscribe()).rejects.toThrow(/stopped/);
  });
});

describe("switchover step progress reaches hub subscribers (real switchover)", () => {
  let rig: SwitchoverRig;
  let controller: Controller;
  let hub: EventHub;

  beforeAll(async () => {
    rig = await startSwitchoverRig({
      baseUrl: inject("databaseUrl"),
      clusterName: "hub-sw",
      nodes: [
        { name: "hub-a", host: "127.0.0.181", role: "primary" },
        { name: "hub-b", host: "127.0.0.182", role: "standby" },
      ],
      lbHost: "127.0.0.180",
      policy: { probeIntervalMs: 200, tcpTimeoutMs: 200, httpTimeoutMs: 300, verifyDeadlineMs: 2_000 },
    });
    controller = new Controller({
      databaseUrl: rig.url,
      secretKey: rig.secretKey,
      leaseTtlMs: 2_000,
      metricsPort: null,
      gpuSampleIntervalMs: 200,
      log: () => {},
    });
    await controller.start();
    for (const name of ["hub-a", "hub-b"]) {
      const id = rig.nodeIds.get(name) as string;
      await waitFor(`${name} healthy`, () => controller.nodeState(id) === "healthy", 15_000);
    }
    hub = new EventHub(rig.h.sql, { maxQueue: 1_000, log: () => {} });
  }, 90_000);

  afterAll(async () => {
    await hub?.stop();
    await controller?.stop();
    await rig?.stop();
  });

  it("every step is announced when it starts and when it ends, with the switchover and cluster ids", async () => {
    const sub = await hub.subscribe();
    const { id } = await requestSwitchover(rig.h.db, {
      cluster: "hub-sw",
      target: "hub-b",
      reason: "hub test",
      kind: "manual",
      actor: { label: "test operator", role: "operator" },
    });
    const seen: HubEvent[] = [];
    for (;;) {
      const e = await nextEvent(sub, 20_000);
      seen.push(e);
      if (e.switchoverId === id && e.kind === "switchover.completed") break;
      if (e.switchoverId === id && /^switchover\.(failed|rolled_back|aborted)$/.test(e.kind)) {
        throw new Error(`switchover ended as ${e.kind}: ${e.message}`);
      }
    }
    sub.unsubscribe();
    const steps = seen.filter((e) => e.kind === "switchover.step");
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps) {
      expect(s).toMatchObject({ id: null, switchoverId: id, clusterId: rig.clusterId });
    }
    // Each step: "running" first, then its outcome, and no step left running.
    const bySeq = new Map<number, string[]>();
    for (const s of steps)
      bySeq.set(s.step?.seq ?? -1, [...(bySeq.get(s.step?.seq ?? -1) ?? []), s.step?.state ?? ""]);
    expect(bySeq.has(-1)).toBe(false);
    for (const [seq, states] of bySeq) {
      expect(states, `step ${seq}`).toEqual(["running", "succeeded"]);
    }
    expect(new Set(steps.map((s) => s.step?.phase))).toEqual(
      new Set(["preflight", "fencing", "switching_traffic", "activating", "verifying"]),
    );
    // No events row was written for them: they are never replayed.
    const [row] = await rig.h.db.execute<{ n: number }>(
      sql`select count(*)::int as n from events where kind = 'switchover.step'`,
    );
    expect(row?.n).toBe(0);
  }, 60_000);
});
