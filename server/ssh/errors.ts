/**
 * Typed SSH errors. Every failure the SSH module can produce is one of these classes, each with a
 * literal `code`, so callers (prober, GPU collector, switchover executor, "test connection" form)
 * branch on `err.code` instead of matching ssh2's free-text messages, and the HTTP/action mapper
 * can show an operator a message we wrote rather than raw library text.
 */

export type SshErrorCode =
  | "SSH_CONFIG_INVALID"
  | "SSH_HOST_KEY_MISMATCH"
  | "SSH_HOST_KEY_NOT_PINNED"
  | "SSH_AUTH_FAILED"
  | "SSH_CONNECT_FAILED"
  | "SSH_CONNECTION_CLOSED"
  | "SSH_CHANNEL_FAILED"
  | "SSH_TIMEOUT"
  | "SSH_ABORTED"
  | "SSH_EXEC_FAILED";

/** A value passed to connectSsh/exec is unusable (bad fingerprint format, empty command, ...). */
export class SshConfigError extends Error {
  readonly code = "SSH_CONFIG_INVALID" as const;
  override name = "SshConfigError";
}

/** The server presented a host key other than the pinned one: possibly a MITM, possibly a reinstall. */
export class HostKeyMismatchError extends Error {
  readonly code = "SSH_HOST_KEY_MISMATCH" as const;
  override name = "HostKeyMismatchError";
  readonly host: string;
  readonly port: number;
  readonly expected: string;
  readonly actual: string;
  constructor({
    host,
    port,
    expected,
    actual,
  }: { host: string; port: number; expected: string; actual: string }) {
    super(
      `Host key for ${host}:${port} does not match the pinned fingerprint (expected ${expected}, got ${actual}); ` +
        "refusing to connect. If the host was legitimately reinstalled, re-pin its key.",
    );
    this.host = host;
    this.port = port;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * No fingerprint is pinned and the caller did not ask for an explicit trust-on-first-use test
 * connection. `actual` is what the host presented, so a form can offer "trust this key?".
 */
export class HostKeyNotPinnedError extends Error {
  readonly code = "SSH_HOST_KEY_NOT_PINNED" as const;
  override name = "HostKeyNotPinnedError";
  constructor(
    readonly host: string,
    readonly port: number,
    readonly actual: string,
  ) {
    super(`No host key is pinned for ${host}:${port} (it presented ${actual}); refusing to connect.`);
  }
}

export class SshAuthError extends Error {
  readonly code = "SSH_AUTH_FAILED" as const;
  override name = "SshAuthError";
  constructor(
    readonly host: string,
    readonly port: number,
    readonly username: string,
  ) {
    super(`SSH authentication as ${username}@${host}:${port} failed: the server did not accept the key.`);
  }
}

/** TCP-level or protocol-level failure while establishing the connection (refused, reset, DNS...). */
export class SshConnectError extends Error {
  readonly code = "SSH_CONNECT_FAILED" as const;
  override name = "SshConnectError";
  constructor(
    readonly host: string,
    readonly port: number,
    /** The system error code when there is one, e.g. ECONNREFUSED. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`SSH connection to ${host}:${port} failed: ${reason}`, options);
  }
}

/** The connection went away (or was closed by us) while a command was using it. */
export class SshConnectionClosedError extends Error {
  readonly code = "SSH_CONNECTION_CLOSED" as const;
  override name = "SshConnectionClosedError";
  constructor(
    readonly node: string,
    readonly command: string | null,
  ) {
    super(
      command === null
        ? `SSH connection to ${node} is closed`
        : `SSH connection to ${node} closed while running: ${command}`,
    );
  }
}

/** The server refused to open a channel, or a channel ended without reporting an exit status. */
export class SshChannelError extends Error {
  readonly code = "SSH_CHANNEL_FAILED" as const;
  override name = "SshChannelError";
  constructor(
    readonly node: string,
    readonly command: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`SSH channel on ${node} for "${command}" failed: ${reason}`, options);
  }
}

export class SshTimeoutError extends Error {
  readonly code = "SSH_TIMEOUT" as const;
  override name = "SshTimeoutError";
  constructor(
    readonly node: string,
    readonly phase: "connect" | "exec",
    readonly timeoutMs: number,
    readonly command: string | null = null,
  ) {
    super(
      phase === "connect"
        ? `SSH connection to ${node} timed out after ${timeoutMs} ms`
        : `SSH command on ${node} timed out after ${timeoutMs} ms: ${command ?? ""}`,
    );
  }
}

/**
 * The caller's AbortSignal fired. Named "AbortError" like the platform's abort errors so generic
 * `err.name === "AbortError"` checks keep working.
 */
export class SshAbortError extends Error {
  readonly code = "SSH_ABORTED" as const;
  override name = "AbortError";
  constructor(
    readonly node: string,
    readonly command: string | null,
    options?: { cause?: unknown },
  ) {
    super(
      command === null ? `SSH connection to ${node} aborted` : `SSH command on ${node} aborted: ${command}`,
      options,
    );
  }
}

/** The remote command ran and exited non-zero (or was killed by a signal). */
export class SshExecError extends Error {
  readonly code = "SSH_EXEC_FAILED" as const;
  override name = "SshExecError";
  readonly node: string;
  readonly command: string;
  /** null when the remote process was killed by a signal (see `signal`). */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  constructor({
    node,
    command,
    exitCode,
    signal = null,
    stdout,
    stderr,
  }: {
    node: string;
    command: string;
    exitCode: number | null;
    signal?: string | null;
    stdout: string;
    stderr: string;
  }) {
    const status = exitCode === null ? `signal ${signal ?? "unknown"}` : `exit code ${exitCode}`;
    const firstLine = (stderr.trim() || stdout.trim()).split("\n")[0] ?? "";
    super(
      `Command on ${node} failed with ${status}: ${command}${firstLine ? ` (${firstLine.slice(0, 200)})` : ""}`,
    );
    this.node = node;
    this.command = command;
    this.exitCode = exitCode;
    this.signal = signal;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

export type SshError =
  | SshConfigError
  | HostKeyMismatchError
  | HostKeyNotPinnedError
  | SshAuthError
  | SshConnectError
  | SshConnectionClosedError
  | SshChannelError
  | SshTimeoutError
  | SshAbortError
  | SshExecError;

const SSH_ERROR_CODES: ReadonlySet<string> = new Set<SshErrorCode>([
  "SSH_CONFIG_INVALID",
  "SSH_HOST_KEY_MISMATCH",
  "SSH_HOST_KEY_NOT_PINNED",
  "SSH_AUTH_FAILED",
  "SSH_CONNECT_FAILED",
  "SSH_CONNECTION_CLOSED",
  "SSH_CHANNEL_FAILED",
  "SSH_TIMEOUT",
  "SSH_ABORTED",
  "SSH_EXEC_FAILED",
]);

export function isSshError(err: unknown): err is SshError {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === "string" && SSH_ERROR_CODES.has(code);
}
