/**
 * Parsing of `nvidia-smi --query-gpu=... --format=csv` output, one-shot or streamed with `-lms`.
 *
 * For a failover controller, losing GPU telemetry is itself the most important reading: a driver
 * that stopped answering or a GPU that fell off the bus is exactly when traffic has to move. So
 * nothing in here throws on odd input or lets a NaN through. Every outcome is either a sample
 * whose numbers are finite or null (a field the GPU does not report, `[N/A]` and friends), or a
 * typed error that says which way telemetry was lost (driver unreachable, no devices, GPU lost,
 * bad query, garbage). Callers decide what a loss means; this module only makes it impossible
 * to mistake one for a reading.
 *
 * Formats follow real captures from an H100 (shared/fixtures/nvidia-smi): values separated by
 * `, `, optional header row (`utilization.gpu [%]`), optional units in values (`100 %`,
 * `1395 MiB`, `681.83 W`), timestamps as `2026/11/24 19:36:43.728`.
 */

export type GpuSample = {
  index: number;
  uuid: string | null;
  name: string | null;
  utilizationGpuPct: number | null;
  utilizationMemoryPct: number | null;
  memoryUsedMib: number | null;
  memoryTotalMib: number | null;
  temperatureC: number | null;
  powerDrawW: number | null;
  powerLimitW: number | null;
  clocksSmMhz: number | null;
  pstate: string | null;
  eccUncorrected: number | null;
  driverVersion: string | null;
  timestamp: Date | null;
};

export type GpuTelemetryErrorCode =
  | "driver_unreachable"
  | "no_devices"
  | "gpu_lost"
  | "invalid_field"
  | "unparseable"
  | "empty";

export type GpuTelemetryError = { code: GpuTelemetryErrorCode; message: string; line?: string };

export type GpuParseResult =
  | { ok: true; samples: GpuSample[]; warnings: string[] }
  | { ok: false; error: GpuTelemetryError };

export type GpuLineResult =
  | { ok: true; sample: GpuSample; warnings: string[] }
  | { ok: false; error: GpuTelemetryError };

/**
 * What the controller streams with `-lms`. Beyond load and memory it asks for the health signals
 * that precede a failure (pstate, SM clock for throttling, uncorrected ECC errors), and for
 * timestamp and uuid so a sample can be tied to a moment and to a physical GPU even if indices
 * shift after a reboot. Static facts (name, driver version) are left to GPU_INVENTORY_FIELDS so
 * they are not resent every interval.
 */
export const GPU_QUERY_FIELDS = [
  "timestamp",
  "index",
  "uuid",
  "utilization.gpu",
  "utilization.memory",
  "memory.used",
  "memory.total",
  "temperature.gpu",
  "power.draw",
  "power.limit",
  "clocks.sm",
  "pstate",
  "ecc.errors.uncorrected.volatile.total",
] as const;

/** One-shot query for what does not change while a host is up. */
export const GPU_INVENTORY_FIELDS = [
  "index",
  "uuid",
  "name",
  "memory.total",
  "power.limit",
  "driver_version",
] as const;

type NumberKey =
  | "utilizationGpuPct"
  | "utilizationMemoryPct"
  | "memoryUsedMib"
  | "memoryTotalMib"
  | "temperatureC"
  | "powerDrawW"
  | "powerLimitW"
  | "clocksSmMhz"
  | "eccUncorrected";
type StringKey = "uuid" | "name" | "pstate" | "driverVersion";
type FieldSpec =
  | { kind: "index" }
  | { kind: "timestamp" }
  | { kind: "number"; key: NumberKey; unit?: string; integer?: boolean }
  | { kind: "string"; key: StringKey };

// Keyed by canonical name; ALIASES maps the alternative spellings from --help-query-gpu.
const FIELD_SPECS: Readonly<Record<string, FieldSpec>> = {
  timestamp: { kind: "timestamp" },
  index: { kind: "index" },
  uuid: { kind: "string", key: "uuid" },
  name: { kind: "string", key: "name" },
  "utilization.gpu": { kind: "number", key: "utilizationGpuPct", unit: "%" },
  "utilization.memory": { kind: "number", key: "utilizationMemoryPct", unit: "%" },
  "memory.used": { kind: "number", key: "memoryUsedMib", unit: "MiB" },
  "memory.total": { kind: "number", key: "memoryTotalMib", unit: "MiB" },
  "temperature.gpu": { kind: "number", key: "temperatureC" },
  "power.draw": { kind: "number", key: "powerDrawW", unit: "W" },
  "power.limit": { kind: "number", key: "powerLimitW", unit: "W" },
  "clocks.current.sm": { kind: "number", key: "clocksSmMhz", unit: "MHz" },
  pstate: { kind: "string", key: "pstate" },
  "ecc.errors.uncorrected.volatile.total": { kind: "number", key: "eccUncorrected", integer: true },
  driver_version: { kind: "string", key: "driverVersion" },
};

const ALIASES: Readonly<Record<string, string>> = {
  gpu_uuid: "uuid",
  gpu_name: "name",
  "clocks.sm": "clocks.current.sm",
  "gpu.power.requested_limit": "power.limit",
};

function canonicalField(field: string): string {
  const f = field.trim();
  return ALIASES[f] ?? f;
}

/** Placeholders nvidia-smi prints instead of a value; they mean "not available", not "broken". */
const KNOWN_PLACEHOLDERS = new Set([
  "[N/A]",
  "N/A",
  "[Not Supported]",
  "[Unknown Error]",
  "[Insufficient Permissions]",
  "[Not Available]",
]);

/** The message nvidia-smi prints (exit 9) when the kernel driver is gone. */
export const DRIVER_FAILURE_TEXT =
  "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.";

type FailurePattern = { re: RegExp; code: GpuTelemetryErrorCode; message: (m: RegExpMatchArray) => string };

// Whole-output messages nvidia-smi prints instead of CSV. Order matters: the first match wins, and
// the GPU-lost family is checked before the generic driver messages that can accompany it.
const FAILURE_PATTERNS: readonly FailurePattern[] = [
  {
    re: /GPU is lost|fallen off the bus|GPU requires reset|Unable to determine the device handle/i,
    code: "gpu_lost",
    message: () => "nvidia-smi reports the GPU as lost (fallen off the bus or needs a reset)",
  },
  {
    re: /couldn't communicate with the NVIDIA driver|NVIDIA-SMI has failed|Failed to initialize NVML|couldn't find libnvidia-ml|Driver\/library version mismatch/i,
    code: "driver_unreachable",
    message: () => "nvidia-smi cannot talk to the NVIDIA driver",
  },
  { re: /^No devices were found/i, code: "no_devices", message: () => "nvidia-smi found no GPUs" },
  {
    re: /^Field "(.*)" is not a valid field to query/,
    code: "invalid_field",
    message: (m) => `nvidia-smi rejected the query field "${m[1] ?? ""}"`,
  },
  {
    re: /^Invalid combination of input arguments/,
    code: "invalid_field",
    message: () => "nvidia-smi rejected its arguments",
  },
];

function matchFailure(line: string): GpuTelemetryError | null {
  for (const p of FAILURE_PATTERNS) {
    const m = line.match(p.re);
    if (m) return { code: p.code, message: p.message(m), line };
  }
  return null;
}

/** Scans a whole output (stdout and/or stderr) for a known failure message. */
export function detectNvidiaSmiFailure(text: string): GpuTelemetryError | null {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    const failure = matchFailure(line);
    if (failure) return failure;
  }
  return null;
}

// Telling someone "column count mismatch" when they fed us `nvidia-smi -q -x` wastes their time.
function describeNonCsv(text: string): string | null {
  const first = text.trimStart().split(/\r?\n/, 1)[0] ?? "";
  if (first.startsWith("<")) return "XML (nvidia-smi -q -x)";
  if (/NVSMI LOG/.test(text)) return "the nvidia-smi -q report";
  if (/^List of valid properties to query/.test(first)) return "nvidia-smi --help-query-gpu";
  if (/^[+|][-=+ ]*[-=]{10}/m.test(text)) return "the nvidia-smi status table";
  return null;
}

function emptySample(index: number): GpuSample {
  return {
    index,
    uuid: null,
    name: null,
    utilizationGpuPct: null,
    utilizationMemoryPct: null,
    memoryUsedMib: null,
    memoryTotalMib: null,
    temperatureC: null,
    powerDrawW: null,
    powerLimitW: null,
    clocksSmMhz: null,
    pstate: null,
    eccUncorrected: null,
    driverVersion: null,
    timestamp: null,
  };
}

const NUMBER_RE = /^-?\d+(?:\.\d+)?$/;
const TIMESTAMP_RE = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/;

/**
 * nvidia-smi prints the host's local time with no zone. The controller cannot know the zone of
 * every host, so the wall-clock reading is taken as UTC: the result is a consistent instant per
 * host (spacing and ordering of that host's samples are right) but is offset from true UTC by the
 * host's zone. Use it for intervals and staleness within a host, not to order events across hosts.
 * Returns null for anything that is not a real calendar time.
 */
export function parseNvidiaSmiTimestamp(value: string): Date | null {
  const m = TIMESTAMP_RE.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // "7" after the dot is 700 ms, not 7 ms.
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0"));
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  // Date.UTC rolls 2026/02/31 over into March; a real nvidia-smi never prints that, garbage might.
  const roundTrips =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return roundTrips ? date : null;
}

/** Splits a CSV row as nvidia-smi writes it (no quoting: no queried value contains a comma). */
function splitRow(line: string): string[] {
  return line.split(",").map((c) => c.trim());
}

function stripHeaderUnit(cell: string): string {
  return cell.replace(/\s*\[[^\]]*\]$/, "").trim();
}

/** True if `line` is the header row nvidia-smi prints for `fields` without `noheader`. */
export function isGpuCsvHeader(line: string, fields: readonly string[]): boolean {
  const cells = splitRow(line);
  if (cells.length !== fields.length) return false;
  return cells.every((c, i) => canonicalField(stripHeaderUnit(c)) === canonicalField(fields[i] ?? ""));
}

type CellOutcome =
  | { ok: true; value: number | string | Date | null; warning?: string }
  | { ok: false; error: GpuTelemetryError };

function unparseable(message: string, line: string): { ok: false; error: GpuTelemetryError } {
  return { ok: false, error: { code: "unparseable", message, line } };
}

function parseCell(field: string, spec: FieldSpec, cell: string, line: string): CellOutcome {
  if (/^\[?GPU is lost\]?$/i.test(cell) || /^\[?GPU requires reset\]?$/i.test(cell)) {
    return {
      ok: false,
      error: { code: "gpu_lost", message: `nvidia-smi reports the GPU as lost (${field})`, line },
    };
  }
  if (KNOWN_PLACEHOLDERS.has(cell)) return { ok: true, value: null };
  if (/^\[.*\]$/.test(cell)) {
    // nvidia-smi's convention for "no value"; unknown wording is still no value, just worth a note.
    return { ok: true, value: null, warning: `${field}: unrecognised placeholder ${cell} read as null` };
  }
  switch (spec.kind) {
    case "string":
      return { ok: true, value: cell === "" ? null : cell };
    case "timestamp": {
      const t = parseNvidiaSmiTimestamp(cell);
      return t
        ? { ok: true, value: t }
        : unparseable(`${field}: not a timestamp: ${JSON.stringify(cell)}`, line);
    }
    case "index": {
      if (!/^\d+$/.test(cell)) return unparseable(`index: not a GPU index: ${JSON.stringify(cell)}`, line);
      const n = Number(cell);
      return Number.isSafeInteger(n)
        ? { ok: true, value: n }
        : unparseable(`index: out of range: ${cell}`, line);
    }
    case "number": {
      let num = cell;
      if (spec.unit !== undefined && cell.endsWith(` ${spec.unit}`)) {
        num = cell.slice(0, -(spec.unit.length + 1));
      }
      if (!NUMBER_RE.test(num)) {
        return unparseable(
          `${field}: expected a number${spec.unit ? ` in ${spec.unit}` : ""}, got ${JSON.stringify(cell)}`,
          line,
        );
      }
      const n = Number(num);
      if (!Number.isFinite(n) || (spec.integer && !Number.isInteger(n))) {
        return unparseable(`${field}: not a usable number: ${JSON.stringify(cell)}`, line);
      }
      return { ok: true, value: n };
    }
  }
}

/**
 * Parses one CSV row (a streamed `-lms` line or one row of a one-shot query). Blank lines are the
 * caller's to skip; given one, this reports `empty`. `rowIndex` is used as the GPU index when
 * `index` is not among the fields (nvidia-smi prints GPUs in index order).
 */
export function parseGpuLine(
  line: string,
  fields: readonly string[],
  opts: { rowIndex?: number } = {},
): GpuLineResult {
  const text = line.replace(/\r$/, "");
  if (text.trim() === "") return { ok: false, error: { code: "empty", message: "empty line", line: text } };
  const failure = matchFailure(text.trim());
  if (failure) return { ok: false, error: failure };

  const cells = splitRow(text);
  if (cells.length !== fields.length) {
    return unparseable(`expected ${fields.length} comma-separated values, got ${cells.length}`, text);
  }

  const sample = emptySample(opts.rowIndex ?? 0);
  const warnings: string[] = [];
  // A lost GPU trumps a garbled neighbour cell: it is the more actionable of the two.
  let firstError: GpuTelemetryError | null = null;
  for (let i = 0; i < fields.length; i++) {
    const field = canonicalField(fields[i] ?? "");
    const spec = FIELD_SPECS[field];
    if (!spec) continue;
    const out = parseCell(field, spec, cells[i] ?? "", text);
    if (!out.ok) {
      if (out.error.code === "gpu_lost") return out;
      firstError ??= out.error;
      continue;
    }
    if (out.warning) warnings.push(out.warning);
    const v = out.value;
    if (spec.kind === "index") {
      if (typeof v === "number") sample.index = v;
      else return unparseable("index: a sample needs a GPU index", text);
    } else if (spec.kind === "timestamp") {
      sample.timestamp = v instanceof Date ? v : null;
    } else if (spec.kind === "number") {
      sample[spec.key] = typeof v === "number" ? v : null;
    } else {
      sample[spec.key] = typeof v === "string" ? v : null;
    }
  }
  if (firstError) return { ok: false, error: firstError };
  return { ok: true, sample, warnings };
}

function fieldWarnings(fields: readonly string[]): string[] {
  const warnings: string[] = [];
  const canon = fields.map(canonicalField);
  const unknown = canon.filter((f) => !FIELD_SPECS[f]);
  if (unknown.length > 0)
    warnings.push(`fields not mapped to GpuSample, values ignored: ${unknown.join(", ")}`);
  if (!canon.includes("index")) warnings.push("no index field queried: GPU index taken from row order");
  return warnings;
}

/**
 * Parses a whole `--query-gpu` output. `header`: true requires the header row, false forbids it,
 * absent detects it. A failure message anywhere in the text (e.g. the driver dying mid-stream)
 * makes the whole result that failure, since samples before it are stale by the time anyone looks.
 */
export function parseGpuCsv(
  text: string,
  fields: readonly string[],
  opts: { header?: boolean } = {},
): GpuParseResult {
  if (fields.length === 0) {
    return { ok: false, error: { code: "invalid_field", message: "no fields given to parse against" } };
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0)
    return { ok: false, error: { code: "empty", message: "nvidia-smi printed nothing" } };

  const failure = detectNvidiaSmiFailure(text);
  if (failure) return { ok: false, error: failure };

  const shape = describeNonCsv(text);
  if (shape) {
    return {
      ok: false,
      error: {
        code: "unparseable",
        message: `expected nvidia-smi --query-gpu CSV output, got ${shape}`,
        line: lines[0],
      },
    };
  }

  let rows = lines;
  const first = lines[0] ?? "";
  const hasHeader = isGpuCsvHeader(first, fields);
  if (opts.header === true && !hasHeader) {
    return {
      ok: false,
      error: {
        code: "unparseable",
        message: `expected a header row for fields ${fields.join(",")}`,
        line: first,
      },
    };
  }
  if (opts.header !== false && hasHeader) rows = lines.slice(1);

  const warnings = fieldWarnings(fields);
  const samples: GpuSample[] = [];
  for (const [i, row] of rows.entries()) {
    const r = parseGpuLine(row, fields, { rowIndex: i });
    if (!r.ok) return r;
    samples.push(r.sample);
    for (const w of r.warnings) if (!warnings.includes(w)) warnings.push(w);
  }
  return { ok: true, samples, warnings };
}

const HW_FAULTS: Readonly<Record<number, string>> = {
  8: "external power cables not attached",
  10: "kernel detected an interrupt issue",
  14: "infoROM corrupted",
  15: "GPU fell off the bus",
};

/**
 * Turns nvidia-smi's exit into a telemetry error, or null for a clean exit. A recognised message in
 * the output wins over the exit code, which is coarser; codes are from nvidia-smi(1).
 */
export function classifyNvidiaSmiExit(
  exitCode: number,
  stdout: string,
  stderr: string,
): GpuTelemetryError | null {
  const fromText = detectNvidiaSmiFailure(`${stdout}\n${stderr}`);
  if (fromText) return fromText;
  if (exitCode === 0) return null;
  const detail = (stderr.trim() || stdout.trim()).split(/\r?\n/, 1)[0];
  const withLine = (code: GpuTelemetryErrorCode, message: string): GpuTelemetryError =>
    detail ? { code, message, line: detail } : { code, message };
  switch (exitCode) {
    case 2:
      return withLine("invalid_field", "nvidia-smi rejected an argument or query field (exit 2)");
    case 3:
    case 13:
      return withLine(
        "invalid_field",
        `nvidia-smi: the requested query is not supported here (exit ${exitCode})`,
      );
    case 6:
      return withLine("no_devices", "nvidia-smi found no GPUs (exit 6)");
    case 8:
    case 10:
    case 14:
    case 15:
      return withLine(
        "gpu_lost",
        `nvidia-smi reports a GPU hardware fault (exit ${exitCode}: ${HW_FAULTS[exitCode]})`,
      );
    case 4:
    case 9:
    case 12:
    case 126:
    case 127:
    case 255:
      return withLine("driver_unreachable", `nvidia-smi cannot reach the NVIDIA driver (exit ${exitCode})`);
    default:
      // 128+N is how a shell reports death by signal N (e.g. the OOM killer's SIGKILL = 137).
      return withLine(
        "unparseable",
        exitCode > 128 && exitCode < 160
          ? `nvidia-smi was killed by signal ${exitCode - 128}`
          : `nvidia-smi exited with code ${exitCode}`,
      );
  }
}

export type GpuLineSplitter = {
  /** Feeds a chunk; complete non-blank lines are passed to onLine synchronously. */
  push(chunk: string | Uint8Array): void;
  /** Flushes a final line that had no trailing newline (call when the stream ends). */
  end(): void;
};

/**
 * Reassembles lines from stream chunks, which can split anywhere (even inside a UTF-8 sequence).
 * Blank lines are dropped. A "line" longer than maxLineLength is passed on truncated, once, and the
 * rest up to the next newline discarded, so a misbehaving remote cannot grow memory without bound
 * yet still produces a visible (unparseable) line instead of silence.
 */
export function createGpuLineSplitter(
  onLine: (line: string) => void,
  opts: { maxLineLength?: number } = {},
): GpuLineSplitter {
  const max = opts.maxLineLength ?? 64 * 1024;
  const decoder = new TextDecoder("utf-8");
  let buf = "";
  let discarding = false;

  const emit = (line: string) => {
    const l = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (l.trim() !== "") onLine(l);
  };

  const feed = (text: string) => {
    buf += text;
    let nl = buf.indexOf("\n");
    while (nl !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (discarding) discarding = false;
      else emit(line);
      nl = buf.indexOf("\n");
    }
    if (buf.length > max) {
      if (!discarding) emit(buf.slice(0, max));
      discarding = true;
      buf = "";
    }
  };

  return {
    push(chunk) {
      feed(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }));
    },
    end() {
      feed(decoder.decode());
      if (!discarding) emit(buf);
      buf = "";
      discarding = false;
    },
  };
}
