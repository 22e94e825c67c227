// A local nginx run by Switchyard itself, for the demo, the tests and the benchmark (in production
// nginx is yours and runs on the LB host): `nginx -p <dir> -c <dir>/nginx.conf -g 'daemon off;'` on loopback, with the
// config from renderSiteConfig (all paths absolute, temp dirs under <dir>), one listen port per
// cluster, and each cluster's upstream in <dir>/upstreams/<cluster>.conf. Needs nginx (which
// scripts/ensure-system-deps.sh installs); without it startNginx() throws an error saying so.
//
// nginx runs in its own process group so stop() can take the master and its workers down by PID
// (SIGQUIT to the master for a graceful stop, then SIGKILL to the group if it lingers).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { renderSiteConfig, upstreamName } from "@/server/lb/nginx-config";
import { findFreePort } from "@/sim/testing";

export const NGINX_BIN = resolveNginxBin();

function resolveNginxBin(): string {
  const fromEnv = process.env.SWITCHYARD_NGINX_BIN;
  if (fromEnv && path.isAbsolute(fromEnv)) return fromEnv;
  return "/usr/sbin/nginx";
}

export type TestNginxCluster = {
  clusterName: string;
  /** Default 127.0.0.1. */
  listenHost?: string;
  /** Default: a free port on listenHost. */
  listenPort?: number;
};

export type StartNginxOptions = {
  /** An existing directory nginx may own (config, pid, logs, temp dirs, upstream files). */
  dir: string;
  clusters: TestNginxCluster[];
  /** Initial upstream include text per cluster name (e.g. from renderUpstream). */
  upstreams: Record<string, string>;
  /** Log every request with its upstream address to <dir>/access.log. Default false. */
  accessLog?: boolean;
  /** How long to wait for every listener to answer HTTP. Default 10 s. */
  startTimeoutMs?: number;
};

export type TestNginx = {
  pid: number;
  dir: string;
  confPath: string;
  pidPath: string;
  errorLogPath: string;
  /** The include file Switchyard rewrites for `cluster`. */
  upstreamPath(cluster: string): string;
  /** `http://host:port` of the cluster's listener (no trailing slash). */
  url(cluster: string): string;
  /** Reloads the master has started so far (counted from its `reconfiguring` log lines). */
  reloadCount(): Promise<number>;
  /** nginx's error log so far, plus anything it printed on stderr. */
  log(): Promise<string>;
  stop(): Promise<void>;
};

export async function startNginx(options: StartNginxOptions): Promise<TestNginx> {
  if (!existsSync(NGINX_BIN)) {
    throw new Error(
      `${NGINX_BIN} is missing: install nginx (Debian/Ubuntu: apt-get install -y nginx-light, or run ` +
        "scripts/ensure-system-deps.sh) to front the clusters with nginx",
    );
  }
  const dir = path.resolve(options.dir);
  const confPath = path.join(dir, "nginx.conf");
  const pidPath = path.join(dir, "nginx.pid");
  const errorLogPath = path.join(dir, "error.log");
  const upstreamDir = path.join(dir, "upstreams");
  // Workers run as an unprivileged user and buffer to temp dirs under <dir>: they must traverse it.
  await chmod(dir, 0o755);
  await mkdir(upstreamDir, { recursive: true, mode: 0o755 });
  await stopStaleNginx(pidPath, confPath);
  const upstreamPath = (cluster: string) => {
    upstreamName(cluster); // validates the name before it becomes a path
    return path.join(upstreamDir, `${cluster}.conf`);
  };
  for (const c of options.clusters) {
    const text = options.upstreams[c.clusterName];
    if (text === undefined) throw new Error(`startNginx: no initial upstream for cluster ${c.clusterName}`);
    await writeFile(upstreamPath(c.clusterName), text, { mode: 0o644 });
  }

  let lastError: Error | null = null;
  // A free port can be taken between probing and nginx binding it: retry with other ports.
  for (let attempt = 0; attempt < 3; attempt++) {
    const listeners = new Map<string, { host: string; port: number }>();
    for (const c of options.clusters) {
      const host = c.listenHost ?? "127.0.0.1";
      listeners.set(c.clusterName, { host, port: c.listenPort ?? (await findFreePort([host])) });
    }
    await writeFile(
      confPath,
      renderSiteConfig({
        clusters: options.clusters.map((c) => {
          const l = listeners.get(c.clusterName) as { host: string; port: number };
          return {
            clusterName: c.clusterName,
            listenHost: l.host,
            listenPort: l.port,
            upstreamPath: upstreamPath(c.clusterName),
          };
        }),
        prefix: dir,
        pidPath,
        errorLogPath,
        errorLogLevel: "notice",
        accessLog: options.accessLog ?? false,
      }),
      { mode: 0o644 },
    );
    const url = (cluster: string) => {
      const l = listeners.get(cluster);
      if (!l) throw new Error(`startNginx: unknown cluster ${cluster}`);
      return `http://${l.host.includes(":") ? `[${l.host}]` : l.host}:${l.port}`;
    };
    try {
      const child = await launch(
        confPath,
        dir,
        options.clusters.map((c) => url(c.clusterName)),
        options.startTimeoutMs ?? 10_000,
        errorLogPath,
      );
      return {
        pid: child.pid,
        dir,
        confPath,
        pidPath,
        errorLogPath,
        upstreamPath,
        url,
        async reloadCount() {
          const text = await readFile(errorLogPath, "utf8").catch(() => "");
          // One "...: reconfiguring" line per reload (the "SIGHUP received ..., reconfiguring" line is another).
          return text.split("\n").filter((l) => /: reconfiguring$/.test(l)).length;
        },
        async log() {
          const text = await readFile(errorLogPath, "utf8").catch(() => "");
          return `${text}${child.stderr()}`;
        },
        stop: child.stop,
      };
    } catch (err) {
      lastError = err as Error;
      if (!/Address already in use|bind\(\) to/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError ?? new Error("nginx did not start");
}

type Launched = { pid: number; stderr: () => string; stop: () => Promise<void> };

async function launch(
  confPath: string,
  prefix: string,
  urls: string[],
  startTimeoutMs: number,
  errorLogPath: string,
): Promise<Launched> {
  const child: ChildProcess = spawn(NGINX_BIN, ["-p", prefix, "-c", confPath, "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
    // Its own process group (pgid = its pid), so the workers can be killed with it by PID.
    detached: true,
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (text: string) => {
    stderr = (stderr + text).slice(-64 * 1024);
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  let spawnError: Error | null = null;
  child.once("error", (err) => {
    spawnError = err;
  });
  const pid = child.pid;

  const stop = async () => {
    if (pid === undefined) return;
    if (!exited) {
      // Graceful first: the master finishes in-flight requests and takes its workers with it.
      signal(pid, "SIGQUIT");
      const graceful = await Promise.race([exitPromise.then(() => true), sleep(3_000).then(() => false)]);
      if (!graceful) {
        signalGroup(pid, "SIGKILL");
        await Promise.race([exitPromise, sleep(2_000)]);
      }
    }
    // Workers outlive a killed master; make sure none of the group is left either way.
    signalGroup(pid, "SIGKILL");
  };

  const errorLog = async () => (await readFile(errorLogPath, "utf8").catch(() => "")).trim();
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`could not start nginx: ${(spawnError as Error).message}`);
    if (exited) {
      const status = exited as { code: number | null; signal: NodeJS.Signals | null };
      throw new Error(
        `nginx exited during startup (code ${status.code}, signal ${status.signal}): ` +
          `${stderr.trim()} ${(await errorLog()).slice(-2_000)}`,
      );
    }
    const answers = await Promise.all(urls.map(answersHttp));
    if (answers.every(Boolean)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `nginx did not answer on ${urls.join(", ")} within ${startTimeoutMs} ms: ${stderr.trim()} ${await errorLog()}`,
      );
    }
    await sleep(50);
  }
  if (pid === undefined) throw new Error("nginx has no pid");
  return { pid, stderr: () => stderr, stop };
}

/** Any HTTP answer counts (a 502 from an upstream that is still starting is nginx answering). */
function answersHttp(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/health`, { agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(true));
      res.on("error", () => resolve(true));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(false));
  });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // no process left in the group
  }
}

/**
 * A previous run that was killed (SIGKILL, a closed terminal) leaves its nginx running with our
 * pid file and config: stop it, or the new one cannot bind its ports. Only a process whose command
 * line names this very config file is touched.
 */
async function stopStaleNginx(pidPath: string, confPath: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(pidPath, "utf8")).trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  let cmdline = "";
  try {
    cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).replaceAll("\0", " ");
  } catch {
    return; // not running
  }
  if (!cmdline.includes("nginx") || !cmdline.includes(confPath)) return;
  signal(pid, "SIGQUIT");
  for (let i = 0; i < 30; i++) {
    await sleep(100);
    if (!existsSync(`/proc/${pid}`)) return;
  }
  signalGroup(pid, "SIGKILL");
  signal(pid, "SIGKILL");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
