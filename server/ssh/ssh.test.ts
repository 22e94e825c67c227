import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GPU_INVENTORY_FIELDS,
  GPU_QUERY_FIELDS,
  type GpuSample,
  parseGpuCsv,
  parseGpuLine,
} from "@/server/gpu/parse-nvidia-smi";
import type { SimNode } from "@/sim/node";
import { findFreePort, startTestFleet, type TestFleet } from "@/sim/testing";
import {
  connectSsh,
  exec,
  fingerprintOpenSshPublicKey,
  fingerprintSshPublicKey,
  generateEd25519KeyPair,
  HostKeyMismatchError,
  HostKeyNotPinnedError,
  SshAbortError,
  SshAuthError,
  SshConfigError,
  SshConnectError,
  type SshConnection,
  SshExecError,
  SshTimeoutError,
  sh,
  stream,
} from "./index";

let t: TestFleet;
let node: SimNode;
let conn: SshConnection;

beforeAll(async () => {
  t = await startTestFleet([{ name: "gpu-1", host: "127.0.0.2", cluster: "ssh-test", role: "master" }]);
  node = t.fleet.getNode("gpu-1");
  conn = await t.connect(node);
});

afterAll(async () => {
  await t?.stop();
});

const baseOptions = () => ({
  host: node.host,
  port: node.sshPort,
  username: "switchyard",
  privateKey: t.clientPrivateKey,
  readyTimeoutMs: 5_000,
});

function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("host key fingerprints", () => {
  it("match ssh-keygen -lf", async () => {
    const pub = path.join(t.dataDir, "hostkeys", "gpu-1.pub");
    const { stdout } = await promisify(execFile)("ssh-keygen", ["-lf", pub]);
    expect(stdout.split(" ")[1]).toBe(node.hostKeyFingerprint);
    expect(fingerprintOpenSshPublicKey(await readFile(pub, "utf8"))).toBe(node.hostKeyFingerprint);
  });

  it("come from generated ed25519 keys that always parse back (works around mscdex/ssh2#1390)", () => {
    for (let i = 0; i < 1_000; i++) {
      const pair = generateEd25519KeyPair();
      for (const text of [pair.privateKey, pair.publicKey]) {
        const key = ssh2.utils.parseKey(text);
        if (key instanceof Error || Array.isArray(key)) throw new Error(`unparseable generated key #${i}`);
        expect(key.getPublicSSH().length).toBe(51);
      }
    }
  });

  it("hash the wire-format key blob", () => {
    const key = ssh2.utils.parseKey(generateEd25519KeyPair().publicKey);
    if (key instanceof Error || Array.isArray(key)) throw new Error("unexpected parse result");
    expect(fingerprintSshPublicKey(key.getPublicSSH())).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe("connectSsh", () => {
  it("connects with the pinned fingerprint", () => {
    expect(conn.hostKeyFingerprint).toBe(node.hostKeyFingerprint);
    expect(conn.trustedOnFirstUse).toBe(false);
  });

  it("refuses a wrong pinned fingerprint before authenticating: no command can run", async () => {
    const before = node.sshStats;
    const wrong = fingerprintSshPublicKey(Buffer.from("not the host key"));
    const err = await connectSsh({ ...baseOptions(), hostKeyFingerprint: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err).toMatchObject({
      code: "SSH_HOST_KEY_MISMATCH",
      host: node.host,
      expected: wrong,
      actual: node.hostKeyFingerprint,
    });
    const after = node.sshStats;
    expect(after.connections).toBe(before.connections + 1);
    expect(after.authenticated).toBe(before.authenticated);
    expect(after.commands).toBe(before.commands);
  });

  it("refuses an unpinned host unless trust-on-first-use is asked for, which reports the key", async () => {
    const refused = await connectSsh({ ...baseOptions(), hostKeyFingerprint: null }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HostKeyNotPinnedError);
    expect(refused).toMatchObject({ code: "SSH_HOST_KEY_NOT_PINNED", actual: node.hostKeyFingerprint });

    const tofu = await connectSsh({ ...baseOptions(), hostKeyFingerprint: null, trustOnFirstUse: true });
    try {
      expect(tofu.hostKeyFingerprint).toBe(node.hostKeyFingerprint);
      expect(tofu.trustedOnFirstUse).toBe(true);
    } finally {
      await tofu.close();
    }
  });

  it("rejects an unauthorized client key with a clear auth error", async () => {
    const stranger = generateEd25519KeyPair().privateKey;
    const err = await connectSsh({
      ...baseOptions(),
      privateKey: stranger,
      hostKeyFingerprint: node.hostKeyFingerprint,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshAuthError);
    expect(err).toMatchObject({ code: "SSH_AUTH_FAILED", username: "switchyard" });
    expect((err as Error).message).toContain("switchyard@127.0.0.2");
  });

  it("rejects malformed input before touching the network", async () => {
    await expect(connectSsh({ ...baseOptions(), hostKeyFingerprint: "SHA256:short" })).rejects.toBeInstanceOf(
      SshConfigError,
    );
    const badKey = await connectSsh({
      ...baseOptions(),
      privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material\n",
      hostKeyFingerprint: node.hostKeyFingerprint,
    }).catch((e: unknown) => e);
    expect(badKey).toBeInstanceOf(SshConfigError);
    expect((badKey as Error).message).not.toContain("secret-material");
  });

  it("reports a refused connection as SshConnectError with the system code", async () => {
    const port = await findFreePort([node.host]);
    const err = await connectSsh({
      ...baseOptions(),
      port,
      hostKeyFingerprint: node.hostKeyFingerprint,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshConnectError);
    expect(err).toMatchObject({ code: "SSH_CONNECT_FAILED", reason: "ECONNREFUSED" });
  });

  it("aborts a pending connect", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      connectSsh({
        ...baseOptions(),
        hostKeyFingerprint: node.hostKeyFingerprint,
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ name: "AbortError", code: "SSH_ABORTED" });
  });
});

describe("exec", () => {
  it("runs nvidia-smi one-shot and the output parses", async () => {
    const fields = [...GPU_INVENTORY_FIELDS, "utilization.gpu", "temperature.gpu"];
    const result = await exec(
      conn,
      `nvidia-smi --query-gpu=${fields.join(",")} --format=csv,noheader,nounits`,
      {
        timeoutMs: 5_000,
      },
    );
    expect(result).toMatchObject({ exitCode: 0, truncated: false });
    expect(result.durationMs).toBeGreaterThan(0);
    const parsed = parseGpuCsv(result.stdout, fields);
    if (!parsed.ok) throw new Error(parsed.error.message);
    expect(parsed.samples[0]).toMatchObject({
      index: 0,
      uuid: node.gpuState().uuid,
      name: "NVIDIA H100 80GB HBM3",
      memoryTotalMib: 81559,
    });
  });

  it("throws SshExecError with exit code, stdout and stderr on a non-zero exit", async () => {
    const err = await exec(conn, "echo out; echo 'it broke' >&2; exit 3").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshExecError);
    expect(err).toMatchObject({
      code: "SSH_EXEC_FAILED",
      exitCode: 3,
      stdout: "out\n",
      stderr: "it broke\n",
      node: "gpu-1",
      command: "echo out; echo 'it broke' >&2; exit 3",
    });
  });

  it("passes hostile values through `sh` quoting as data", async () => {
    const payload = `$(touch pwned) \`touch pwned\`; touch pwned && echo "x" | cat 'y'\nnext`;
    const result = await exec(conn, sh`printf '%s' ${payload}; test ! -e pwned`);
    expect(result.stdout).toBe(payload);
  });

  it("streams output to callbacks, feeds stdin and bounds what it keeps", async () => {
    const chunks: string[] = [];
    const echoed = await exec(conn, "cat", { stdin: "hello from stdin", onStdout: (s) => chunks.push(s) });
    expect(echoed.stdout).toBe("hello from stdin");
    expect(chunks.join("")).toBe("hello from stdin");

    const big = await exec(conn, "head -c 200000 /dev/zero | tr '\\0' a", { maxOutputBytes: 1_000 });
    expect(big.truncated).toBe(true);
    expect(big.stdout).toBe("a".repeat(1_000));
  });

  it("times out, closes the channel and the remote process is killed", async () => {
    const pids: number[] = [];
    const err = await exec(conn, "echo $$; exec sleep 30", {
      timeoutMs: 400,
      onStdout: (s) => pids.push(Number(s.trim())),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshTimeoutError);
    expect(err).toMatchObject({ code: "SSH_TIMEOUT", phase: "exec", timeoutMs: 400 });
    const pid = pids[0] ?? 0;
    expect(pid).toBeGreaterThan(0);
    await expect.poll(() => processGroupAlive(pid), { timeout: 3_000 }).toBe(false);
  });

  it("queues commands beyond maxChannels instead of failing them", async () => {
    const narrow = await connectSsh({
      ...baseOptions(),
      hostKeyFingerprint: node.hostKeyFingerprint,
      maxChannels: 2,
    });
    try {
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: 4 }, () => exec(narrow, "sleep 0.3; echo done")),
      );
      expect(results.map((r) => r.stdout)).toEqual(Array(4).fill("done\n"));
      expect(performance.now() - started).toBeGreaterThanOrEqual(590);
      expect(narrow.activeChannels).toBe(0);
    } finally {
      await narrow.close();
    }
  });
});

describe("stream", () => {
  it("streams nvidia-smi -lms 200 line by line; abort kills the remote process", async () => {
    const controller = new AbortController();
    const samples: GpuSample[] = [];
    let pid = 0;
    const fields = GPU_QUERY_FIELDS;
    const command = `echo $$; exec nvidia-smi --query-gpu=${fields.join(",")} --format=csv,noheader,nounits -lms 200`;
    const done = stream(conn, command, {
      signal: controller.signal,
      onLine: (line) => {
        if (pid === 0) {
          pid = Number(line);
          return;
        }
        const parsed = parseGpuLine(line, fields);
        if (!parsed.ok) throw new Error(`bad line ${line}: ${parsed.error.message}`);
        samples.push(parsed.sample);
        if (samples.length >= 3) controller.abort();
      },
    });
    await expect(done).rejects.toBeInstanceOf(SshAbortError);
    expect(samples.length).toBeGreaterThanOrEqual(3);
    expect(samples[0]?.uuid).toBe(node.gpuState().uuid);
    expect(samples[0]?.timestamp).toBeInstanceOf(Date);
    expect(pid).toBeGreaterThan(0);
    await expect.poll(() => processGroupAlive(pid), { timeout: 3_000 }).toBe(false);
    await expect.poll(() => node.runningCommandPids(), { timeout: 3_000 }).toEqual([]);
  });

  it("rejects with SshExecError carrying the driver failure when the GPU is lost mid-stream", async () => {
    const lines: string[] = [];
    const done = stream(
      conn,
      "nvidia-smi --query-gpu=index,utilization.gpu --format=csv,noheader,nounits -lms 200",
      {
        onLine: (line) => {
          lines.push(line);
          if (lines.length === 2) void node.applyFault("gpu_lost");
        },
      },
    );
    try {
      const err = await done.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SshExecError);
      expect(err).toMatchObject({ exitCode: 9 });
      expect(lines.at(-1)).toContain("couldn't communicate with the NVIDIA driver");
    } finally {
      await node.applyFault("recover");
    }
  });

  it("resolves with the line count when the command ends cleanly, flushing a last unterminated line", async () => {
    const lines: string[] = [];
    const result = await stream(conn, "printf 'a\\r\\nb\\nc'", { onLine: (l) => lines.push(l) });
    expect(lines).toEqual(["a", "b", "c"]);
    expect(result).toMatchObject({ exitCode: 0, lines: 3 });
  });

  it("treats a silent stream as dead after idleTimeoutMs", async () => {
    await expect(stream(conn, "sleep 5", { onLine: () => {}, idleTimeoutMs: 300 })).rejects.toBeInstanceOf(
      SshTimeoutError,
    );
  });
});
