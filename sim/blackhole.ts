/**
 * A black-holed TCP port without iptables (which needs root and outlives the process).
 *
 * A closed port answers a SYN with RST, so a client sees "connection refused" at once; a port
 * behind a dead switch or a DROP rule does not answer at all, and the client waits out its own
 * connect timeout. Probers must treat the two differently, so the simulator needs both.
 *
 * Trick: Linux drops incoming SYNs for a listening socket whose accept queue is full. A socket
 * that listens with backlog 0 and never calls accept() has room for one connection; the simulator
 * fills it itself and from then on every SYN to that address:port is silently dropped. Node always
 * accepts, so the listener is a tiny perl (perl-base is essential on Debian) or python3 child that
 * exits when its stdin closes, i.e. when the simulator goes away for any reason.
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";

const PERL_LISTENER = [
  "use Socket;",
  'socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\\n";',
  'setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1) or die "setsockopt: $!\\n";',
  'bind($s, sockaddr_in($ARGV[1], inet_aton($ARGV[0]))) or die "bind: $!\\n";',
  'listen($s, 0) or die "listen: $!\\n";',
  '$| = 1; print "ready\\n";',
  "1 while <STDIN>;",
].join(" ");

const PYTHON_LISTENER = [
  "import socket, sys",
  "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
  "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
  "s.bind((sys.argv[1], int(sys.argv[2])))",
  "s.listen(0)",
  "print('ready', flush=True)",
  "sys.stdin.read()",
].join("\n");

/** How long a filler connect may stay pending before we conclude the kernel is dropping SYNs. */
const DROP_DETECT_MS = 150;
const MAX_FILLERS = 4;

export class Blackhole {
  private child: ChildProcess | null = null;
  private fillers: net.Socket[] = [];

  private constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  /** Starts dropping SYNs to host:port. The port must be free (the service listener closed). */
  static async start(host: string, port: number): Promise<Blackhole> {
    const hole = new Blackhole(host, port);
    try {
      hole.child = await spawnListener(host, port);
      await hole.fillAcceptQueue();
    } catch (err) {
      await hole.stop();
      throw err;
    }
    return hole;
  }

  private async fillAcceptQueue(): Promise<void> {
    for (let i = 0; i < MAX_FILLERS; i++) {
      const socket = net.connect({ host: this.host, port: this.port });
      socket.on("error", () => {});
      const outcome = await new Promise<"connected" | "pending" | "failed">((resolve) => {
        const timer = setTimeout(() => resolve("pending"), DROP_DETECT_MS);
        socket.once("connect", () => {
          clearTimeout(timer);
          resolve("connected");
        });
        socket.once("error", () => {
          clearTimeout(timer);
          resolve("failed");
        });
      });
      if (outcome === "connected") {
        this.fillers.push(socket);
        continue;
      }
      socket.destroy();
      if (outcome === "pending") return;
      throw new Error(`blackhole on ${this.host}:${this.port}: the listener refused a connection`);
    }
    throw new Error(`blackhole on ${this.host}:${this.port}: the accept queue never filled up`);
  }

  /** Frees the port: closes the filler connections and ends the listener process. */
  async stop(): Promise<void> {
    for (const socket of this.fillers) socket.destroy();
    this.fillers = [];
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const escalate = setTimeout(() => child.kill("SIGKILL"), 1_000);
    await exited;
    clearTimeout(escalate);
  }
}

async function spawnListener(host: string, port: number): Promise<ChildProcess> {
  try {
    return await spawnAndWaitReady("perl", ["-e", PERL_LISTENER, host, String(port)]);
  } catch (perlErr) {
    if ((perlErr as NodeJS.ErrnoException).code !== "ENOENT") throw perlErr;
    return await spawnAndWaitReady("python3", ["-c", PYTHON_LISTENER, host, String(port)]);
  }
}

function spawnAndWaitReady(command: string, args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} blackhole listener did not start within 5 s`));
    }, 5_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.once("data", () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} blackhole listener exited with ${code}: ${stderr.trim()}`));
    });
  });
}
