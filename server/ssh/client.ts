/**
 * The product's only SSH client. Everything that talks to a node or a load balancer over SSH
 * (GPU telemetry, switchover playbooks, "test connection") goes through here, because SSH is
 * where control planes usually go wrong:
 *
 * - Host keys are pinned. The presented key's `SHA256:` fingerprint must equal the pinned one or
 *   the handshake is aborted with HostKeyMismatchError before authentication, so no command and no
 *   credential ever reaches an impostor. A node without a pinned key is refused too, unless the
 *   caller explicitly runs a trust-on-first-use test connection, which reports the presented
 *   fingerprint for an operator to pin on purpose.
 * - Commands are strings run by the remote shell; build them with `sh` from ./quote so no
 *   interpolated value is ever unquoted.
 * - Failures are typed (./errors) with literal codes; a non-zero exit is an SshExecError carrying
 *   the command, exit code and (bounded) output, and a timeout or abort closes the channel.
 * - Private keys are only handed to ssh2 in memory: never written to argv, env or logs.
 * - One connection carries a bounded number of channels (sshd's MaxSessions is 10 by default);
 *   extra commands wait for a free channel instead of being refused by the server.
 */
import { StringDecoder } from "node:string_decoder";
// ssh2 is CommonJS and Node cannot see `utils` as a named ESM export.
import ssh2, { Client, type ClientChannel } from "ssh2";
import {
  HostKeyMismatchError,
  HostKeyNotPinnedError,
  SshAbortError,
  SshAuthError,
  SshChannelError,
  SshConfigError,
  SshConnectError,
  SshConnectionClosedError,
  SshExecError,
  SshTimeoutError,
} from "./errors";
import { fingerprintSshPublicKey, normalizeSshFingerprint } from "./fingerprint";

export type ConnectSshOptions = {
  host: string;
  port?: number;
  username: string;
  /** OpenSSH or PEM private key text. Kept in memory only. */
  privateKey: Buffer | string;
  passphrase?: string;
  /** The pinned `SHA256:...` fingerprint; null means "not pinned yet" and is refused by default. */
  hostKeyFingerprint: string | null;
  /**
   * Only for an operator's explicit "test connection" on a node without a pinned key: accept
   * whatever key is presented and report it as `conn.hostKeyFingerprint`. Ignored when a
   * fingerprint is pinned (a pinned key is always enforced).
   */
  trustOnFirstUse?: boolean;
  /** Handshake deadline, TCP connect included. */
  readyTimeoutMs?: number;
  /** SSH-level keepalive; a dead peer is detected after keepaliveIntervalMs × keepaliveCountMax. 0 disables. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Channels open at once on this connection; more wait in line. */
  maxChannels?: number;
  signal?: AbortSignal;
  /** Label used in errors (a node name); defaults to host:port. */
  node?: string;
};

type ConnectionInternals = {
  client: Client;
  maxChannels: number;
  active: number;
  waiters: Array<{ grant: () => void; fail: (err: Error) => void }>;
  /** In-flight commands, told when the connection dies so none of them hangs. */
  ops: Set<() => void>;
  closeListeners: Set<(err: Error | null) => void>;
  closed: boolean;
  lastError: Error | null;
};

const internals = new WeakMap<SshConnection, ConnectionInternals>();

/** An authenticated SSH connection. Pass it to exec()/stream(); close() when done. */
export class SshConnection {
  constructor(
    readonly node: string,
    readonly host: string,
    readonly port: number,
    readonly username: string,
    /** The fingerprint the server presented (equal to the pinned one unless trust-on-first-use). */
    readonly hostKeyFingerprint: string,
    readonly trustedOnFirstUse: boolean,
    client: Client,
    maxChannels: number,
  ) {
    const state: ConnectionInternals = {
      client,
      maxChannels,
      active: 0,
      waiters: [],
      ops: new Set(),
      closeListeners: new Set(),
      closed: false,
      lastError: null,
    };
    internals.set(this, state);
    client.on("error", (err: Error) => {
      state.lastError = err;
    });
    client.once("close", () => {
      state.closed = true;
      const err = new SshConnectionClosedError(node, null);
      for (const waiter of state.waiters.splice(0)) waiter.fail(err);
      for (const op of [...state.ops]) op();
      for (const listener of [...state.closeListeners]) listener(state.lastError);
      state.closeListeners.clear();
    });
  }

  get closed(): boolean {
    return internalsOf(this).closed;
  }

  get activeChannels(): number {
    return internalsOf(this).active;
  }

  /** Called once when the connection ends, with the error that ended it if any (e.g. keepalive timeout). */
  onClose(listener: (err: Error | null) => void): () => void {
    const state = internalsOf(this);
    if (state.closed) {
      queueMicrotask(() => listener(state.lastError));
      return () => {};
    }
    state.closeListeners.add(listener);
    return () => state.closeListeners.delete(listener);
  }

  /** Ends the connection; open channels are closed, which makes the server end their processes. */
  async close(): Promise<void> {
    const state = internalsOf(this);
    if (state.closed) return;
    await new Promise<void>((resolve) => {
      const fallback = setTimeout(() => state.client.destroy(), 2_000);
      state.client.once("close", () => {
        clearTimeout(fallback);
        resolve();
      });
      state.client.end();
    });
  }
}

function internalsOf(conn: SshConnection): ConnectionInternals {
  const state = internals.get(conn);
  if (!state) throw new SshConfigError("Not a connection created by connectSsh()");
  return state;
}

/** Connects and authenticates, enforcing the pinned host key. Rejects with a typed error from ./errors. */
export async function connectSsh(options: ConnectSshOptions): Promise<SshConnection> {
  const port = options.port ?? 22;
  const node = options.node ?? `${options.host}:${port}`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const maxChannels = options.maxChannels ?? 8;
  if (!options.host) throw new SshConfigError("host is required");
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new SshConfigError(`invalid port ${port}`);
  if (!options.username) throw new SshConfigError("username is required");
  if (!Number.isInteger(maxChannels) || maxChannels < 1) throw new SshConfigError("maxChannels must be ≥ 1");
  const pinned =
    options.hostKeyFingerprint === null ? null : normalizeSshFingerprint(options.hostKeyFingerprint);
  const tofu = pinned === null && options.trustOnFirstUse === true;
  assertUsablePrivateKey(options.privateKey, options.passphrase);
  if (options.signal?.aborted) throw new SshAbortError(node, null, { cause: options.signal.reason });

  const client = new Client();
  let hostKeyProblem: Error | null = null;
  let presented: string | null = null;

  return await new Promise<SshConnection>((resolve, reject) => {
    let settled = false;
    const onAbort = () => fail(new SshAbortError(node, null, { cause: options.signal?.reason }));
    const finish = () => {
      settled = true;
      options.signal?.removeEventListener("abort", onAbort);
      client.removeListener("error", onError);
      client.removeListener("close", onEarlyClose);
    };
    const fail = (err: Error) => {
      if (settled) return;
      finish();
      // Keep a listener so a late socket error cannot become an uncaught exception.
      client.on("error", () => {});
      client.destroy();
      reject(err);
    };
    const onError = (err: Error & { level?: string; code?: string }) => {
      if (hostKeyProblem) return fail(hostKeyProblem);
      switch (err.level) {
        case "client-authentication":
          return fail(new SshAuthError(options.host, port, options.username));
        case "client-timeout":
          return fail(new SshTimeoutError(node, "connect", readyTimeoutMs));
        case "client-socket":
          return fail(new SshConnectError(options.host, port, err.code ?? err.message, { cause: err }));
        default:
          return fail(new SshConnectError(options.host, port, err.message, { cause: err }));
      }
    };
    const onEarlyClose = () => {
      fail(hostKeyProblem ?? new SshConnectError(options.host, port, "connection closed during handshake"));
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    client.on("error", onError);
    client.once("close", onEarlyClose);
    client.once("ready", () => {
      if (settled) return;
      finish();
      resolve(
        new SshConnection(
          node,
          options.host,
          port,
          options.username,
          presented ?? "",
          tofu,
          client,
          maxChannels,
        ),
      );
    });

    try {
      client.connect({
        host: options.host,
        port,
        username: options.username,
        privateKey: options.privateKey,
        passphrase: options.passphrase,
        readyTimeout: readyTimeoutMs,
        keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: options.keepaliveCountMax ?? 3,
        // Only public-key auth: never fall back to an agent or to keyboard-interactive prompts.
        authHandler: ["publickey"],
        hostVerifier: (key: Buffer): boolean => {
          const actual = fingerprintSshPublicKey(key);
          presented = actual;
          if (pinned !== null) {
            if (actual === pinned) return true;
            hostKeyProblem = new HostKeyMismatchError({ host: options.host, port, expected: pinned, actual });
            return false;
          }
          if (tofu) return true;
          hostKeyProblem = new HostKeyNotPinnedError(options.host, port, actual);
          return false;
        },
      });
    } catch (err) {
      fail(new SshConfigError(`invalid SSH connection settings: ${(err as Error).message}`));
    }
  });
}

function assertUsablePrivateKey(privateKey: Buffer | string, passphrase: string | undefined): void {
  const parsed = ssh2.utils.parseKey(privateKey, passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  // Never echo the key or the parser's message (it can quote key material).
  if (!key || key instanceof Error || !key.isPrivateKey()) {
    throw new SshConfigError("privateKey is not a usable private key (wrong format or passphrase)");
  }
}

export type ExecOptions = {
  /** Whole-command deadline; the channel is closed when it passes. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** Per stream; output beyond it is dropped from the result and `truncated` is set. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Written to the command's stdin, then EOF (e.g. a config file for `cat > path`). */
  stdin?: string | Buffer;
};

export type ExecResult = {
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
};

/** Runs one command to completion. Resolves only on exit 0; otherwise throws SshExecError. */
export async function exec(
  conn: SshConnection,
  command: string,
  options: ExecOptions = {},
): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxOutputBytes = options.maxOutputBytes ?? 1024 * 1024;
  const started = performance.now();
  const stdout = new BoundedBuffer(maxOutputBytes);
  const stderr = new BoundedBuffer(maxOutputBytes);
  const outDecoder = options.onStdout ? new StringDecoder("utf8") : null;
  const errDecoder = options.onStderr ? new StringDecoder("utf8") : null;

  const outcome = await runChannel(conn, command, {
    signal: options.signal,
    timeoutMs,
    stdin: options.stdin,
    onStdout: (chunk) => {
      stdout.push(chunk);
      if (outDecoder) options.onStdout?.(outDecoder.write(chunk));
    },
    onStderr: (chunk) => {
      stderr.push(chunk);
      if (errDecoder) options.onStderr?.(errDecoder.write(chunk));
    },
  });
  const out = stdout.text();
  const err = stderr.text();
  if (outcome.exitCode !== 0) {
    throw new SshExecError({
      node: conn.node,
      command,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      stdout: out,
      stderr: err,
    });
  }
  return {
    exitCode: 0,
    stdout: out,
    stderr: err,
    truncated: stdout.truncated || stderr.truncated,
    durationMs: performance.now() - started,
  };
}

export type StreamOptions = {
  /** Each stdout line, without its line ending. Throwing from it stops the stream with that error. */
  onLine: (line: string) => void;
  onStderrLine?: (line: string) => void;
  signal?: AbortSignal;
  /** No output for this long means the stream is dead (SshTimeoutError). Default: no limit. */
  idleTimeoutMs?: number;
  /** Longer lines are cut, so a broken remote cannot grow memory without bound. Default 64 KiB. */
  maxLineBytes?: number;
};

export type StreamResult = {
  exitCode: number;
  lines: number;
  /** The last 64 KiB of stderr. */
  stderr: string;
  durationMs: number;
};

/**
 * Runs a long-lived command (e.g. `nvidia-smi ... -lms 500`) and hands over its output line by
 * line. Settles when the channel ends: resolves on exit 0, rejects with SshExecError (the last
 * output attached) on another exit, SshAbortError when `signal` fires, SshTimeoutError when idle.
 */
export async function stream(
  conn: SshConnection,
  command: string,
  options: StreamOptions,
): Promise<StreamResult> {
  const started = performance.now();
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024;
  const stdoutTail = new TailBuffer(64 * 1024);
  const stderrTail = new TailBuffer(64 * 1024);
  let lines = 0;
  const outSplitter = new LineSplitter(maxLineBytes, (line) => {
    lines += 1;
    options.onLine(line);
  });
  const errSplitter = new LineSplitter(maxLineBytes, (line) => options.onStderrLine?.(line));

  const outcome = await runChannel(conn, command, {
    signal: options.signal,
    idleTimeoutMs: options.idleTimeoutMs,
    onStdout: (chunk) => {
      stdoutTail.push(chunk);
      outSplitter.push(chunk);
    },
    onStderr: (chunk) => {
      stderrTail.push(chunk);
      errSplitter.push(chunk);
    },
    onEnd: () => {
      outSplitter.flush();
      errSplitter.flush();
    },
  });
  if (outcome.exitCode !== 0) {
    throw new SshExecError({
      node: conn.node,
      command,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      stdout: stdoutTail.text(),
      stderr: stderrTail.text(),
    });
  }
  return { exitCode: 0, lines, stderr: stderrTail.text(), durationMs: performance.now() - started };
}

type ChannelHooks = {
  signal: AbortSignal | undefined;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  stdin?: string | Buffer;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  /** After the last output chunk, before settling. */
  onEnd?: () => void;
};

type ChannelOutcome = { exitCode: number | null; signal: string | null };

/**
 * Opens one exec channel and settles when it closes, times out, is aborted or the connection dies.
 * Every path releases the channel slot exactly once and leaves the channel closed.
 */
async function runChannel(
  conn: SshConnection,
  command: string,
  hooks: ChannelHooks,
): Promise<ChannelOutcome> {
  if (!command.trim()) throw new SshConfigError("command is empty");
  const state = internalsOf(conn);
  // The caller's timeout bounds the whole command, waiting for a channel slot included: with
  // OpenSSH a timed-out command that is still running keeps its slot until it exits.
  const requestedAt = performance.now();
  await acquireChannel(conn, state, command, hooks.signal, hooks.timeoutMs);
  const waitedMs = performance.now() - requestedAt;

  return await new Promise<ChannelOutcome>((resolve, reject) => {
    let settled = false;
    let released = false;
    let channel: ClientChannel | null = null;
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let sawExit = false;
    let deadline: NodeJS.Timeout | undefined;
    let idleTimer: NodeJS.Timeout | undefined;

    const release = () => {
      if (released) return;
      released = true;
      releaseChannel(state);
    };
    const cleanup = () => {
      settled = true;
      clearTimeout(deadline);
      clearTimeout(idleTimer);
      hooks.signal?.removeEventListener("abort", onAbort);
      state.ops.delete(onConnectionClosed);
    };
    const settleError = (err: Error) => {
      if (settled) return;
      cleanup();
      if (channel) {
        // Ask the remote side to stop the process (honoured by the simulator and by recent OpenSSH,
        // except for root logins, where sshd refuses signal requests); closing the channel is what
        // guarantees our side lets go. OpenSSH does not kill a pty-less command on channel close:
        // it only closes its pipes, so the command ends at its next write (SIGPIPE) or its own end.
        try {
          signalChannel(channel, "TERM");
        } catch {}
        try {
          channel.close();
        } catch {}
      } else {
        release();
      }
      reject(err);
    };
    const onAbort = () => settleError(new SshAbortError(conn.node, command, { cause: hooks.signal?.reason }));
    const onConnectionClosed = () => {
      release();
      settleError(new SshConnectionClosedError(conn.node, command));
    };
    const armIdle = () => {
      if (hooks.idleTimeoutMs === undefined) return;
      clearTimeout(idleTimer);
      const idleMs = hooks.idleTimeoutMs;
      idleTimer = setTimeout(
        () => settleError(new SshTimeoutError(conn.node, "exec", idleMs, command)),
        idleMs,
      );
    };

    hooks.signal?.addEventListener("abort", onAbort, { once: true });
    state.ops.add(onConnectionClosed);
    if (hooks.timeoutMs !== undefined) {
      const timeoutMs = hooks.timeoutMs;
      deadline = setTimeout(
        () => settleError(new SshTimeoutError(conn.node, "exec", timeoutMs, command)),
        Math.max(1, timeoutMs - waitedMs),
      );
    }
    armIdle();

    try {
      state.client.exec(command, (err, ch) => {
        if (err) {
          release();
          settleError(new SshChannelError(conn.node, command, err.message, { cause: err }));
          return;
        }
        channel = ch;
        ch.once("close", () => {
          release();
          if (settled) return;
          try {
            hooks.onEnd?.();
          } catch (hookErr) {
            cleanup();
            reject(hookErr);
            return;
          }
          cleanup();
          if (!sawExit) {
            reject(new SshChannelError(conn.node, command, "channel closed without an exit status"));
            return;
          }
          resolve({ exitCode, signal: exitSignal });
        });
        if (settled) {
          // Aborted or timed out while the channel was opening.
          ch.close();
          return;
        }
        ch.on("exit", (code: number | null, signalName?: string) => {
          sawExit = true;
          exitCode = typeof code === "number" ? code : null;
          exitSignal = typeof signalName === "string" ? signalName : null;
        });
        const guard = (fn: (chunk: Buffer) => void) => (chunk: Buffer) => {
          if (settled) return;
          armIdle();
          try {
            fn(chunk);
          } catch (hookErr) {
            settleError(hookErr instanceof Error ? hookErr : new Error(String(hookErr)));
          }
        };
        ch.on("data", guard(hooks.onStdout));
        ch.stderr.on("data", guard(hooks.onStderr));
        if (hooks.stdin !== undefined) ch.end(hooks.stdin);
        else ch.end();
      });
    } catch (err) {
      release();
      settleError(new SshChannelError(conn.node, command, (err as Error).message, { cause: err }));
    }
  });
}

type ChannelInternals = {
  outgoing?: { id?: unknown; state?: unknown };
  _client?: { _protocol?: { signal?: unknown } };
};

/**
 * Sends an SSH "signal" channel request. ssh2's `channel.signal()` silently does nothing once our
 * side has sent EOF (it checks `writable`), and runChannel always sends EOF right after the channel
 * opens (stdin is done), so it never reached the server. A signal request after EOF is valid
 * (RFC 4254 §6.9 and §5.3 only end data), so send it through ssh2's protocol object while the
 * channel is open or half-closed; fall back to the public method if ssh2's internals ever change.
 */
function signalChannel(channel: ClientChannel, name: string): void {
  const inner = channel as unknown as ChannelInternals;
  const id = inner.outgoing?.id;
  const state = inner.outgoing?.state;
  const protocol = inner._client?._protocol;
  if (
    typeof id === "number" &&
    (state === "open" || state === "eof") &&
    typeof protocol?.signal === "function"
  ) {
    (protocol.signal as (channelId: number, signal: string) => void).call(protocol, id, name);
    return;
  }
  channel.signal(name);
}

async function acquireChannel(
  conn: SshConnection,
  state: ConnectionInternals,
  command: string,
  signal: AbortSignal | undefined,
  timeoutMs?: number,
): Promise<void> {
  if (state.closed) throw new SshConnectionClosedError(conn.node, command);
  if (signal?.aborted) throw new SshAbortError(conn.node, command, { cause: signal.reason });
  if (state.active < state.maxChannels) {
    state.active += 1;
    return;
  }
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    };
    const waiter = {
      grant: () => {
        done();
        resolve();
      },
      fail: (err: Error) => {
        done();
        reject(err);
      },
    };
    const leave = (err: Error) => {
      const index = state.waiters.indexOf(waiter);
      if (index >= 0) state.waiters.splice(index, 1);
      done();
      reject(err);
    };
    const onAbort = () => leave(new SshAbortError(conn.node, command, { cause: signal?.reason }));
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => leave(new SshTimeoutError(conn.node, "exec", timeoutMs, command)), timeoutMs);
    }
    state.waiters.push(waiter);
  });
}

function releaseChannel(state: ConnectionInternals): void {
  const next = state.waiters.shift();
  // The slot passes straight to the next waiter, so `active` only drops when nobody waits.
  if (next) next.grant();
  else state.active -= 1;
}

/** Keeps the first `limit` bytes. */
class BoundedBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (part.length < chunk.length) this.truncated = true;
    this.chunks.push(part);
    this.size += part.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/** Keeps the last `limit` bytes (what matters when a long stream dies is how it ended). */
class TailBuffer {
  private buffer = Buffer.alloc(0);
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    const joined = Buffer.concat([this.buffer, chunk]);
    this.buffer = joined.length > this.limit ? joined.subarray(joined.length - this.limit) : joined;
  }
  text(): string {
    return this.buffer.toString("utf8");
  }
}

class LineSplitter {
  private pending = "";
  private readonly decoder = new StringDecoder("utf8");
  constructor(
    private readonly maxLineBytes: number,
    private readonly emit: (line: string) => void,
  ) {}
  push(chunk: Buffer): void {
    this.pending += this.decoder.write(chunk);
    let newline = this.pending.indexOf("\n");
    while (newline >= 0) {
      this.emitLine(this.pending.slice(0, newline));
      this.pending = this.pending.slice(newline + 1);
      newline = this.pending.indexOf("\n");
    }
    if (Buffer.byteLength(this.pending) > this.maxLineBytes) {
      this.emitLine(this.pending);
      this.pending = "";
    }
  }
  flush(): void {
    this.pending += this.decoder.end();
    if (this.pending) this.emitLine(this.pending);
    this.pending = "";
  }
  private emitLine(line: string): void {
    const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
    this.emit(
      Buffer.byteLength(trimmed) > this.maxLineBytes ? truncateUtf8(trimmed, this.maxLineBytes) : trimmed,
    );
  }
}

function truncateUtf8(text: string, maxBytes: number): string {
  return Buffer.from(text).subarray(0, maxBytes).toString("utf8");
}
