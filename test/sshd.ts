// A throwaway OpenSSH sshd for tests that must prove the SSH client against the real server, not
// only against the simulator's ssh2-based one. Needs root and openssh-server (which
// scripts/ensure-system-deps.sh installs); without them startSshd() throws an error saying so.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fingerprintOpenSshPublicKey } from "@/server/ssh/fingerprint";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";

const execFileAsync = promisify(execFile);

export const SSHD_PATH = "/usr/sbin/sshd";
const PRIVSEP_DIR = "/run/sshd";

export type StartSshdOptions = {
  /** How long to wait for the port to accept TCP connections. Default 10 s. */
  startTimeoutMs?: number;
  /** sshd LogLevel. Default INFO (enough to see "Accepted publickey" lines). */
  logLevel?: "QUIET" | "FATAL" | "ERROR" | "INFO" | "VERBOSE" | "DEBUG" | "DEBUG1" | "DEBUG2" | "DEBUG3";
  /** Extra sshd_config lines, appended as written. */
  extraConfig?: string[];
};

export type TestSshd = {
  host: "127.0.0.1";
  port: number;
  /** `SHA256:...` of the server's ed25519 host key (`<dir>/host_ed25519.pub`). */
  hostKeyFingerprint: string;
  hostPublicKeyPath: string;
  /** OpenSSH private key text whose public half is in `<dir>/authorized_keys`. */
  clientPrivateKey: string;
  username: string;
  /** Temp dir holding keys, config and pid file; removed by stop(). */
  dir: string;
  pid: number;
  /** Everything sshd has written to stderr so far (its log, with -e). */
  log(): string;
  stop(): Promise<void>;
};

/** Starts `sshd -D -e` on 127.0.0.1 and a free port, with fresh host and client keys. */
export async function startSshd(options: StartSshdOptions = {}): Promise<TestSshd> {
  if (!existsSync(SSHD_PATH)) {
    throw new Error(
      `${SSHD_PATH} is missing: install openssh-server (Debian/Ubuntu: apt-get install -y openssh-server, ` +
        "or run scripts/ensure-system-deps.sh) to run the OpenSSH tests",
    );
  }
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error(
      "the OpenSSH tests start a real sshd (openssh-server) and must run as root, as they do in CI",
    );
  }
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const username = os.userInfo().username;

  // sshd refuses to start without its privilege separation directory (root-owned, not writable by others).
  await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  await chmod(PRIVSEP_DIR, 0o755);

  const dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-sshd-"));
  try {
    await chmod(dir, 0o755);
    const hostKey = path.join(dir, "host_ed25519");
    await execFileAsync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "switchyard-test-sshd",
      "-f",
      hostKey,
    ]);
    const hostPublicKeyPath = `${hostKey}.pub`;
    const hostKeyFingerprint = fingerprintOpenSshPublicKey(await readFile(hostPublicKeyPath, "utf8"));

    const client = generateEd25519KeyPair("switchyard-openssh-test");
    const authorizedKeys = path.join(dir, "authorized_keys");
    await writeFile(authorizedKeys, `${client.publicKey}\n`, { mode: 0o644 });

    const configPath = path.join(dir, "sshd_config");
    const pidFile = path.join(dir, "sshd.pid");
    let lastError: Error | null = null;
    // The free port can be taken between probing and sshd binding it: retry with another one.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      await writeFile(
        configPath,
        [
          "ListenAddress 127.0.0.1",
          `Port ${port}`,
          `HostKey ${hostKey}`,
          `PidFile ${pidFile}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "PubkeyAuthentication yes",
          "PermitRootLogin prohibit-password",
          "UsePAM no",
          "StrictModes no",
          `AllowUsers ${username}`,
          `LogLevel ${options.logLevel ?? "INFO"}`,
          ...(options.extraConfig ?? []),
          "",
        ].join("\n"),
        { mode: 0o644 },
      );
      await checkConfig(configPath);
      try {
        const child = await launch(configPath, port, startTimeoutMs);
        return {
          host: "127.0.0.1",
          port,
          hostKeyFingerprint,
          hostPublicKeyPath,
          clientPrivateKey: client.privateKey,
          username,
          dir,
          pid: child.pid,
          log: child.log,
          stop: async () => {
            await child.stop();
            await rm(dir, { recursive: true, force: true });
          },
        };
      } catch (err) {
        lastError = err as Error;
        if (!/Address already in use|Cannot bind any address/i.test(lastError.message)) throw lastError;
      }
    }
    throw lastError ?? new Error("sshd did not start");
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function checkConfig(configPath: string): Promise<void> {
  try {
    await execFileAsync(SSHD_PATH, ["-t", "-f", configPath], { timeout: 10_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`sshd -t rejected the test config: ${(e.stderr ?? "").trim() || e.message}`);
  }
}

type Launched = { pid: number; log: () => string; stop: () => Promise<void> };

async function launch(configPath: string, port: number, startTimeoutMs: number): Promise<Launched> {
  // Absolute path: sshd re-executes itself for every connection and refuses a relative argv[0].
  const child: ChildProcess = spawn(SSHD_PATH, ["-D", "-e", "-f", configPath], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (text: string) => {
    // Bounded: keep the last 256 KiB.
    stderr = (stderr + text).slice(-256 * 1024);
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

  const stop = async () => {
    if (exited || child.pid === undefined) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (!exited) child.kill("SIGKILL");
    }, 5_000);
    await exitPromise;
    clearTimeout(timer);
  };

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`could not start sshd: ${(spawnError as Error).message}`);
    if (exited) {
      const status = exited as { code: number | null; signal: NodeJS.Signals | null };
      throw new Error(
        `sshd exited during startup (code ${status.code}, signal ${status.signal}): ${stderr.trim()}`,
      );
    }
    if (await acceptsTcp(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `sshd did not accept connections on 127.0.0.1:${port} within ${startTimeoutMs} ms: ${stderr.trim()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (child.pid === undefined) throw new Error("sshd has no pid");
  return { pid: child.pid, log: () => stderr, stop };
}

function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = address && typeof address === "object" ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}
