// `npm run demo`: the whole product on one machine in one command — embedded Postgres,
// migrations, the demo inventory, a simulated GPU fleet for it, and the web UI — then the URL.
// Ctrl-C stops every child by its process group; a second run reuses the data directory.
//
// `--profile e2e` runs the same stack in its own data directory and ports for Playwright, so the
// tests never touch a demo someone is looking at.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import { createDb } from "@/db/client";
import { policies } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import { ensureDemoAdmin } from "@/server/auth/bootstrap";
import { loadSecretKey } from "@/server/credentials/crypto";
import { DEMO_CLUSTERS } from "@/server/demo/inventory";
import {
  DEMO_LB_HOST,
  demoUpstreams,
  detachDemoLoadBalancers,
  upsertDemoLoadBalancers,
} from "@/server/demo/load-balancer";
import { seedDemoInventory } from "@/server/demo/seed";
import { NGINX_BIN, startNginx } from "@/server/lb/nginx-process";
import { notifyInventoryChanged } from "@/server/notify/events";
import { stopChildren } from "@/server/runtime/children";
import { prepareDatabase, redactUrl } from "@/server/runtime/database";
import { startFleet } from "@/sim/fleet";
import { startSimLbHost } from "@/sim/lb-host";
import { loadOrCreateClientKey } from "@/sim/ssh-server";

const ROOT = path.resolve(import.meta.dirname, "..");
const PROFILES = {
  demo: {
    dataDir: ".switchyard",
    port: 3000,
    servicePort: 8000,
    sshPort: 2222,
    controlPort: 7070,
    metricsPort: 9464,
    lbBasePort: 8080,
    distDir: ".next",
  },
  e2e: {
    dataDir: ".switchyard/e2e",
    port: 3100,
    servicePort: 18000,
    sshPort: 12222,
    controlPort: 17070,
    metricsPort: 19464,
    lbBasePort: 18080,
    distDir: ".next-e2e",
  },
} as const;

const { values: args } = parseArgs({
  options: {
    profile: { type: "string", default: "demo" },
    port: { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});
if (args.profile !== "demo" && args.profile !== "e2e") {
  console.error(`unknown --profile ${args.profile} (demo | e2e)`);
  process.exit(2);
}
const profile = PROFILES[args.profile];
const port = Number(args.port ?? process.env.PORT ?? profile.port);
const dataDir = path.resolve(ROOT, process.env.SWITCHYARD_DATA_DIR ?? profile.dataDir);
const say = (line: string) => console.log(`[demo] ${line}`);
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
let stopping = false;
let stoppingAt = 0;

async function shutdown(code: number): Promise<never> {
  if (stopping) {
    // Ctrl-C reaches npx and this process at once, so the first signal often arrives twice: only a
    // second Ctrl-C a moment later means "stop waiting", and even then children are told first.
    if (Date.now() - stoppingAt < 2_000) return new Promise<never>(() => {});
    process.exit(code);
  }
  stopping = true;
  stoppingAt = Date.now();
  say("stopping…");
  await stopChildren(children);
  for (const fn of cleanups.reverse()) await fn().catch((e: Error) => say(`cleanup: ${e.message}`));
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

/** Runs a child in its own process group (so Ctrl-C can stop all it spawned) and prefixes output. */
function run(name: string, cmd: string, argv: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, argv, { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => `[${name}] ${l}`)
      .join("\n");
  child.stdout?.on("data", (c: Buffer) => args.verbose && console.log(prefix(c)));
  child.stderr?.on("data", (c: Buffer) => console.error(prefix(c)));
  children.push(child);
  return child;
}

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSafe(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}
function readdirSafe(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}

async function buildIfStale(env: NodeJS.ProcessEnv): Promise<void> {
  const buildId = path.join(ROOT, profile.distDir, "BUILD_ID");
  const built = existsSync(buildId) ? statSync(buildId).mtimeMs : 0;
  const sources = ["app", "components", "server", "db", "env.ts", "next.config.ts", "package.json"].map((p) =>
    newestMtime(path.join(ROOT, p)),
  );
  if (built > Math.max(...sources)) return;
  say("building the web UI (about 30 s on 2 cores; skipped next time unless the code changes)…");
  const child = run("build", "npx", ["next", "build"], env);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  children.splice(children.indexOf(child), 1);
  if (code !== 0) throw new Error(`next build failed (exit ${code}); run \`npx next build\` to see why`);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

/**
 * Fronts every demo cluster with a real nginx (when installed) that Switchyard drives over SSH on a
 * simulated LB host, as it would a real LB box. Returns the banner lines.
 */
async function startLoadBalancer(
  db: ReturnType<typeof createDb>["db"],
  authorizedKey: string,
): Promise<string[]> {
  if (!existsSync(NGINX_BIN)) {
    await detachDemoLoadBalancers(db);
    return [
      `Traffic:     nginx is not installed (${NGINX_BIN}), so the clusters have no load balancer;`,
      "                 switchovers skip the traffic step. Install nginx-light to see traffic move.",
    ];
  }
  try {
    const lbHost = await startSimLbHost({
      name: "lb-1",
      host: DEMO_LB_HOST,
      port: profile.sshPort,
      dataDir: path.join(dataDir, "sim"),
      authorizedKeys: authorizedKey,
    });
    cleanups.push(() => lbHost.stop());
    const nginxDir = path.join(dataDir, "nginx");
    await fs.mkdir(nginxDir, { recursive: true });
    const nginx = await startNginx({
      dir: nginxDir,
      clusters: DEMO_CLUSTERS.map((c, i) => ({
        clusterName: c.name,
        listenHost: "127.0.0.1",
        listenPort: profile.lbBasePort + i,
      })),
      upstreams: await demoUpstreams(db),
    });
    cleanups.push(() => nginx.stop());
    await upsertDemoLoadBalancers(db, {
      sshPort: lbHost.port,
      hostKeyFingerprint: lbHost.hostKeyFingerprint,
      nginxBin: NGINX_BIN,
      nginxConfPath: nginx.confPath,
      endpoints: new Map(
        DEMO_CLUSTERS.map((c) => [
          c.name,
          { upstreamPath: nginx.upstreamPath(c.name), url: nginx.url(c.name) },
        ]),
      ),
    });
    say(`nginx (pid ${nginx.pid}) fronts the clusters; LB host ${DEMO_LB_HOST}:${lbHost.port} over SSH`);
    return [
      `Traffic:     through nginx — ${DEMO_CLUSTERS.map((c) => `${c.name} ${nginx.url(c.name)}`).join(", ")}`,
      `             e.g. curl '${nginx.url(DEMO_CLUSTERS[0]?.name ?? "")}/api/v1/search?q=gpu'`,
    ];
  } catch (err) {
    await detachDemoLoadBalancers(db);
    return [
      `Traffic:     nginx could not start (${(err as Error).message}); switchovers skip the traffic step`,
    ];
  }
}

/**
 * The e2e stack fails clusters over again and again across runs on one data directory: with the
 * default anti-flap guards (5 min cooldown, frozen after 2 an hour) a second run would be refused.
 * Only this profile relaxes them, and says so in the audit log.
 */
async function relaxGuardsForTests(db: ReturnType<typeof createDb>["db"]): Promise<void> {
  await db.transaction(async (tx) => {
    const changed = await tx
      .update(policies)
      .set({
        cooldownS: 1,
        freezeAfterFailoversPerHour: 1000,
        version: sql`${policies.version} + 1`,
        updatedAt: new Date(),
      })
      .where(sql`${policies.cooldownS} <> 1 or ${policies.freezeAfterFailoversPerHour} <> 1000`)
      .returning({ clusterId: policies.clusterId });
    for (const row of changed) {
      await appendAudit(tx, {
        actorLabel: "demo",
        actorRole: "system",
        action: "policy.update",
        targetType: "policy",
        clusterId: row.clusterId,
        reason: "e2e profile: anti-flap guards relaxed so tests can fail over repeatedly",
        after: { cooldownS: 1, freezeAfterFailoversPerHour: 1000 },
      });
      await notifyInventoryChanged(tx, row.clusterId);
    }
  });
}

async function rememberedRoles(
  url: string,
): Promise<Map<string, { role: "master" | "standby"; epoch: number }>> {
  const { db, sql } = createDb(url, { max: 1, applicationName: "switchyard-demo" });
  try {
    const rows = await db.query.clusters.findMany({ with: { nodes: true } });
    const out = new Map<string, { role: "master" | "standby"; epoch: number }>();
    for (const c of rows) {
      for (const n of c.nodes) {
        const master = c.mode === "active_active" || n.id === c.primaryNodeId;
        out.set(n.name, { role: master ? "master" : "standby", epoch: c.epoch });
      }
    }
    return out;
  } finally {
    await sql.end();
  }
}

async function main() {
  const started = Date.now();
  await fs.mkdir(dataDir, { recursive: true });
  say(`data directory: ${dataDir}`);

  const database = await prepareDatabase({
    dataDir,
    databaseUrl: process.env.DATABASE_URL,
    log: (l) => args.verbose && console.log(`[postgres] ${l}`),
  });
  cleanups.push(database.stop);
  say(
    `database: ${database.embedded ? "embedded Postgres" : "DATABASE_URL"} ${redactUrl(database.url)} (migrated)`,
  );

  // Simulated nodes remember their role the way real ones do: on a restart each comes back as what
  // the last switchover made it (primary = master at the cluster's epoch), not as first seeded.
  const remembered = await rememberedRoles(database.url);
  const client = loadOrCreateClientKey(path.join(dataDir, "sim", "client_ed25519"));
  const fleet = await startFleet({
    dataDir: path.join(dataDir, "sim"),
    httpPort: profile.servicePort,
    sshPort: profile.sshPort,
    controlPort: profile.controlPort,
    authorizedKeys: client.publicKeyLine,
    nodes: DEMO_CLUSTERS.flatMap((c) =>
      c.nodes.map((n) => ({
        name: n.name,
        host: n.host,
        cluster: c.name,
        role:
          remembered.get(n.name)?.role ?? (n.role === "standby" ? ("standby" as const) : ("master" as const)),
        clusterMode: c.mode === "active_active" ? ("pool" as const) : ("active-standby" as const),
        // The seeded clusters start at epoch 1; nodes must not accept anything older.
        epoch: remembered.get(n.name)?.epoch ?? 1,
      })),
    ),
  });
  cleanups.push(() => fleet.stop());
  say(
    `simulated fleet: ${fleet.nodes.length} GPU nodes on 127.0.0.2-${fleet.nodes.length + 1} (HTTP :${profile.servicePort}, SSH :${profile.sshPort}); fault control on http://127.0.0.1:${profile.controlPort}`,
  );

  const { db, sql } = createDb(database.url, { max: 2, applicationName: "switchyard-demo" });
  const seeded = await seedDemoInventory(db, {
    secretKey: loadSecretKey(dataDir, { create: true }),
    clientPrivateKey: readFileSync(client.privateKeyPath, "utf8"),
    hostKeys: new Map(fleet.nodes.map((n) => [n.name, n.hostKeyFingerprint])),
    sshPort: profile.sshPort,
    servicePort: profile.servicePort,
  });
  const lbLines = await startLoadBalancer(db, client.publicKeyLine);
  const admin = await ensureDemoAdmin(db, dataDir);
  if (args.profile === "e2e") await relaxGuardsForTests(db);
  await sql.end();
  say(
    seeded.created.length
      ? `demo inventory created: ${seeded.created.join(", ")}`
      : "demo inventory: reusing the existing clusters",
  );
  if (seeded.repinned.length) say(`re-pinned regenerated simulator host keys: ${seeded.repinned.join(", ")}`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: database.url,
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_NEXT_DIST: profile.distDir,
    NEXT_TELEMETRY_DISABLED: "1",
    NODE_ENV: "production",
  };
  const controller = run("controller", process.execPath, ["--import", "tsx", "server/controller/main.ts"], {
    ...env,
    SWITCHYARD_CONTROLLER_METRICS_PORT: String(profile.metricsPort),
  });
  controller.once("exit", (code) => {
    if (!stopping) say(`the controller exited (code ${code}); node states will stop updating`);
  });
  await buildIfStale(env);
  const web = run(
    "web",
    "npx",
    ["next", "start", "-p", String(port), "-H", process.env.HOST ?? "127.0.0.1"],
    {
      ...env,
      PORT: String(port),
    },
  );
  web.once("exit", (code) => {
    if (!stopping) {
      say(`the web server exited (code ${code})`);
      void shutdown(1);
    }
  });
  await waitForHttp(`http://127.0.0.1:${port}/api/health`, 120_000);

  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`
  Switchyard is running (started in ${secs} s)

    Open:        http://localhost:${port}
    Login:       ${admin.username} / ${admin.password ?? `(set earlier; reset: npm run user:password -- --username admin --generate)`}${admin.created ? `   (generated now; kept in ${path.relative(ROOT, admin.file)}, mode 0600)` : ""}
    Fleet:       ${DEMO_CLUSTERS.map((c) => `${c.name} (${c.nodes.length})`).join(", ")}
    Controller:  probing every node each second; metrics on http://127.0.0.1:${profile.metricsPort}/metrics
    Faults:      npm run sim:fault -- gte-a crash   (see README for the list)
${lbLines.map((l) => `    ${l}`).join("\n")}

  Press Ctrl-C to stop everything.
`);
}

main().catch((err: Error) => {
  console.error(`[demo] failed: ${err.message}`);
  void shutdown(1);
});
