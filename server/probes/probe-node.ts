/**
 * One health probe of one node: a TCP connect, then `GET <healthPath>` on that same connection.
 *
 * This is the controller's hot path (a thousand nodes a second on two cores, with a simulated fleet
 * sharing the machine), so it talks HTTP/1.1 over `node:net` itself instead of using `http` or
 * `fetch`: no agent, no header objects, no streams, no promise per chunk — one socket, one pre-built
 * request buffer, one timer, and a small incremental parser. Measured against 1,000 simulated nodes
 * at 1,000 requests/s (steady state, same machine): about 100 µs of CPU per probe here, 125 µs with
 * `http.request` (agent: false), 260 µs with `fetch`. Just as important, owning the socket gives
 * the connect phase its own timeout and its own error words, which neither client exposes cleanly.
 *
 * Two timeouts, each with its own words, because the detector and the on-call engineer read them
 * differently: the TCP connect timeout (nothing answered the SYN: black-holed, dead host) and the
 * HTTP timeout, measured from the moment the request is written to the moment the whole response is
 * in (the process accepts but does not answer: hung, overloaded). "refused" (RST, nothing listens:
 * the process crashed) is distinct from both.
 *
 * What a node sends is untrusted: the header section and the body are size-capped, chunked framing
 * is decoded strictly, and anything malformed becomes `httpOk: false` with a clear error — the
 * probe never throws for something the node did. It only rejects, before any I/O, for bad input
 * from our side (`ProbeInputError`: a port out of range, a path that is not an origin-form path,
 * CR/LF or other control characters in host or path, so a request can never be split or have
 * headers injected), and when the caller aborts (`ProbeAbortedError`). The socket is always
 * destroyed and the timer always cleared, whichever way the probe ends.
 */
import net from "node:net";
import { oneLine } from "@/server/policy/format";
import type { ProbeObservation } from "@/server/policy/types";

export type ProbeTarget = { host: string; port: number; healthPath: string };

export type ProbeOptions = {
  tcpTimeoutMs: number;
  httpTimeoutMs: number;
  signal?: AbortSignal;
  /** Cap on the decoded response body; default 64 KiB. */
  maxBodyBytes?: number;
};

export type ReportedRole = "master" | "standby";

export type ProbeResult = ProbeObservation & {
  /** `role` from the /health JSON, when it is one we know. */
  reportedRole: ReportedRole | null;
  /** `epoch` from the /health JSON, when it is a non-negative safe integer. */
  reportedEpoch: number | null;
  /** `status` from the /health JSON (e.g. "healthy", "unhealthy"), bounded to one short line. */
  healthStatus: string | null;
};

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/** Status line + headers. Real /health responses carry a few hundred bytes of headers. */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_TIMEOUT_MS = 600_000;
const MAX_BODY_LIMIT = 16 * 1024 * 1024;
const MAX_PATH_CHARS = 2_048;
const MAX_CHUNK_LINE = 1_024;
const MAX_HEALTH_STATUS_CHARS = 64;

export type ProbeInputField =
  | "host"
  | "port"
  | "healthPath"
  | "intervalMs"
  | "tcpTimeoutMs"
  | "httpTimeoutMs"
  | "maxBodyBytes";

/** Bad input from our side (inventory, policy), refused before any socket is opened. */
export class ProbeInputError extends Error {
  readonly code = "PROBE_INVALID_INPUT" as const;
  constructor(
    readonly field: ProbeInputField,
    message: string,
  ) {
    super(message);
    this.name = "ProbeInputError";
  }
}

/** The caller's AbortSignal fired; the probe was abandoned and observed nothing. */
export class ProbeAbortedError extends Error {
  readonly code = "PROBE_ABORTED" as const;
  constructor() {
    super("probe aborted");
    this.name = "ProbeAbortedError";
  }
}

const HOSTNAME_RE =
  /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** Visible ASCII only (RFC 3986 characters are a subset): no space, no control, no CR/LF. */
const PATH_RE = /^\/[\x21-\x7e]*$/;
const CRLF_RE = /[\r\n]/;

/**
 * A validated target with its request bytes built once. The scheduler keeps one per node so the
 * per-probe cost is a socket and a write, not string building and validation.
 */
export class PreparedProbeTarget {
  readonly host: string;
  readonly port: number;
  readonly healthPath: string;
  /** `GET <path> HTTP/1.1` with Host, Connection: close and User-Agent, as bytes. */
  readonly request: Buffer;

  private constructor(host: string, port: number, healthPath: string, request: Buffer) {
    this.host = host;
    this.port = port;
    this.healthPath = healthPath;
    this.request = request;
  }

  /** Validates `target` (throws ProbeInputError) and builds its request. */
  static from(target: ProbeTarget): PreparedProbeTarget {
    const { host, port, healthPath } = target;
    if (typeof host !== "string" || host.length === 0) throw new ProbeInputError("host", "host is empty");
    if (CRLF_RE.test(host)) throw new ProbeInputError("host", "host contains CR or LF");
    const ipVersion = net.isIP(host);
    if (ipVersion === 0 && !HOSTNAME_RE.test(host)) {
      throw new ProbeInputError(
        "host",
        `host ${JSON.stringify(oneLine(host, 80))} is not an IP address or hostname`,
      );
    }
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new ProbeInputError("port", `port must be an integer in 1..65535, got ${String(port)}`);
    }
    if (typeof healthPath !== "string" || !healthPath.startsWith("/")) {
      throw new ProbeInputError("healthPath", 'healthPath must start with "/"');
    }
    if (CRLF_RE.test(healthPath)) throw new ProbeInputError("healthPath", "healthPath contains CR or LF");
    if (healthPath.length > MAX_PATH_CHARS) {
      throw new ProbeInputError("healthPath", `healthPath is longer than ${MAX_PATH_CHARS} characters`);
    }
    if (!PATH_RE.test(healthPath)) {
      throw new ProbeInputError(
        "healthPath",
        "healthPath contains a space, control or non-ASCII character (percent-encode it)",
      );
    }
    const hostName = ipVersion === 6 ? `[${host}]` : host;
    const hostHeader = port === 80 ? hostName : `${hostName}:${port}`;
    const request = Buffer.from(
      `GET ${healthPath} HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\nUser-Agent: switchyard-probe\r\n\r\n`,
      "latin1",
    );
    return new PreparedProbeTarget(host, port, healthPath, request);
  }
}

/** Validates a target without probing it (for forms and `upsert`); throws ProbeInputError. */
export function prepareProbeTarget(target: ProbeTarget): PreparedProbeTarget {
  return PreparedProbeTarget.from(target);
}

function checkTimeout(field: "tcpTimeoutMs" | "httpTimeoutMs", value: number): void {
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMEOUT_MS) {
    throw new ProbeInputError(
      field,
      `${field} must be a number in (0, ${MAX_TIMEOUT_MS}], got ${String(value)}`,
    );
  }
}

/** Validates probe options; throws ProbeInputError. Returns the effective body cap. */
export function checkProbeOptions(opts: Omit<ProbeOptions, "signal">): number {
  checkTimeout("tcpTimeoutMs", opts.tcpTimeoutMs);
  checkTimeout("httpTimeoutMs", opts.httpTimeoutMs);
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(max) || max < 1 || max > MAX_BODY_LIMIT) {
    throw new ProbeInputError("maxBodyBytes", `maxBodyBytes must be an integer in 1..${MAX_BODY_LIMIT}`);
  }
  return max;
}

/**
 * Probes one node. Resolves with what was observed (never rejects for anything the node did);
 * rejects with ProbeInputError for bad input (before any I/O) and ProbeAbortedError on abort.
 */
export function probeNode(
  target: ProbeTarget | PreparedProbeTarget,
  opts: ProbeOptions,
): Promise<ProbeResult> {
  let prepared: PreparedProbeTarget;
  let maxBodyBytes: number;
  try {
    prepared = target instanceof PreparedProbeTarget ? target : PreparedProbeTarget.from(target);
    maxBodyBytes = checkProbeOptions(opts);
  } catch (err) {
    return Promise.reject(err);
  }
  if (opts.signal?.aborted) return Promise.reject(new ProbeAbortedError());
  return new Promise((resolve, reject) => {
    runProbe(prepared, opts.tcpTimeoutMs, opts.httpTimeoutMs, maxBodyBytes, opts.signal, resolve, reject);
  });
}

function tcpErrorText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ECONNREFUSED":
      return "TCP connect refused";
    case "ETIMEDOUT":
      return "TCP connect timed out (ETIMEDOUT)";
    case "EHOSTUNREACH":
      return "TCP connect failed: host unreachable (EHOSTUNREACH)";
    case "ENETUNREACH":
      return "TCP connect failed: network unreachable (ENETUNREACH)";
    case "ECONNRESET":
      return "TCP connect failed: connection reset (ECONNRESET)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `TCP connect failed: name lookup failed (${err.code})`;
    default:
      return `TCP connect failed: ${err.code ?? oneLine(err.message, 120)}`;
  }
}

function httpErrorText(err: NodeJS.ErrnoException): string {
  if (err.code === "ECONNRESET" || err.code === "EPIPE") return `HTTP connection reset (${err.code})`;
  return `HTTP request failed: ${err.code ?? oneLine(err.message, 120)}`;
}

function runProbe(
  target: PreparedProbeTarget,
  tcpTimeoutMs: number,
  httpTimeoutMs: number,
  maxBodyBytes: number,
  signal: AbortSignal | undefined,
  resolve: (result: ProbeResult) => void,
  reject: (err: Error) => void,
): void {
  const at = Date.now();
  const t0 = performance.now();
  let connected = false;
  let tcpMs: number | null = null;
  let writtenAt = 0;
  let settled = false;
  const parser = new HttpResponseParser(maxBodyBytes);
  const socket = net.connect({ host: target.host, port: target.port });

  const cleanup = () => {
    settled = true;
    clearTimeout(timer);
    if (signal) signal.removeEventListener("abort", onAbort);
    socket.destroy();
  };

  const finishTcpFailure = (error: string) => {
    if (settled) return;
    cleanup();
    resolve({
      at,
      tcpOk: false,
      tcpMs: performance.now() - t0,
      httpOk: false,
      httpStatus: null,
      httpMs: null,
      error,
      reportedRole: null,
      reportedEpoch: null,
      healthStatus: null,
    });
  };

  /** Ends the HTTP phase: `error` null means the parser has a complete response. */
  const finishHttp = (error: string | null) => {
    if (settled) return;
    cleanup();
    const httpMs = performance.now() - writtenAt;
    const status = parser.status;
    if (error !== null || status === null) {
      resolve({
        at,
        tcpOk: true,
        tcpMs,
        httpOk: false,
        httpStatus: status,
        httpMs,
        error: error ?? "no HTTP response",
        reportedRole: null,
        reportedEpoch: null,
        healthStatus: null,
      });
      return;
    }
    const health = parseHealthBody(parser);
    const httpOk = status >= 200 && status <= 299;
    resolve({
      at,
      tcpOk: true,
      tcpMs,
      httpOk,
      httpStatus: status,
      httpMs,
      error: httpOk ? null : health.error ? `HTTP ${status}: ${health.error}` : `HTTP ${status}`,
      reportedRole: health.role,
      reportedEpoch: health.epoch,
      healthStatus: health.status,
    });
  };

  // A timer that fires after the event loop was blocked (a GC pause, a burst of SSH handshakes)
  // runs *before* the I/O poll that would deliver an answer already waiting in the socket. So the
  // verdict waits for setImmediate, which runs after that poll: only a probe that still has no
  // answer then has really timed out. Without this, a busy controller fails healthy nodes.
  const onTimeout = () => {
    const phaseConnected = connected;
    setImmediate(() => {
      if (settled || connected !== phaseConnected) return;
      if (connected) finishHttp(`HTTP timed out after ${httpTimeoutMs} ms`);
      else finishTcpFailure(`TCP connect timed out after ${tcpTimeoutMs} ms`);
    });
  };

  function onAbort() {
    if (settled) return;
    cleanup();
    reject(new ProbeAbortedError());
  }

  let timer = setTimeout(onTimeout, tcpTimeoutMs);
  if (signal) signal.addEventListener("abort", onAbort, { once: true });

  socket.once("connect", () => {
    if (settled) return;
    connected = true;
    writtenAt = performance.now();
    tcpMs = writtenAt - t0;
    clearTimeout(timer);
    timer = setTimeout(onTimeout, httpTimeoutMs);
    socket.write(target.request);
  });
  socket.on("data", (chunk: Buffer) => {
    if (settled) return;
    const outcome = parser.push(chunk);
    if (outcome === DONE) finishHttp(null);
    else if (outcome === FAILED) finishHttp(parser.error);
  });
  socket.once("end", () => {
    if (settled || !connected) return;
    const outcome = parser.end();
    finishHttp(outcome === DONE ? null : parser.error);
  });
  // Kept for the socket's whole life: a late error after destroy must never go unhandled.
  socket.on("error", (err: NodeJS.ErrnoException) => {
    if (settled) return;
    if (connected) finishHttp(httpErrorText(err));
    else finishTcpFailure(tcpErrorText(err));
  });
  socket.once("close", () => {
    if (settled) return;
    if (connected) finishHttp(parser.end() === DONE ? null : parser.error);
    else finishTcpFailure("TCP connect failed: connection closed");
  });
}

type HealthFields = {
  status: string | null;
  role: ReportedRole | null;
  epoch: number | null;
  error: string | null;
};

const NO_HEALTH: HealthFields = { status: null, role: null, epoch: null, error: null };

/**
 * `{status, role, epoch}` from a /health body, each field independently optional: an empty body, a
 * non-JSON body (some services answer "OK") or unknown values give nulls, not an error — the HTTP
 * status is what says whether the check passed. `error` is a node-supplied reason (e.g. a CUDA
 * error on 503), squeezed to one bounded line.
 */
function parseHealthBody(parser: HttpResponseParser): HealthFields {
  const text = parser.bodyText();
  if (text === "") return NO_HEALTH;
  let first = 0;
  while (first < text.length && /\s/.test(text[first] as string)) first++;
  if (text[first] !== "{") return NO_HEALTH;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return NO_HEALTH;
  }
  if (typeof json !== "object" || json === null) return NO_HEALTH;
  const body = json as Record<string, unknown>;
  const role = body.role === "master" || body.role === "standby" ? body.role : null;
  const epoch =
    typeof body.epoch === "number" && Number.isSafeInteger(body.epoch) && body.epoch >= 0 ? body.epoch : null;
  const status =
    typeof body.status === "string" && body.status !== ""
      ? oneLine(body.status, MAX_HEALTH_STATUS_CHARS)
      : null;
  const error = typeof body.error === "string" && body.error !== "" ? oneLine(body.error) : null;
  return { status, role, epoch, error };
}

// -----------------------------------------------------------------------------------------------
// HTTP/1.1 response parser: incremental, bounded, strict about framing, lenient about the rest.

const MORE = 0;
const DONE = 1;
const FAILED = 2;
type ParseOutcome = typeof MORE | typeof DONE | typeof FAILED;

/** Parser stages (plain numbers: `const enum` does not survive isolated-module transpilers). */
const Stage = {
  Head: 0,
  BodyLength: 1,
  BodyToClose: 2,
  ChunkSize: 3,
  ChunkData: 4,
  ChunkEnd: 5,
  Trailer: 6,
  Done: 7,
  Failed: 8,
} as const;
type Stage = (typeof Stage)[keyof typeof Stage];

const HTTP_PREFIX = Buffer.from("HTTP/", "latin1");
const STATUS_LINE_RE = /^HTTP\/1\.[01] ([1-9]\d\d)(?: .*)?$/;
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const CHUNK_SIZE_RE = /^[0-9A-Fa-f]{1,8}$/;

/** A line from a node, safe to put in an error message. */
function quoteForError(bytes: Buffer): string {
  const text = bytes.toString("latin1").replace(/[^\x20-\x7e]/g, "?");
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

export class HttpResponseParser {
  status: number | null = null;
  error: string | null = null;

  private stage: Stage = Stage.Head;
  /** Unconsumed bytes are buf[off..]. */
  private buf: Buffer = Buffer.alloc(0);
  private off = 0;
  private remaining = 0;
  private readonly body: Buffer[] = [];
  private bodyBytes = 0;

  constructor(private readonly maxBodyBytes: number) {}

  push(chunk: Buffer): ParseOutcome {
    if (this.stage === Stage.Done) return DONE;
    if (this.stage === Stage.Failed) return FAILED;
    if (this.off < this.buf.length) {
      this.buf = Buffer.concat([this.buf.subarray(this.off), chunk]);
    } else {
      this.buf = chunk;
    }
    this.off = 0;
    return this.run();
  }

  /** The peer closed the connection. */
  end(): ParseOutcome {
    switch (this.stage) {
      case Stage.Done:
        return DONE;
      case Stage.Failed:
        return FAILED;
      case Stage.BodyToClose:
        this.stage = Stage.Done;
        return DONE;
      case Stage.Head:
        return this.fail(
          this.buf.length - this.off === 0
            ? "connection closed without a response"
            : "connection closed in the middle of the response headers",
        );
      default:
        return this.fail("response truncated: connection closed before the body was complete");
    }
  }

  bodyText(): string {
    if (this.bodyBytes === 0) return "";
    const first = this.body[0];
    return this.body.length === 1 && first
      ? first.toString("utf8")
      : Buffer.concat(this.body).toString("utf8");
  }

  private fail(error: string): ParseOutcome {
    this.stage = Stage.Failed;
    this.error = error;
    return FAILED;
  }

  private addBody(bytes: Buffer): boolean {
    this.bodyBytes += bytes.length;
    if (this.bodyBytes > this.maxBodyBytes) {
      this.fail(`response too large: body exceeds ${this.maxBodyBytes} bytes`);
      return false;
    }
    if (bytes.length > 0) this.body.push(bytes);
    return true;
  }

  private tooLarge(): ParseOutcome {
    return this.fail(`response too large: body exceeds ${this.maxBodyBytes} bytes`);
  }

  /** Index just past the next LF at or after `from`, or -1. */
  private lineEnd(from: number): number {
    const i = this.buf.indexOf(0x0a, from);
    return i === -1 ? -1 : i + 1;
  }

  /** buf[start..end) without its trailing CRLF / LF. */
  private lineText(start: number, end: number): string {
    let stop = end;
    if (stop > start && this.buf[stop - 1] === 0x0a) stop--;
    if (stop > start && this.buf[stop - 1] === 0x0d) stop--;
    return this.buf.toString("latin1", start, stop);
  }

  private run(): ParseOutcome {
    for (;;) {
      const avail = this.buf.length - this.off;
      switch (this.stage) {
        case Stage.Head: {
          const outcome = this.parseHead();
          if (outcome !== DONE) return outcome;
          continue; // parseHead moved to a body stage (or Done)
        }
        case Stage.BodyLength: {
          if (avail === 0) return MORE;
          const take = Math.min(avail, this.remaining);
          if (!this.addBody(this.buf.subarray(this.off, this.off + take))) return FAILED;
          this.off += take;
          this.remaining -= take;
          if (this.remaining === 0) this.stage = Stage.Done;
          continue;
        }
        case Stage.BodyToClose: {
          if (avail === 0) return MORE;
          if (!this.addBody(this.buf.subarray(this.off))) return FAILED;
          this.off = this.buf.length;
          return MORE;
        }
        case Stage.ChunkSize: {
          const end = this.lineEnd(this.off);
          if (end === -1) {
            if (avail > MAX_CHUNK_LINE)
              return this.fail("malformed chunked encoding: chunk size line too long");
            return MORE;
          }
          if (end - this.off > MAX_CHUNK_LINE)
            return this.fail("malformed chunked encoding: chunk size line too long");
          const line = this.lineText(this.off, end);
          this.off = end;
          const semi = line.indexOf(";");
          const sizeText = (semi === -1 ? line : line.slice(0, semi)).trim();
          if (!CHUNK_SIZE_RE.test(sizeText)) {
            return this.fail(
              `malformed chunked encoding: bad chunk size ${JSON.stringify(sizeText.slice(0, 20))}`,
            );
          }
          const size = Number.parseInt(sizeText, 16);
          if (size === 0) {
            this.stage = Stage.Trailer;
          } else {
            if (this.bodyBytes + size > this.maxBodyBytes) return this.tooLarge();
            this.remaining = size;
            this.stage = Stage.ChunkData;
          }
          continue;
        }
        case Stage.ChunkData: {
          if (avail === 0) return MORE;
          const take = Math.min(avail, this.remaining);
          if (!this.addBody(this.buf.subarray(this.off, this.off + take))) return FAILED;
          this.off += take;
          this.remaining -= take;
          if (this.remaining === 0) this.stage = Stage.ChunkEnd;
          continue;
        }
        case Stage.ChunkEnd: {
          if (avail === 0) return MORE;
          const first = this.buf[this.off];
          if (first === 0x0a) {
            this.off += 1;
          } else if (first === 0x0d) {
            if (avail < 2) return MORE;
            if (this.buf[this.off + 1] !== 0x0a)
              return this.fail("malformed chunked encoding: missing CRLF after chunk");
            this.off += 2;
          } else {
            return this.fail("malformed chunked encoding: chunk longer than its declared size");
          }
          this.stage = Stage.ChunkSize;
          continue;
        }
        case Stage.Trailer: {
          const end = this.lineEnd(this.off);
          if (end === -1) {
            if (avail > MAX_HEAD_BYTES) return this.fail("response headers too large (trailer)");
            return MORE;
          }
          const empty = end - this.off <= 2 && this.lineText(this.off, end) === "";
          this.off = end;
          if (empty) this.stage = Stage.Done;
          continue;
        }
        case Stage.Done:
          return DONE;
        case Stage.Failed:
          return FAILED;
      }
    }
  }

  /**
   * Parses one complete header section if it is all here. Returns DONE when it moved on to a body
   * stage, MORE when it needs more bytes, FAILED on a malformed or oversized head.
   */
  private parseHead(): ParseOutcome {
    const avail = this.buf.length - this.off;
    // Refuse a non-HTTP peer (an SSH banner, TLS, garbage) as soon as its first bytes say so.
    const prefixLength = Math.min(avail, HTTP_PREFIX.length);
    if (this.buf.compare(HTTP_PREFIX, 0, prefixLength, this.off, this.off + prefixLength) !== 0) {
      const lf = this.buf.indexOf(0x0a, this.off);
      let stop = lf === -1 ? this.off + Math.min(avail, 80) : lf;
      if (stop > this.off && this.buf[stop - 1] === 0x0d) stop--;
      return this.fail(`malformed status line: ${quoteForError(this.buf.subarray(this.off, stop))}`);
    }
    // End of the header section: an empty line (CRLF CRLF, tolerating bare LFs).
    let headEnd = -1;
    let search = this.off;
    for (;;) {
      const lf = this.buf.indexOf(0x0a, search);
      if (lf === -1) break;
      const next = this.buf[lf + 1];
      if (next === 0x0a) {
        headEnd = lf + 2;
        break;
      }
      if (next === 0x0d && this.buf[lf + 2] === 0x0a) {
        headEnd = lf + 3;
        break;
      }
      if (next === undefined || (next === 0x0d && lf + 2 >= this.buf.length)) break;
      search = lf + 1;
    }
    if (headEnd === -1) {
      if (avail > MAX_HEAD_BYTES)
        return this.fail(`response headers too large (over ${MAX_HEAD_BYTES} bytes)`);
      return MORE;
    }
    if (headEnd - this.off > MAX_HEAD_BYTES) {
      return this.fail(`response headers too large (over ${MAX_HEAD_BYTES} bytes)`);
    }
    const lines = this.buf.toString("latin1", this.off, headEnd).split(/\r?\n/);
    this.off = headEnd;
    const statusLine = lines[0] ?? "";
    const match = STATUS_LINE_RE.exec(statusLine);
    if (!match)
      return this.fail(`malformed status line: ${quoteForError(Buffer.from(statusLine, "latin1"))}`);
    const status = Number(match[1]);

    let contentLength: number | null = null;
    let chunked = false;
    let otherCoding = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      if (line === "") continue;
      const colon = line.indexOf(":");
      if (colon <= 0)
        return this.fail(`malformed header line: ${quoteForError(Buffer.from(line, "latin1"))}`);
      const name = line.slice(0, colon);
      if (!TOKEN_RE.test(name)) {
        return this.fail(`malformed header line: ${quoteForError(Buffer.from(line, "latin1"))}`);
      }
      const lower = name.toLowerCase();
      if (lower === "content-length") {
        const value = line.slice(colon + 1).trim();
        if (!/^\d{1,15}$/.test(value))
          return this.fail(`invalid Content-Length ${JSON.stringify(value.slice(0, 20))}`);
        const n = Number(value);
        if (contentLength !== null && contentLength !== n)
          return this.fail("conflicting Content-Length headers");
        contentLength = n;
      } else if (lower === "transfer-encoding") {
        const codings = line
          .slice(colon + 1)
          .split(",")
          .map((c) => c.trim().toLowerCase())
          .filter((c) => c !== "");
        // Only the final coding decides the framing (RFC 9112 §6.3).
        chunked = codings[codings.length - 1] === "chunked";
        otherCoding = !chunked && codings.length > 0;
      }
    }

    // 1xx interim responses (103 Early Hints, a stray 100 Continue) precede the real one.
    if (status < 200) {
      if (status === 101) return this.fail("unexpected 101 Switching Protocols");
      return this.parseHead();
    }
    this.status = status;
    if (status === 204 || status === 304) {
      this.stage = Stage.Done;
    } else if (chunked) {
      this.stage = Stage.ChunkSize;
    } else if (otherCoding) {
      this.stage = Stage.BodyToClose;
    } else if (contentLength !== null) {
      if (contentLength > this.maxBodyBytes) return this.tooLarge();
      this.remaining = contentLength;
      this.stage = contentLength === 0 ? Stage.Done : Stage.BodyLength;
    } else {
      this.stage = Stage.BodyToClose;
    }
    return DONE;
  }
}
