// The SSH client against real OpenSSH sshd (ssh.test.ts covers it against the simulator's ssh2
// server). Needs root and openssh-server, as in CI; test/sshd.ts says so clearly when either is missing.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type TestSshd } from "@/test/sshd";
import {
  type ConnectSshOptions,
  connectSsh,
  exec,
  fingerprintSshPublicKey,
  generateEd25519KeyPair,
  HostKeyMismatchError,
  HostKeyNotPinnedError,
  SshAbortError,
  SshAuthError,
  type SshConnection,
  SshExecError,
  SshTimeoutError,
  sh,
  stream,
} from "./index";

const execFileAsync = promisify(execFile);

let sshd: TestSshd;
let conn: SshConnection;
let scratch: string;
const extraConnections: SshConnection[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "switchyard-openssh-test-"));
  sshd = await startSshd();
  conn = await connectSsh(options());
});

afterAll(async () => {
  for (const c of extraConnections) await c.close().catch(() => {});
  await conn?.close().catch(() => {});
  await sshd?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function options(overrides: Partial<ConnectSshOptions> = {}): ConnectSshOptions {
  return {
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.clientPrivateKey,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    readyTimeoutMs: 5_000,
    node: "openssh",
    ...overrides,
  };
}

function marker(): string {
  return `switchyard-openssh-marker-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
}

/** PIDs whose command line contains `text` (pgrep never lists itself). */
async function pgrep(text: string): Promise<number[]> {
  try {
    const { stdout } = await execFileAsync("pgrep", ["-f", text]);
    return stdout.split("\n").filter(Boolean).map(Number);
  } catch (err) {
    if ((err as { code?: unknown }).code === 1) return [];
    throw err;
  }
}

/** Cleans up after the known-gap tests: nothing they start may outlive them. */
async function pkill(text: string): Promise<void> {
  await execFileAsync("pkill", ["-KILL", "-f", text]).catch(() => {});
  await expect.poll(() => pgrep(text), { timeout: 2_000, interval: 50 }).toEqual([]);
}

/** "Disconnected from 127.0.0.1 port N [preauth]": a client that left before authenticating. */
function preauthCloses(): number {
  return sshd.log().match(/(Disconnected from|Connection (closed|reset) by) .*\[preauth\]/g)?.length ?? 0;
}

function acceptedLogins(): number {
  return sshd.log().match(/Accepted publickey for /g)?.length ?? 0;
}

describe("OpenSSH sshd: host keys", () => {
  it("the pinned fingerprint equals ssh-keygen -lf's SHA256 and the connection reports it", async () => {
    const { stdout } = await execFileAsync("ssh-keygen", ["-lf", sshd.hostPublicKeyPath]);
    const fromKeygen = stdout.split(" ")[1];
    expect(fromKeygen).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(sshd.hostKeyFingerprint).toBe(fromKeygen);
    expect(conn.hostKeyFingerprint).toBe(fromKeygen);
    expect(conn.trustedOnFirstUse).toBe(false);
  });

  it("a wrong pinned fingerprint → HostKeyMismatchError, and sshd never authenticates anyone", async () => {
    const before = acceptedLogins();
    const preauthClosesBefore = preauthCloses();
    const wrong = fingerprintSshPublicKey(Buffer.from("some other host"));
    const err = await connectSsh(options({ hostKeyFingerprint: wrong })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err).toMatchObject({
      code: "SSH_HOST_KEY_MISMATCH",
      host: "127.0.0.1",
      port: sshd.port,
      expected: wrong,
      actual: sshd.hostKeyFingerprint,
    });
    // sshd saw the connection drop before authentication ("[preauth]") and logged no login.
    await expect.poll(preauthCloses, { timeout: 2_000 }).toBeGreaterThan(preauthClosesBefore);
    expect(acceptedLogins()).toBe(before);
  });

  it("an unpinned host is refused; trust-on-first-use connects and reports the presented key", async () => {
    const before = acceptedLogins();
    const refused = await connectSsh(options({ hostKeyFingerprint: null })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HostKeyNotPinnedError);
    expect(refused).toMatchObject({ code: "SSH_HOST_KEY_NOT_PINNED", actual: sshd.hostKeyFingerprint });
    expect(acceptedLogins()).toBe(before);

    const tofu = await connectSsh(options({ hostKeyFingerprint: null, trustOnFirstUse: true }));
    try {
      expect(tofu.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
      expect(tofu.trustedOnFirstUse).toBe(true);
      expect((await exec(tofu, "echo tofu")).stdout).toBe("tofu\n");
    } finally {
      await tofu.close();
    }
  });

  it("an unauthorized client key → SshAuthError", async () => {
    const err = await connectSsh(options({ privateKey: generateEd25519KeyPair().privateKey })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SshAuthError);
    expect(err).toMatchObject({ code: "SSH_AUTH_FAILED", username: sshd.username, port: sshd.port });
  });
});

describe("OpenSSH sshd: exec", () => {
  it("runs commands and returns stdout with exit code 0", async () => {
    const uname = await exec(conn, "uname -s", { timeoutMs: 5_000 });
    expect(uname).toMatchObject({ exitCode: 0, stdout: "Linux\n", stderr: "", truncated: false });
    const echo = await exec(conn, "echo hello world", { timeoutMs: 5_000 });
    expect(echo).toMatchObject({ exitCode: 0, stdout: "hello world\n" });
    const whoami = await exec(conn, "id -un", { timeoutMs: 5_000 });
    expect(whoami.stdout).toBe(`${sshd.username}\n`);
  });

  it("a non-zero exit → SshExecError with exit code, stdout and stderr", async () => {
    const command = "echo partial; echo 'it broke' >&2; exit 3";
    const err = await exec(conn, command, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshExecError);
    expect(err).toMatchObject({
      code: "SSH_EXEC_FAILED",
      exitCode: 3,
      signal: null,
      stdout: "partial\n",
      stderr: "it broke\n",
      command,
      node: "openssh",
    });
  });

  it("feeds stdin and sees EOF", async () => {
    const result = await exec(conn, "cat; echo :done", { stdin: "from stdin\n", timeoutMs: 5_000 });
    expect(result.stdout).toBe("from stdin\n:done\n");
  });

  it("times out a command that keeps writing, and the remote process is gone within 2 s", async () => {
    const tag = marker();
    const err = await exec(conn, `while :; do echo tick; sleep 0.1; done; : ${tag}`, {
      timeoutMs: 500,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshTimeoutError);
    expect(err).toMatchObject({ code: "SSH_TIMEOUT", phase: "exec", timeoutMs: 500 });
    await expect.poll(() => pgrep(tag), { timeout: 2_000, interval: 100 }).toEqual([]);
    expect(conn.activeChannels).toBe(0);
  });

  // KNOWN GAP, see the comment in runChannel (client.ts): as root, sshd refuses the TERM signal
  // request and only closes the command's pipes, so a command that neither writes nor ends by
  // itself outlives its timeout. `it.fails` keeps the gap visible: once the client really stops
  // such commands this test fails, and `it.fails` becomes `it`.
  it.fails("KNOWN GAP (root login): a silent command that times out is gone within 2 s", async () => {
    const tag = marker();
    try {
      const err = await exec(conn, `sleep 30; : ${tag}`, { timeoutMs: 500 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SshTimeoutError);
      await expect.poll(() => pgrep(tag), { timeout: 2_000, interval: 100 }).toEqual([]);
    } finally {
      await pkill(tag);
    }
  });

  // With OpenSSH a timed-out command that is still running keeps its channel slot (sshd closes the
  // channel only when the command ends), so a queued command's timeout must bound its wait too.
  it("a queued exec's timeoutMs also bounds its wait for a channel slot", async () => {
    const tag = marker();
    const narrow = await connectSsh(options({ maxChannels: 1 }));
    extraConnections.push(narrow);
    let queued: Promise<unknown> | null = null;
    try {
      const first = await exec(narrow, `sleep 30; : ${tag}`, { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(first).toBeInstanceOf(SshTimeoutError);
      queued = exec(narrow, "echo queued", { timeoutMs: 1_000 }).catch((e: unknown) => e);
      const outcome = await Promise.race([
        queued,
        new Promise((resolve) => setTimeout(() => resolve("still waiting after 3 s"), 3_000)),
      ]);
      expect(outcome).toBeInstanceOf(SshTimeoutError);
    } finally {
      await pkill(tag);
      await queued;
      await narrow.close();
    }
  });
});

describe("OpenSSH sshd: stream", () => {
  it("hands over lines as they are produced", async () => {
    const lines: Array<{ line: string; at: number }> = [];
    const started = performance.now();
    const result = await stream(conn, "for i in 1 2 3 4 5; do echo $i; sleep 0.1; done", {
      onLine: (line) => lines.push({ line, at: performance.now() - started }),
    });
    expect(lines.map((l) => l.line)).toEqual(["1", "2", "3", "4", "5"]);
    expect(result).toMatchObject({ exitCode: 0, lines: 5, stderr: "" });
    // Line by line, not all at the end: the first line arrives well before the last.
    const first = lines[0]?.at ?? 0;
    const last = lines[4]?.at ?? 0;
    expect(last - first).toBeGreaterThanOrEqual(300);
  });

  it("aborting a stream ends a remote process that keeps writing within 2 s", async () => {
    const tag = marker();
    const controller = new AbortController();
    const lines: string[] = [];
    const done = stream(conn, `while :; do echo tick; sleep 0.1; done; : ${tag}`, {
      signal: controller.signal,
      onLine: (line) => {
        lines.push(line);
        if (lines.length === 3) controller.abort();
      },
    });
    await expect(done).rejects.toBeInstanceOf(SshAbortError);
    expect(lines).toEqual(["tick", "tick", "tick"]);
    await expect.poll(() => pgrep(tag), { timeout: 2_000, interval: 100 }).toEqual([]);
    expect(conn.activeChannels).toBe(0);
    // The connection is still usable afterwards.
    expect((await exec(conn, "echo still-here")).stdout).toBe("still-here\n");
  });

  it("aborting sends sshd a TERM signal request (sshd refuses it for a root login)", async () => {
    const tag = marker();
    const controller = new AbortController();
    const refusals = () => sshd.log().match(/session signalling requires privilege separation/g)?.length ?? 0;
    const before = refusals();
    try {
      const done = stream(conn, `echo started; sleep 30; : ${tag}`, {
        signal: controller.signal,
        onLine: () => controller.abort(),
      });
      await expect(done).rejects.toBeInstanceOf(SshAbortError);
      // The request reached sshd (ssh2's own channel.signal() drops it once stdin EOF was sent).
      await expect.poll(refusals, { timeout: 2_000 }).toBe(before + 1);
    } finally {
      await pkill(tag);
    }
    // sshd closes the channel once the command has ended; only then is the slot free again.
    await expect.poll(() => conn.activeChannels, { timeout: 2_000 }).toBe(0);
  });

  it.fails("KNOWN GAP (root login): aborting a silent `sleep 30` stream ends it within 2 s", async () => {
    const tag = marker();
    const controller = new AbortController();
    try {
      const done = stream(conn, `echo started; sleep 30; : ${tag}`, {
        signal: controller.signal,
        onLine: () => controller.abort(),
      });
      await expect(done).rejects.toBeInstanceOf(SshAbortError);
      expect(await pgrep(tag)).not.toEqual([]);
      await expect.poll(() => pgrep(tag), { timeout: 2_000, interval: 100 }).toEqual([]);
    } finally {
      await pkill(tag);
    }
  });
});

describe("OpenSSH sshd: command injection through `sh` quoting", () => {
  const payloads: Array<[string, (m: string) => string]> = [
    ["$(…)", (m) => `$(touch ${m})`],
    ["backticks", (m) => `\`touch ${m}\``],
    ["; …", (m) => `; touch ${m}`],
    ["&& …", (m) => `&& touch ${m}`],
    ["| …", (m) => `| touch ${m}`],
    ["quote breakout", (m) => `'; touch ${m}; '`],
    ['"$(…)"', (m) => `"$(touch ${m})"`],
    ["newline", (m) => `\ntouch ${m}`],
  ];

  it.each(payloads)("%s is echoed as data and runs nothing", async (_name, build) => {
    const markerFile = path.join(scratch, marker());
    const payload = build(markerFile);
    const command = sh`echo ${payload}`;
    const result = await exec(conn, command, { timeoutMs: 5_000 });
    expect(result.stdout).toBe(`${payload}\n`);
    // The same shell, afterwards, also finds no marker (the test runs on the sshd host).
    expect((await exec(conn, sh`test ! -e ${markerFile} && echo absent`)).stdout).toBe("absent\n");
    expect(existsSync(markerFile)).toBe(false);
  });
});
