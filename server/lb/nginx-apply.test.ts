// The traffic switch against the real thing: a real nginx in front of simulated nodes, the switch
// script run over SSH on the "LB host" — the simulator's SSH server (commands run locally under
// /bin/sh, dash on Debian) and a real OpenSSH sshd (commands run under root's login shell).
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSsh, exec, type SshConnection, SshExecError } from "@/server/ssh";
import { checkTemplate } from "@/server/switchover/template";
import { httpRequest, startTestFleet, type TestFleet } from "@/sim/testing";
import { NGINX_BIN, startNginx, type TestNginx } from "@/test/nginx";
import { startSshd, type TestSshd } from "@/test/sshd";
import { NGINX_SWITCH_TEMPLATE, renderSwitchCommand } from "./nginx-apply";
import { renderSiteConfig, renderUpstream, type UpstreamMember } from "./nginx-config";

const execFileAsync = promisify(execFile);
const CLUSTER = "lb-test";

let t: TestFleet;
let lbSsh: SshConnection;
let sshd: TestSshd;
let opensshConn: SshConnection;
let nginx: TestNginx;
let dir: string;
let upstreamPath: string;

beforeAll(async () => {
  t = await startTestFleet([
    { name: "node-a", host: "127.0.0.2", cluster: CLUSTER, role: "master" },
    { name: "node-b", host: "127.0.0.3", cluster: CLUSTER, role: "standby" },
    { name: "node-c", host: "127.0.0.4", cluster: CLUSTER, role: "standby" },
    // The load balancer host: its SSH server runs commands on this machine, where nginx runs.
    { name: "edge-1", host: "127.0.0.5", cluster: "edge", role: "master" },
  ]);
  lbSsh = await t.connect(t.fleet.getNode("edge-1"));
  dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-nginx-"));
  nginx = await startNginx({
    dir,
    clusters: [{ clusterName: CLUSTER }],
    upstreams: { [CLUSTER]: upstreamFor("node-a", 1) },
  });
  upstreamPath = nginx.upstreamPath(CLUSTER);
  sshd = await startSshd();
  opensshConn = await connectSsh({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.clientPrivateKey,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    readyTimeoutMs: 5_000,
    node: "openssh-lb",
  });
});

afterAll(async () => {
  await opensshConn?.close();
  await sshd?.stop();
  await nginx?.stop();
  await t?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The upstream the engine would render: `active` serves, the other nodes are backups. */
function upstreamFor(active: string, epoch: number, others: UpstreamMember["state"] = "backup"): string {
  return renderUpstream({
    clusterName: CLUSTER,
    mode: "active-standby",
    epoch,
    members: ["node-a", "node-b", "node-c"].map((name, i) => ({
      name,
      host: `127.0.0.${i + 2}`,
      port: t.fleet.getNode(name).httpPort,
      weight: 1,
      state: name === active ? "active" : others,
    })),
  });
}

function switchCommand(
  upstreamConfig: string,
  epoch: number,
  overrides: { path?: string; conf?: string } = {},
) {
  return renderSwitchCommand({
    upstreamPath: overrides.path ?? upstreamPath,
    upstreamConfig,
    epoch,
    nginxBin: NGINX_BIN,
    nginxConf: overrides.conf ?? nginx.confPath,
  });
}

/** Runs the switch and returns the SshExecError it failed with (the test fails if it succeeded). */
async function switchFails(conn: SshConnection, command: string): Promise<SshExecError> {
  const err = await exec(conn, command, { timeoutMs: 20_000 }).then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof SshExecError)) throw new Error(`expected the switch to fail, got ${String(err)}`);
  return err;
}

/** Which node answers `count` fresh-connection requests through nginx, in order. */
async function servedBy(count = 10): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await httpRequest(`${nginx.url(CLUSTER)}/health`, { timeoutMs: 5_000 });
    expect(res.status).toBe(200);
    names.push((res.body as { node: string }).node);
  }
  return names;
}

/** The switch leaves only the file, its previous version and its lock file in the directory. */
async function expectNoScratchFiles(where = path.dirname(upstreamPath)): Promise<void> {
  const names = await readdir(where);
  expect(names.filter((n) => /switchyard-(new|dump)/.test(n))).toEqual([]);
  for (const n of names.filter((n) => n.startsWith("."))) {
    expect(n).toMatch(/^\.[a-z0-9-]+\.conf\.switchyard-(prev|lock)$/);
  }
}

describe("the switch script", () => {
  it("is a valid lb template using only the LB variables", () => {
    expect(checkTemplate(NGINX_SWITCH_TEMPLATE, "lb").sort()).toEqual(
      ["epoch", "nginx_bin", "nginx_conf", "upstream_config", "upstream_path"].sort(),
    );
  });

  it("quotes every value (a hostile config text stays data)", async () => {
    const marker = path.join(dir, "pwned");
    const command = switchCommand(
      `# switchyard-epoch: 1\n'; touch ${marker}; '$(touch ${marker})\`touch ${marker}\``,
      1,
      {
        path: path.join(dir, "spare", "hostile.conf"),
      },
    );
    // The spare dir does not exist: the script stops at its first check, before running anything.
    const err = await switchFails(lbSsh, command);
    expect(err.exitCode).toBe(2);
    await expect(readFile(marker)).rejects.toThrow(/ENOENT/);
  });
});

describe("switching nginx over SSH (simulator SSH server as the LB host, /bin/sh)", () => {
  it("runs under dash here, as on a Debian LB host", async () => {
    expect(path.basename(await realpath("/bin/sh"))).toBe("dash");
  });

  it("moves traffic to the new primary, and it is in effect when the command returns", async () => {
    expect(new Set(await servedBy(5))).toEqual(new Set(["node-a"]));
    const before = await readFile(upstreamPath, "utf8");
    const reloads = await nginx.reloadCount();
    const next = upstreamFor("node-b", 2);

    const result = await exec(lbSsh, switchCommand(next, 2), { timeoutMs: 20_000 });

    expect(result.stdout.trim()).toBe(`switched ${upstreamPath} to epoch 2 (was 1); nginx reloaded`);
    // Fresh connections, right away: no old worker is still accepting with the old upstream.
    expect(new Set(await servedBy(20))).toEqual(new Set(["node-b"]));
    expect(await readFile(upstreamPath, "utf8")).toBe(next);
    expect(
      await readFile(path.join(path.dirname(upstreamPath), `.${CLUSTER}.conf.switchyard-prev`), "utf8"),
    ).toBe(before);
    expect(await nginx.reloadCount()).toBe(reloads + 1);
    await expectNoScratchFiles();
  });

  it("re-running the same epoch is idempotent (and reloads, to finish a run that died before its reload)", async () => {
    const current = await readFile(upstreamPath, "utf8");
    const reloads = await nginx.reloadCount();
    const result = await exec(lbSsh, switchCommand(current, 2), { timeoutMs: 20_000 });
    expect(result.stdout).toContain("to epoch 2 (was 2)");
    expect(await readFile(upstreamPath, "utf8")).toBe(current);
    expect(new Set(await servedBy(10))).toEqual(new Set(["node-b"]));
    expect(await nginx.reloadCount()).toBe(reloads + 1);
    await expectNoScratchFiles();
  });

  it("never overwrites a file that carries a newer epoch: exit 3, file and traffic unchanged", async () => {
    const before = await readFile(upstreamPath);
    const reloads = await nginx.reloadCount();
    const err = await switchFails(lbSsh, switchCommand(upstreamFor("node-a", 1), 1));
    expect(err.exitCode).toBe(3);
    expect(err.stderr).toContain(
      `refusing to rewrite ${upstreamPath}: it carries epoch 2, newer than this switchover's epoch 1`,
    );
    expect(err.stdout).toBe("");
    expect((await readFile(upstreamPath)).equals(before)).toBe(true);
    expect(new Set(await servedBy(10))).toEqual(new Set(["node-b"]));
    expect(await nginx.reloadCount()).toBe(reloads);
    await expectNoScratchFiles();
  });

  it("restores the previous file byte for byte when nginx -t rejects the new one (exit 4), and keeps serving", async () => {
    const before = await readFile(upstreamPath);
    const reloads = await nginx.reloadCount();
    // Raw text, bypassing renderUpstream's validation: a server line nginx refuses.
    const broken = `# switchyard-epoch: 3\nupstream switchyard_lb_test {\n    server 127.0.0.4:notaport;\n}\n`;
    const err = await switchFails(lbSsh, switchCommand(broken, 3));
    expect(err.exitCode).toBe(4);
    expect(err.stderr).toContain("nginx rejected the new config");
    expect(err.stderr).toMatch(/invalid port in upstream "127\.0\.0\.4:notaport"/);
    expect(err.stderr).toContain("test failed");
    expect((await readFile(upstreamPath)).equals(before)).toBe(true);
    expect(new Set(await servedBy(10))).toEqual(new Set(["node-b"]));
    expect(await nginx.reloadCount()).toBe(reloads);
    await expectNoScratchFiles();
  });

  it("removes the new file when there was none before and nginx -t fails (a broken main config)", async () => {
    const spare = path.join(dir, "spare");
    await mkdir(spare, { recursive: true });
    const brokenConf = path.join(dir, "broken.conf");
    await writeFile(brokenConf, "this is not an nginx directive;\n");
    const fresh = path.join(spare, "fresh.conf");
    const err = await switchFails(
      lbSsh,
      switchCommand(upstreamFor("node-c", 3), 3, { path: fresh, conf: brokenConf }),
    );
    expect(err.exitCode).toBe(4);
    expect(err.stderr).toMatch(/unknown directive "this"/);
    await expect(readFile(fresh)).rejects.toThrow(/ENOENT/);
    await expectNoScratchFiles(spare);
    expect(new Set(await servedBy(5))).toEqual(new Set(["node-b"]));
  });

  it("restores the previous file when the reload fails (exit 5): no master behind the config's pid file", async () => {
    // A valid config for an nginx that is not running: -t passes, -s reload cannot find a master.
    const other = path.join(dir, "other");
    await mkdir(other, { recursive: true });
    const otherUpstream = path.join(other, "lb-test.conf");
    const previous = upstreamFor("node-a", 1);
    await writeFile(otherUpstream, previous);
    const otherConf = path.join(other, "nginx.conf");
    await writeFile(
      otherConf,
      renderSiteConfig({
        clusters: [
          { clusterName: CLUSTER, listenHost: "127.0.0.1", listenPort: 9, upstreamPath: otherUpstream },
        ],
        prefix: other,
        pidPath: path.join(other, "not-running.pid"),
        errorLogPath: path.join(other, "error.log"),
      }),
    );
    const err = await switchFails(
      lbSsh,
      switchCommand(upstreamFor("node-c", 3), 3, { path: otherUpstream, conf: otherConf }),
    );
    expect(err.exitCode).toBe(5);
    expect(err.stderr).toContain("nginx -s reload failed");
    expect(await readFile(otherUpstream, "utf8")).toBe(previous);
    await expectNoScratchFiles(other);
  });

  it("refuses content whose own epoch header does not match the switch's epoch (exit 2)", async () => {
    const before = await readFile(upstreamPath);
    const err = await switchFails(lbSsh, switchCommand(upstreamFor("node-c", 7), 8));
    expect(err.exitCode).toBe(2);
    expect(err.stderr).toContain("does not start with '# switchyard-epoch: 8'");
    const headerless = await switchFails(lbSsh, switchCommand("upstream x { server 127.0.0.4:1; }\n", 8));
    expect(headerless.exitCode).toBe(2);
    expect((await readFile(upstreamPath)).equals(before)).toBe(true);
    await expectNoScratchFiles();
  });
});

describe("switching nginx over real OpenSSH (sshd, root's login shell)", () => {
  it("moves traffic from node-b to node-c", async () => {
    const next = upstreamFor("node-c", 4, "down");
    const result = await exec(opensshConn, switchCommand(next, 4), { timeoutMs: 20_000 });
    expect(result.stdout.trim()).toBe(`switched ${upstreamPath} to epoch 4 (was 2); nginx reloaded`);
    expect(new Set(await servedBy(20))).toEqual(new Set(["node-c"]));
    expect(await readFile(upstreamPath, "utf8")).toBe(next);
    await expectNoScratchFiles();
  });

  it("refuses a stale epoch there too", async () => {
    const before = await readFile(upstreamPath);
    const err = await switchFails(opensshConn, switchCommand(upstreamFor("node-b", 3), 3));
    expect(err.exitCode).toBe(3);
    expect(err.stderr).toContain("it carries epoch 4, newer than this switchover's epoch 3");
    expect((await readFile(upstreamPath)).equals(before)).toBe(true);
    expect(new Set(await servedBy(5))).toEqual(new Set(["node-c"]));
  });
});

describe("a switch under continuous traffic", () => {
  it("loses no request while traffic moves from node-c to node-a", async () => {
    type Sample = { startedAt: number; status: number; node: string | null; error: string | null };
    const samples: Sample[] = [];
    const MIN_REQUESTS = 50;
    const MIN_AFTER_SWITCH = 15;
    const MAX_REQUESTS = 600;
    const deadline = Date.now() + 20_000;
    let switchedAt: number | null = null;
    const url = `${nginx.url(CLUSTER)}/api/v1/search?q=${encodeURIComponent("failover drill")}&k=3`;

    const worker = async () => {
      while (samples.length < MAX_REQUESTS && Date.now() < deadline) {
        if (switchedAt !== null && samples.length >= MIN_REQUESTS) {
          const after = samples.filter((x) => x.startedAt > (switchedAt as number)).length;
          if (after >= MIN_AFTER_SWITCH) return;
        }
        const startedAt = performance.now();
        try {
          const res = await httpRequest(url, { timeoutMs: 5_000 });
          const node = typeof res.body === "object" && res.body ? (res.body as { node?: string }).node : null;
          samples.push({ startedAt, status: res.status, node: node ?? null, error: null });
        } catch (err) {
          samples.push({ startedAt, status: 0, node: null, error: (err as Error).message });
        }
      }
    };
    const doSwitch = async () => {
      // Let traffic flow for a bit first, so the switch lands in the middle of it.
      while (samples.length < 15 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await exec(lbSsh, switchCommand(upstreamFor("node-a", 5), 5), { timeoutMs: 20_000 });
      switchedAt = performance.now();
    };
    await Promise.all([worker(), worker(), worker(), doSwitch()]);

    expect(switchedAt).not.toBeNull();
    expect(samples.length).toBeGreaterThanOrEqual(MIN_REQUESTS);
    const failed = samples.filter((s) => s.status !== 200);
    expect(failed).toEqual([]);
    const nodesSeen = new Set(samples.map((s) => s.node));
    expect(nodesSeen).toEqual(new Set(["node-c", "node-a"]));
    // Every request that started after the command returned went to the new primary.
    const after = samples.filter((s) => s.startedAt > (switchedAt as number));
    expect(after.length).toBeGreaterThanOrEqual(MIN_AFTER_SWITCH);
    expect(new Set(after.map((s) => s.node))).toEqual(new Set(["node-a"]));
    await expectNoScratchFiles();
  });
});

describe("the shapes renderUpstream produces, against nginx -t", () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), "switchyard-nginx-t-"));
    await chmod(scratch, 0o755);
  });
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function nginxTest(upstreamText: string): Promise<{ ok: boolean; output: string }> {
    const include = path.join(scratch, "up.conf");
    await writeFile(include, upstreamText);
    const conf = path.join(scratch, "nginx.conf");
    await writeFile(
      conf,
      renderSiteConfig({
        clusters: [{ clusterName: "pool", listenHost: "127.0.0.1", listenPort: 9, upstreamPath: include }],
        prefix: scratch,
        pidPath: path.join(scratch, "nginx.pid"),
        errorLogPath: path.join(scratch, "error.log"),
      }),
    );
    try {
      const { stderr } = await execFileAsync(NGINX_BIN, ["-t", "-c", conf], { timeout: 10_000 });
      return { ok: true, output: stderr };
    } catch (err) {
      return { ok: false, output: (err as { stderr?: string }).stderr ?? String(err) };
    }
  }

  const m = (name: string, host: string, state: UpstreamMember["state"], weight = 1): UpstreamMember => ({
    name,
    host,
    port: 8000,
    weight,
    state,
  });

  it.each([
    [
      "active-standby with a backup and a down standby",
      "active-standby",
      [m("a", "127.0.0.2", "active"), m("b", "127.0.0.3", "backup"), m("c", "::1", "down")],
    ],
    [
      "active-standby with only down standbys",
      "active-standby",
      [m("a", "127.0.0.2", "active"), m("b", "127.0.0.3", "down")],
    ],
    [
      "an active-active weighted pool with an ejected member",
      "active-active",
      [m("a", "127.0.0.2", "active", 3), m("b", "127.0.0.3", "active", 1), m("c", "127.0.0.4", "down")],
    ],
    [
      "an active-active pool with a drained (weight 0) member",
      "active-active",
      [m("a", "127.0.0.2", "active", 2), m("b", "127.0.0.3", "active", 0)],
    ],
  ] as const)("%s passes", async (_label, mode, members) => {
    const text = renderUpstream({ clusterName: "pool", mode, epoch: 1, members: [...members] });
    const result = await nginxTest(text);
    expect(result.ok, result.output).toBe(true);
  });

  it("an upstream of only backups fails nginx -t, which is why renderUpstream refuses to write one", async () => {
    const result = await nginxTest("upstream switchyard_pool {\n    server 127.0.0.2:8000 backup;\n}\n");
    expect(result.ok).toBe(false);
    expect(result.output).toContain('no servers in upstream "switchyard_pool"');
  });
});

describe("the switch script's nginx arguments (a recording stand-in for nginx, no reload to wait for)", () => {
  let scratch: string;
  let fakeNginx: string;
  let argsLog: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), "switchyard-fake-nginx-"));
    argsLog = path.join(scratch, "args.log");
    fakeNginx = path.join(scratch, "nginx");
    await writeFile(fakeNginx, `#!/bin/sh\necho "$*" >> ${argsLog}\nexit 0\n`, { mode: 0o755 });
  });
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("omits -c when nginx_conf is empty (nginx's default config)", async () => {
    const target = path.join(scratch, "c1.conf");
    const command = renderSwitchCommand({
      upstreamPath: target,
      upstreamConfig: upstreamFor("node-a", 9),
      epoch: 9,
      nginxBin: fakeNginx,
      nginxConf: "",
    });
    expect(command).toContain("conf=''");
    const result = await exec(lbSsh, command, { timeoutMs: 20_000 });
    expect(result.stdout).toContain(
      `switched ${target} to epoch 9 (was none); nginx reloaded (old nginx workers not found`,
    );
    expect(result.stderr).toContain("could not find nginx's worker processes");
    expect((await readFile(argsLog, "utf8")).trim().split("\n")).toEqual(["-T", "-V", "-s reload"]);
  });

  it("refuses a file whose epoch header it cannot read (exit 3), rather than guess", async () => {
    const target = path.join(scratch, "c2.conf");
    const garbage = "# switchyard-epoch: 12x\nupstream x {}\n";
    await writeFile(target, garbage);
    const err = await switchFails(
      lbSsh,
      renderSwitchCommand({
        upstreamPath: target,
        upstreamConfig: upstreamFor("node-a", 9),
        epoch: 9,
        nginxBin: fakeNginx,
        nginxConf: "",
      }),
    );
    expect(err.exitCode).toBe(3);
    expect(err.stderr).toContain("epoch header is unreadable");
    expect(await readFile(target, "utf8")).toBe(garbage);
  });
});
