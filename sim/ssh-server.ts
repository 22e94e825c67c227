/**
 * The SSH side of a simulated GPU node: a real SSH server (ssh2's Server) so the controller's
 * production client, with host-key pinning and public-key auth, is exercised end to end.
 *
 * What it deliberately mirrors from a hardened sshd:
 * - one persistent host key per node (generated once, kept under the sim data dir), so pinned
 *   fingerprints survive simulator restarts and a regenerated key is a real mismatch;
 * - public-key auth only, against an authorized-keys list, with the signature actually verified
 *   (a client that merely names an authorized public key gets nowhere);
 * - `exec` only: no shell, no pty, no forwarding, no subsystems; a bounded number of channels
 *   per connection, like sshd's MaxSessions;
 * - each command runs as `sh -c <command>` in its own process group, killed when the channel
 *   closes or the client goes away, so an aborted `nvidia-smi -lms` stream leaves nothing behind;
 * - a minimal environment: the simulator's own environment (database URLs, keys) never leaks
 *   into commands.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
// ssh2 is CommonJS and Node cannot see its `utils`/`Server` as named ESM exports.
import ssh2, { type Connection, type ParsedKey, type ServerChannel } from "ssh2";
import { fingerprintSshPublicKey } from "@/server/ssh/fingerprint";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";

export type AuthorizedKey = { type: string; blob: Buffer; key: ParsedKey; comment: string };

/**
 * Parses OpenSSH authorized_keys text. Lines with options (`command="..."`, `from=...`) are refused
 * rather than ignored: silently granting a restricted key full access would be worse than failing.
 */
export function parseAuthorizedKeys(text: string): AuthorizedKey[] {
  const keys: AuthorizedKey[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [type = "", data = "", ...rest] = line.split(/\s+/);
    if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))$/.test(type)) {
      throw new Error(
        `authorized keys line ${i + 1}: expected "<key-type> <base64> [comment]" (options are not supported)`,
      );
    }
    const parsed = ssh2.utils.parseKey(`${type} ${data}`);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error) {
      throw new Error(`authorized keys line ${i + 1}: not a valid ${type} public key`);
    }
    keys.push({ type: key.type, blob: key.getPublicSSH(), key, comment: rest.join(" ") });
  });
  return keys;
}

export type HostKey = {
  /** OpenSSH private key text (what ssh2's Server takes). */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment`, e.g. for a known_hosts file. */
  publicKeyLine: string;
  fingerprint: string;
};

/** The node's host key from `<dir>/<name>`, generated (ed25519, mode 0600) on first use. */
export function loadOrCreateHostKey(dir: string, name: string): HostKey {
  const { privateKey, publicKeyLine } = loadOrCreateKeyPair(
    path.join(dir, name),
    `switchyard-sim-host-${name}`,
  );
  return { privateKey, publicKeyLine, fingerprint: fingerprintOfLine(publicKeyLine) };
}

/**
 * A client keypair for talking to the fleet when the operator did not bring one. The private key
 * stays in a 0600 file; only its path is ever printed.
 */
export function loadOrCreateClientKey(privateKeyPath: string): {
  privateKeyPath: string;
  publicKeyLine: string;
} {
  const { publicKeyLine } = loadOrCreateKeyPair(privateKeyPath, "switchyard-sim-client");
  return { privateKeyPath, publicKeyLine };
}

function loadOrCreateKeyPair(
  privatePath: string,
  comment: string,
): { privateKey: string; publicKeyLine: string } {
  if (existsSync(privatePath)) {
    const privateKey = readFileSync(privatePath, "utf8");
    const parsed = ssh2.utils.parseKey(privateKey);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error || !key.isPrivateKey()) {
      throw new Error(`${privatePath} is not a usable private key; delete it to generate a new one`);
    }
    return { privateKey, publicKeyLine: `${key.type} ${key.getPublicSSH().toString("base64")} ${comment}` };
  }
  mkdirSync(path.dirname(privatePath), { recursive: true, mode: 0o700 });
  const pair = generateEd25519KeyPair(comment);
  // Write-then-rename so a crash never leaves a truncated key that would later fail to parse.
  const tmp = `${privatePath}.${process.pid}.tmp`;
  writeFileSync(tmp, pair.privateKey, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, privatePath);
  writeFileSync(`${privatePath}.pub`, `${pair.publicKey}\n`, { mode: 0o644 });
  return { privateKey: pair.privateKey, publicKeyLine: pair.publicKey };
}

function fingerprintOfLine(publicKeyLine: string): string {
  const data = publicKeyLine.split(/\s+/)[1] ?? "";
  return fingerprintSshPublicKey(Buffer.from(data, "base64"));
}

/** Same length check and constant-time compare as the ssh2 README's server example. */
function sameBytes(input: Buffer, allowed: Buffer): boolean {
  const lengthMismatch = input.length !== allowed.length;
  const isMatch = timingSafeEqual(input, lengthMismatch ? input : allowed);
  return !lengthMismatch && isMatch;
}

export type SimSshServerOptions = {
  name: string;
  host: string;
  /** 0 picks a free port once; restarts reuse it. */
  port: number;
  hostKey: HostKey;
  /** Read on every authentication attempt, so the fleet can change the list at runtime. */
  authorizedKeys: () => readonly AuthorizedKey[];
  /** Environment for commands (PATH, node identity, GPU state file); nothing else is inherited. */
  commandEnv: () => Record<string, string>;
  cwd: string;
  maxChannelsPerConnection?: number;
  maxConnections?: number;
  /** Told when a command starts and ends, so the node can do background work only while observed. */
  onCommandStart?: () => void;
  onCommandEnd?: () => void;
};

const ALLOWED_SIGNALS = new Set(["TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2"]);
const KILL_GRACE_MS = 1_000;

export class SimSshServer {
  private server: InstanceType<typeof ssh2.Server> | null = null;
  private boundPort: number;
  private readonly connections = new Set<Connection>();
  private readonly children = new Set<ChildProcess>();
  /** Counters since start, so tests can prove e.g. that a refused client never ran anything. */
  readonly stats = { connections: 0, authenticated: 0, commands: 0 };

  constructor(private readonly options: SimSshServerOptions) {
    this.boundPort = options.port;
  }

  get port(): number {
    return this.boundPort;
  }

  /** PIDs (= process-group ids) of commands currently running. */
  runningPids(): number[] {
    return [...this.children].flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = new ssh2.Server(
      { hostKeys: [this.options.hostKey.privateKey], ident: "Switchyard-Sim" },
      (conn) => this.handleConnection(conn),
    );
    server.maxConnections = this.options.maxConnections ?? 64;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) =>
        reject(new Error(`SSH ${this.options.host}:${this.boundPort}: ${err.message}`));
      server.once("error", onError);
      server.listen(this.boundPort, this.options.host, () => {
        server.removeListener("error", onError);
        const address = server.address();
        if (address && typeof address === "object") this.boundPort = address.port;
        resolve();
      });
    });
    server.on("error", () => {});
    this.server = server;
  }

  /** Closes the listener and every connection and kills every command's process group. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const conn of this.connections) conn.end();
    await Promise.all([...this.children].map((child) => killGroup(child, "SIGTERM")));
    for (const conn of this.connections) {
      // ssh2 has no destroy on the server side; end() above already asked politely.
      (conn as unknown as { _sock?: { destroy(): void } })._sock?.destroy();
    }
    this.connections.clear();
    await closed;
  }

  private handleConnection(conn: Connection): void {
    this.connections.add(conn);
    this.stats.connections += 1;
    const mine = new Set<ChildProcess>();
    let openSessions = 0;
    const maxSessions = this.options.maxChannelsPerConnection ?? 10;

    conn.on("error", () => {});
    conn.on("authentication", (ctx) => {
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      const match = this.options
        .authorizedKeys()
        .some((allowed) => ctx.key.algo === allowed.type && sameBytes(ctx.key.data, allowed.blob));
      if (!match) return ctx.reject(["publickey"]);
      // Without a signature the client only asks whether the key would do; with one, it must verify.
      if (ctx.signature) {
        const allowed = this.options.authorizedKeys().find((k) => sameBytes(ctx.key.data, k.blob));
        if (
          !allowed ||
          ctx.blob === undefined ||
          allowed.key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true
        ) {
          return ctx.reject(["publickey"]);
        }
      }
      ctx.accept();
    });
    conn.on("ready", () => {
      this.stats.authenticated += 1;
      conn.on("session", (accept, reject) => {
        if (openSessions >= maxSessions) return reject();
        openSessions += 1;
        let counted = true;
        const release = () => {
          if (!counted) return;
          counted = false;
          openSessions -= 1;
        };
        const session = accept();
        session.once("close", release);
        session.on("pty", (_accept, rejectReq) => rejectReq?.());
        session.on("shell", (_accept, rejectReq) => rejectReq());
        session.on("x11", (_accept, rejectReq) => rejectReq?.());
        session.on("auth-agent", (_accept, rejectReq) => rejectReq?.());
        session.on("env", (_accept, rejectReq) => rejectReq?.());
        session.on("subsystem", (_accept, rejectReq) => rejectReq());
        session.on("sftp", (_accept, rejectReq) => rejectReq());
        session.once("exec", (acceptExec, _reject, info) => {
          const channel = acceptExec();
          const child = this.runCommand(info.command, channel);
          if (child) mine.add(child);
          channel.once("close", () => {
            release();
            if (child) mine.delete(child);
          });
          session.on("signal", (acceptSignal, rejectSignal, { name }) => {
            const signalName = name.toUpperCase().replace(/^SIG/, "");
            if (!child || !ALLOWED_SIGNALS.has(signalName)) return rejectSignal?.();
            acceptSignal?.();
            signalGroup(child, `SIG${signalName}` as NodeJS.Signals);
          });
        });
      });
      conn.on("tcpip", (_accept, reject) => reject());
      conn.on("openssh.streamlocal", (_accept, reject) => reject());
      conn.on("request", (_accept, reject) => reject?.());
    });
    conn.on("close", () => {
      this.connections.delete(conn);
      for (const child of mine) void killGroup(child, "SIGTERM");
    });
  }

  private runCommand(command: string, channel: ServerChannel): ChildProcess | null {
    let child: ChildProcess;
    try {
      child = spawn("sh", ["-c", command], {
        cwd: this.options.cwd,
        env: this.options.commandEnv() as NodeJS.ProcessEnv,
        // Own process group, so the whole pipeline (and a streaming loop's `sleep`) can be killed.
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
      });
    } catch (err) {
      channel.stderr.write(`sh: ${(err as Error).message}\n`);
      channel.exit(127);
      channel.end();
      return null;
    }
    this.children.add(child);
    this.stats.commands += 1;
    this.options.onCommandStart?.();
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.children.delete(child);
      this.options.onCommandEnd?.();
    };

    child.stdout?.pipe(channel, { end: false });
    child.stderr?.pipe(channel.stderr, { end: false });
    channel.pipe(child.stdin as NodeJS.WritableStream);
    child.stdin?.on("error", () => {});
    channel.on("error", () => {});

    child.once("error", (err) => {
      finish();
      channel.stderr.write(`sh: ${err.message}\n`);
      channel.exit(127);
      channel.end();
    });
    child.once("close", (code, signal) => {
      finish();
      if (typeof code === "number") channel.exit(code);
      else channel.exit((signal ?? "SIGKILL").replace(/^SIG/, ""), false, "");
      channel.end();
    });
    channel.once("close", () => {
      if (!finished) void killGroup(child, "SIGTERM");
    });
    return child;
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Signals the command's whole process group, escalating to SIGKILL, and resolves once it exited. */
async function killGroup(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    // The shell is gone, but a background job of it may still hold the group.
    signalGroup(child, "SIGKILL");
    return;
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signalGroup(child, signal);
  const escalate = setTimeout(() => signalGroup(child, "SIGKILL"), KILL_GRACE_MS);
  await exited;
  clearTimeout(escalate);
  // Children of the shell that ignored the first signal.
  signalGroup(child, "SIGKILL");
}
