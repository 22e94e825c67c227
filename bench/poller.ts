// `npm run bench:poller -- --nodes N --seconds S [--quick]`
//
// N simulated GPU nodes (a child process: HTTP + SSH + fake nvidia-smi each), a controller (a
// child process, so its CPU and memory are its own) probing every node and streaming GPU
// telemetry at a 1 s interval, a real Postgres. After a warm-up until every node is healthy and
// streaming, it measures a steady window and writes bench/results/poller.json (and
// poller-<N>.json): controller CPU (% of one core) and RSS, probe lateness, heartbeats and GPU
// samples recorded per second, rows dropped (expected minus recorded), database bytes per hour.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { clusters, nodes, policies } from "@/db/schema";
import { loadSecretKey } from "@/server/credentials/crypto";
import { createCredential } from "@/server/credentials/store";
import { databaseBytesPerHour } from "@/server/history";
import { prepareDatabase } from "@/server/runtime/database";
import {
  freePort,
  processCpuSeconds,
  processRssMb,
  quantile,
  REPO_ROOT as ROOT,
  sleep,
  sortedAscending,
  startSimFleetChild,
  stopChild,
} from "./lib";

const { values: args } = parseArgs({
  options: {
    nodes: { type: "string" },
    seconds: { type: "string" },
    quick: { type: "boolean", default: false },
    "interval-ms": { type: "string", default: "1000" },
  },
});
const N = Number(args.nodes ?? (args.quick ? 100 : 1000));
const SECONDS = Number(args.seconds ?? (args.quick ? 40 : 120));
const INTERVAL = Number(args["interval-ms"]);
if (!Number.isInteger(N) || N < 1 || N > 5000) throw new Error("--nodes must be 1..5000");
if (!Number.isFinite(SECONDS) || SECONDS < 5 || SECONDS > 3600) throw new Error("--seconds must be 5..3600");
const WARMUP_LIMIT_MS = args.quick ? 60_000 : 240_000;
const say = (s: string) => console.log(`[bench:poller] ${s}`);
const children: ChildProcess[] = [];

function child(name: string, argv: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const c = spawn(process.execPath, ["--import", "tsx", ...argv], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  c.stderr?.on("data", (d: Buffer) => process.stderr.write(`[${name}] ${d}`));
  children.push(c);
  return c;
}

async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  everyMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn().catch(() => null);
    if (v) return v;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main() {
  const dataDir = path.join(ROOT, ".switchyard", "bench");
  const simDir = path.join(dataDir, "sim");
  await fs.mkdir(simDir, { recursive: true });
  const base = await prepareDatabase({ dataDir, databaseUrl: process.env.DATABASE_URL });
  // A fresh database per run, so bytes per hour and row counts are this run's alone.
  const dbName = `switchyard_bench_${N}`;
  const admin = postgres(base.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.unsafe(`create database ${dbName}`);
  await admin.end();
  const url = new URL(base.url);
  url.pathname = `/${dbName}`;
  const dbUrl = url.toString();
  await runMigrations(dbUrl);
  const { db, sql: pg } = createDb(dbUrl, { max: 2, applicationName: "bench" });

  try {
    say(`starting ${N} simulated nodes…`);
    const sim = await startSimFleetChild({
      nodes: N,
      dataDir: simDir,
      onStderr: (d) => process.stderr.write(`[sim] ${d}`),
      onSpawn: (c) => children.push(c),
      readyTimeoutMs: 180_000,
    });
    const simNodes = sim.nodes;
    say(`fleet up (pid ${sim.pid}); seeding inventory`);

    const secretKey = loadSecretKey(dataDir, { create: true });
    const clientKey = readFileSync(path.join(simDir, "client_ed25519"), "utf8");
    await db.transaction(async (tx) => {
      const cred = await createCredential(tx, secretKey, { name: "bench-key", privateKey: clientKey });
      for (let i = 0; i < N; i += 2) {
        const pair = simNodes.slice(i, i + 2);
        const [c] = await tx
          .insert(clusters)
          .values({ name: `bench-${i / 2}`, mode: "active_standby", epoch: 1 })
          .returning();
        if (!c) throw new Error("no cluster");
        await tx.insert(policies).values({ clusterId: c.id, probeIntervalMs: INTERVAL });
        const rows = await tx
          .insert(nodes)
          .values(
            pair.map((n, j) => ({
              clusterId: c.id,
              name: n.name,
              host: n.host,
              sshPort: n.sshPort,
              servicePort: n.httpPort,
              credentialId: cred.id,
              hostKeyFingerprint: n.hostKeyFingerprint,
              role: j === 0 ? ("primary" as const) : ("standby" as const),
              priority: j,
            })),
          )
          .returning({ id: nodes.id });
        await tx.execute(sql`update clusters set primary_node_id = ${rows[0]?.id} where id = ${c.id}`);
      }
    });

    const metricsPort = await freePort();
    const controller = child("controller", ["server/controller/main.ts"], {
      ...process.env,
      DATABASE_URL: dbUrl,
      SWITCHYARD_DATA_DIR: dataDir,
      SWITCHYARD_CONTROLLER_METRICS_PORT: String(metricsPort),
    });
    const pid = controller.pid as number;
    type Status = {
      leader: boolean;
      probes: { latenessP50Ms: number; latenessP99Ms: number; probesTotal: number } | null;
      gpu: { connectionsOpen?: number; streaming?: number; samplesTotal?: number } | null;
      droppedRows: number;
      eventLoopDelayMs?: { p50: number; p99: number; max: number };
    };
    const status = async () =>
      (await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).json()) as Status;
    const warmStart = Date.now();
    await waitUntil(
      "every node healthy",
      async () => {
        const r = await db.execute<{ n: number }>(
          sql`select count(*)::int as n from nodes where state = 'healthy'`,
        );
        return (r[0]?.n ?? 0) >= N;
      },
      WARMUP_LIMIT_MS,
    );
    const allHealthyMs = Date.now() - warmStart;
    say(`all ${N} nodes healthy after ${(allHealthyMs / 1000).toFixed(1)} s; waiting for GPU streams`);
    const streamingAt = await waitUntil(
      "GPU telemetry from every node",
      async () => {
        const r = await db.execute<{ n: number }>(
          sql`select count(distinct node_id)::int as n from gpu_samples where time > now() - interval '3 seconds'`,
        );
        return (r[0]?.n ?? 0) >= N ? Date.now() : null;
      },
      WARMUP_LIMIT_MS,
      2000,
    ).catch(() => null);
    const gpuReadyMs = streamingAt ? streamingAt - warmStart : null;
    say(
      gpuReadyMs
        ? `GPU telemetry from all nodes after ${(gpuReadyMs / 1000).toFixed(1)} s`
        : "not every node streams GPU telemetry; measuring anyway",
    );

    await sleep(5000); // settle after the connection storm
    say(`measuring for ${SECONDS} s…`);
    const t0 = new Date();
    const cpu0 = processCpuSeconds(pid);
    const simCpu0 = processCpuSeconds(sim.pid);
    const p50s: number[] = [];
    const p99s: number[] = [];
    const rss: number[] = [];
    const loopMax: number[] = [];
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(5000, end - Date.now()));
      const s = await status().catch(() => null);
      if (s?.probes) {
        p50s.push(s.probes.latenessP50Ms);
        p99s.push(s.probes.latenessP99Ms);
      }
      if (s?.eventLoopDelayMs) loopMax.push(s.eventLoopDelayMs.max);
      rss.push(processRssMb(pid));
    }
    const t1 = new Date();
    const cpu1 = processCpuSeconds(pid);
    const simCpu1 = processCpuSeconds(sim.pid);
    const wall = (t1.getTime() - t0.getTime()) / 1000;
    // Let the last tick's batch land before counting.
    await sleep(2500);
    const counts = await db.execute<{ hb: number; gpu: number }>(sql`
      select (select count(*)::int from heartbeats where time >= ${t0.toISOString()}::timestamptz and time < ${t1.toISOString()}::timestamptz) as hb,
             (select count(*)::int from gpu_samples where time >= ${t0.toISOString()}::timestamptz and time < ${t1.toISOString()}::timestamptz and error is null) as gpu`);
    const perNode = await db.execute<{ n: number; nodes: number }>(sql`
      select n, count(*)::int as nodes from (
        select node_id, count(*)::int as n from heartbeats
        where time >= ${t0.toISOString()}::timestamptz and time < ${t1.toISOString()}::timestamptz group by node_id) x
      group by n order by n`);
    say(`heartbeats per node in the window: ${perNode.map((r) => `${r.n}×${r.nodes}`).join(", ")}`);
    const hb = counts[0]?.hb ?? 0;
    const gpu = counts[0]?.gpu ?? 0;
    const expected = Math.round((N * wall * 1000) / INTERVAL);
    const bytes = await databaseBytesPerHour(db, new Date(warmStart));
    const final = await status().catch(() => null);

    const result = {
      nodes: N,
      interval_ms: INTERVAL,
      duration_s: Math.round(wall),
      controller_cpu_pct: Number((((cpu1 - cpu0) / wall) * 100).toFixed(1)),
      controller_rss_mb: Math.round(Math.max(...rss)),
      probe_lateness_ms: {
        p50: Number(quantile(sortedAscending(p50s), 0.5).toFixed(1)),
        p99: Number(Math.max(...p99s).toFixed(1)),
      },
      heartbeats_per_s: Number((hb / wall).toFixed(1)),
      gpu_samples_per_s: Number((gpu / wall).toFixed(1)),
      expected_heartbeats: expected,
      recorded_heartbeats: hb,
      dropped: Math.max(0, expected - hb),
      controller_dropped_rows: final?.droppedRows ?? null,
      controller_event_loop_delay_max_ms: loopMax.length ? Math.max(...loopMax) : null,
      db_bytes_per_hour: Math.round(bytes.bytesPerHour),
      warmup: {
        all_healthy_s: Number((allHealthyMs / 1000).toFixed(1)),
        gpu_streaming_s: gpuReadyMs === null ? null : Number((gpuReadyMs / 1000).toFixed(1)),
      },
      simulator_cpu_pct: Number((((simCpu1 - simCpu0) / wall) * 100).toFixed(1)),
      machine: { cores: os.cpus().length, node: process.version },
      command: `npm run bench:poller -- --nodes ${N} --seconds ${SECONDS}${args.quick ? " --quick" : ""}`,
      measured_at: t1.toISOString(),
    };
    const outDir = path.join(ROOT, "bench", "results");
    await fs.mkdir(outDir, { recursive: true });
    await fs.writeFile(path.join(outDir, "poller.json"), `${JSON.stringify(result, null, 2)}\n`);
    await fs.writeFile(path.join(outDir, `poller-${N}.json`), `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    for (const c of children.reverse()) await stopChild(c, 15_000);
    await pg.end({ timeout: 2 });
    await base.stop();
    if (existsSync(path.join(simDir, "role-log.jsonl")))
      await fs.rm(path.join(simDir, "role-log.jsonl"), { force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`[bench:poller] failed: ${err.message}`);
    for (const c of children) c.kill("SIGKILL");
    process.exit(1);
  },
);
