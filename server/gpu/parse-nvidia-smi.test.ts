import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  classifyNvidiaSmiExit,
  createGpuLineSplitter,
  DRIVER_FAILURE_TEXT,
  GPU_INVENTORY_FIELDS,
  GPU_QUERY_FIELDS,
  type GpuParseResult,
  type GpuSample,
  type GpuTelemetryErrorCode,
  isGpuCsvHeader,
  parseGpuCsv,
  parseGpuLine,
  parseNvidiaSmiTimestamp,
} from "./parse-nvidia-smi";
import { busySection, busySections, NVIDIA_SMI_FIXTURES_DIR, readNvidiaSmiFixture } from "./test-fixtures";

// Field lists exactly as the fixture README gives them for each capture.
const FULL_FIELDS = [
  "index",
  "uuid",
  "name",
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
  "driver_version",
];
const HEADER_FIELDS = FULL_FIELDS.slice(0, 10);
const APPS_FIELDS = ["gpu_uuid", "pid", "process_name", "used_memory"];
const BUSY_LOOP_FIELDS = [
  "timestamp",
  "index",
  "utilization.gpu",
  "memory.used",
  "temperature.gpu",
  "power.draw",
];
const LOOP_FIELDS = ["index", "utilization.gpu", "memory.used", "temperature.gpu", "power.draw"];
const UUID = "GPU-c193beda-9d2e-4b2a-4850-4f5770f6f8b2";

const NUMERIC_KEYS = [
  "index",
  "utilizationGpuPct",
  "utilizationMemoryPct",
  "memoryUsedMib",
  "memoryTotalMib",
  "temperatureC",
  "powerDrawW",
  "powerLimitW",
  "clocksSmMhz",
  "eccUncorrected",
] as const satisfies readonly (keyof GpuSample)[];

/** The module's core promise: a number is finite or null, never NaN. */
function expectSane(sample: GpuSample): void {
  for (const k of NUMERIC_KEYS) {
    const v = sample[k];
    if (v !== null) expect(Number.isFinite(v), `${k}=${String(v)}`).toBe(true);
  }
  if (sample.timestamp !== null) expect(Number.isNaN(sample.timestamp.getTime())).toBe(false);
}

function samplesOf(r: GpuParseResult): GpuSample[] {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message} (${r.error.line ?? ""})`);
  for (const s of r.samples) expectSane(s);
  return r.samples;
}

function only(r: GpuParseResult): GpuSample {
  const samples = samplesOf(r);
  expect(samples).toHaveLength(1);
  const s = samples[0];
  if (!s) throw new Error("no sample");
  return s;
}

function errorOf(r: GpuParseResult | ReturnType<typeof parseGpuLine>) {
  if (r.ok) throw new Error("expected an error, got ok");
  return r.error;
}

/** Every field name --help-query-gpu documents, aliases included. */
function helpFieldNames(): Set<string> {
  const names = new Set<string>();
  for (const line of readNvidiaSmiFixture("help-query-gpu.txt").split("\n")) {
    if (!line.startsWith('"')) continue;
    for (const m of line.matchAll(/"([^"]+)"/g)) if (m[1]) names.add(m[1]);
  }
  return names;
}

describe("field lists", () => {
  const known = helpFieldNames();

  it.each([...GPU_QUERY_FIELDS, ...GPU_INVENTORY_FIELDS, ...FULL_FIELDS, ...BUSY_LOOP_FIELDS])(
    "%s is a documented --query-gpu field",
    (f) => {
      expect(known.has(f)).toBe(true);
    },
  );

  it("the streamed fields map onto GpuSample with no warnings", () => {
    const line = `2026/11/24 19:36:43.728, 0, ${UUID}, 100, 9, 1395, 81559, 63, 681.48, 700.00, 1980, P0, 0`;
    const r = parseGpuLine(line, GPU_QUERY_FIELDS);
    expect(r).toEqual({
      ok: true,
      warnings: [],
      sample: expect.objectContaining({ uuid: UUID, clocksSmMhz: 1980, pstate: "P0", eccUncorrected: 0 }),
    });
  });
});

describe("fixtures", () => {
  // Each capture with the verdict the parser must reach; a new fixture fails the coverage check
  // below until someone decides what it should parse to.
  const cases: Record<string, () => void> = {
    "query_idle.csv": () => {
      const s = only(parseGpuCsv(readNvidiaSmiFixture("query_idle.csv"), FULL_FIELDS));
      expect(s).toEqual({
        index: 0,
        uuid: UUID,
        name: "NVIDIA H100 80GB HBM3",
        utilizationGpuPct: 0,
        utilizationMemoryPct: 0,
        memoryUsedMib: 0,
        memoryTotalMib: 81559,
        temperatureC: 41,
        powerDrawW: 123.63,
        powerLimitW: 700,
        clocksSmMhz: 1980,
        pstate: "P0",
        eccUncorrected: 0,
        driverVersion: "580.159.04",
        timestamp: null,
      } satisfies GpuSample);
    },
    "loop.csv": () => {
      const samples = samplesOf(parseGpuCsv(readNvidiaSmiFixture("loop.csv"), LOOP_FIELDS));
      expect(samples.map((s) => s.powerDrawW)).toEqual([
        113.16, 106.87, 96.31, 86.48, 75.14, 70.85, 70.77, 70.73, 70.69, 70.67,
      ]);
      for (const s of samples) {
        expect(s).toMatchObject({ index: 0, utilizationGpuPct: 0, memoryUsedMib: 0, temperatureC: 40 });
        expect(s.uuid).toBeNull();
        expect(s.timestamp).toBeNull();
      }
    },
    "busy.txt": () => {
      expect([...busySections().keys()]).toEqual([
        "query.csv (idle earlier)",
        "query_header.csv busy",
        "apps busy",
        "loop -lms 250 busy",
        "plain busy",
      ]);
    },
    "bad_field.txt": () => {
      const text = readNvidiaSmiFixture("bad_field.txt");
      const e = errorOf(parseGpuCsv(text, ["bogus.field"]));
      expect(e.code).toBe("invalid_field");
      expect(e.message).toContain('"bogus.field"');
      expect(e.line).toBe('Field "bogus.field" is not a valid field to query.');
      expect(classifyNvidiaSmiExit(2, text, "")?.code).toBe("invalid_field");
    },
    "plain.txt": () => {
      const e = errorOf(parseGpuCsv(readNvidiaSmiFixture("plain.txt"), LOOP_FIELDS));
      expect(e.code).toBe("unparseable");
      expect(e.message).toContain("status table");
    },
    "q.txt": () => {
      const e = errorOf(parseGpuCsv(readNvidiaSmiFixture("q.txt"), FULL_FIELDS));
      expect(e.code).toBe("unparseable");
      expect(e.message).toContain("-q report");
    },
    "q.xml": () => {
      const e = errorOf(parseGpuCsv(readNvidiaSmiFixture("q.xml"), FULL_FIELDS));
      expect(e.code).toBe("unparseable");
      expect(e.message).toContain("XML");
      expect(e.line).toBe('<?xml version="1.0" ?>');
    },
    "help-query-gpu.txt": () => {
      const e = errorOf(parseGpuCsv(readNvidiaSmiFixture("help-query-gpu.txt"), FULL_FIELDS));
      expect(e.code).toBe("unparseable");
      expect(e.message).toContain("--help-query-gpu");
    },
  };

  it("covers every capture in the fixtures directory", () => {
    const files = readdirSync(NVIDIA_SMI_FIXTURES_DIR).filter((f) => f !== "README.md");
    expect(files.sort()).toEqual(Object.keys(cases).sort());
  });

  it.each(Object.keys(cases))("%s", (name) => {
    cases[name]?.();
  });

  // The same captures with every other field list must also fail cleanly, never throw.
  it.each(Object.keys(cases))("%s never throws whatever the field list", (name) => {
    const text = readNvidiaSmiFixture(name);
    for (const fields of [
      FULL_FIELDS,
      HEADER_FIELDS,
      LOOP_FIELDS,
      BUSY_LOOP_FIELDS,
      GPU_QUERY_FIELDS,
      ["index"],
    ]) {
      const r = parseGpuCsv(text, fields);
      if (r.ok) for (const s of r.samples) expectSane(s);
    }
  });
});

describe("busy.txt sections", () => {
  it("query.csv (idle earlier): the full query under load", () => {
    const s = only(parseGpuCsv(busySection("query.csv (idle earlier)"), FULL_FIELDS, { header: false }));
    expect(s).toMatchObject({
      index: 0,
      uuid: UUID,
      name: "NVIDIA H100 80GB HBM3",
      utilizationGpuPct: 100,
      utilizationMemoryPct: 9,
      memoryUsedMib: 1395,
      memoryTotalMib: 81559,
      temperatureC: 63,
      powerDrawW: 682.43,
      powerLimitW: 700,
      clocksSmMhz: 1980,
      pstate: "P0",
      eccUncorrected: 0,
      driverVersion: "580.159.04",
    });
  });

  const headerExpected = {
    index: 0,
    uuid: UUID,
    name: "NVIDIA H100 80GB HBM3",
    utilizationGpuPct: 100,
    utilizationMemoryPct: 9,
    memoryUsedMib: 1395,
    memoryTotalMib: 81559,
    temperatureC: 63,
    powerDrawW: 681.83,
    powerLimitW: 700,
    clocksSmMhz: null,
    pstate: null,
  };

  it.each([{ header: true }, {}])("query_header.csv busy: header row and units (%o)", (opts) => {
    const r = parseGpuCsv(busySection("query_header.csv busy"), HEADER_FIELDS, opts);
    expect(only(r)).toMatchObject(headerExpected);
  });

  it("query_header.csv busy: a header where none is expected is reported, not read as data", () => {
    const e = errorOf(parseGpuCsv(busySection("query_header.csv busy"), HEADER_FIELDS, { header: false }));
    expect(e.code).toBe("unparseable");
    expect(e.line).toMatch(/^index, uuid, name, utilization\.gpu \[%\]/);
  });

  it("query_header.csv busy: header detection is per field list", () => {
    const header = busySection("query_header.csv busy").split("\n")[0] ?? "";
    expect(isGpuCsvHeader(header, HEADER_FIELDS)).toBe(true);
    expect(isGpuCsvHeader(header, FULL_FIELDS)).toBe(false);
    const e = errorOf(parseGpuCsv(busySection("query.csv (idle earlier)"), FULL_FIELDS, { header: true }));
    expect(e.code).toBe("unparseable");
  });

  it("apps busy: a --query-compute-apps row is not a GPU row", () => {
    const e = errorOf(parseGpuCsv(busySection("apps busy"), GPU_QUERY_FIELDS));
    expect(e).toMatchObject({ code: "unparseable", line: `${UUID}, 494, python3, 1386` });
    // With its own field list it parses, but loudly: none of pid/process_name/used_memory is a GPU field.
    const r = parseGpuCsv(busySection("apps busy"), APPS_FIELDS);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.warnings.join("\n")).toContain("pid, process_name, used_memory");
  });

  it("loop -lms 250 busy: timestamps and values", () => {
    const samples = samplesOf(parseGpuCsv(busySection("loop -lms 250 busy"), BUSY_LOOP_FIELDS));
    expect(samples).toHaveLength(8);
    expect(samples[0]?.timestamp?.toISOString()).toBe("2026-11-24T19:36:43.728Z");
    expect(samples[7]?.timestamp?.toISOString()).toBe("2026-11-24T19:36:45.485Z");
    expect(samples.map((s) => s.powerDrawW)).toEqual([
      681.48, 681.28, 681.23, 681.43, 681.91, 682.24, 682.0, 682.52,
    ]);
    expect(samples.map((s) => s.temperatureC)).toEqual([63, 63, 63, 63, 63, 63, 63, 64]);
    for (const s of samples)
      expect(s).toMatchObject({ index: 0, utilizationGpuPct: 100, memoryUsedMib: 1395 });
    const gaps = samples
      .slice(1)
      .map((s, i) => (s.timestamp?.getTime() ?? 0) - (samples[i]?.timestamp?.getTime() ?? 0));
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(245);
  });

  it("plain busy: the table is rejected as a whole", () => {
    const e = errorOf(parseGpuCsv(busySection("plain busy"), LOOP_FIELDS));
    expect(e.code).toBe("unparseable");
    expect(e.message).toContain("status table");
  });

  it("plain busy: the one-shot query after the load stopped", () => {
    const lines = busySection("plain busy").trimEnd().split("\n");
    const last = lines.at(-1) ?? "";
    expect(last).toBe("0, 0, 0, 53, 326.16");
    const r = parseGpuLine(last, LOOP_FIELDS);
    expect(r).toEqual({
      ok: true,
      warnings: [],
      sample: expect.objectContaining({
        index: 0,
        utilizationGpuPct: 0,
        memoryUsedMib: 0,
        temperatureC: 53,
        powerDrawW: 326.16,
      }),
    });
  });
});

describe("failure texts", () => {
  const cases: { name: string; text: string; exit: number; code: GpuTelemetryErrorCode }[] = [
    { name: "driver unreachable", text: `${DRIVER_FAILURE_TEXT}\n`, exit: 9, code: "driver_unreachable" },
    {
      name: "driver unreachable, blank line after",
      text: `${DRIVER_FAILURE_TEXT}\n\n`,
      exit: 9,
      code: "driver_unreachable",
    },
    { name: "no devices", text: "No devices were found\n", exit: 6, code: "no_devices" },
    {
      name: "NVML init failure",
      text: "Failed to initialize NVML: Driver/library version mismatch\n",
      exit: 18,
      code: "driver_unreachable",
    },
    {
      name: "device handle lost",
      text: "Unable to determine the device handle for GPU0000:00:06.0: Unknown Error\n",
      exit: 15,
      code: "gpu_lost",
    },
    { name: "bad field", text: readNvidiaSmiFixture("bad_field.txt"), exit: 2, code: "invalid_field" },
  ];

  it.each(cases)("$name → $code from parseGpuCsv, parseGpuLine and the exit", ({ text, exit, code }) => {
    expect(errorOf(parseGpuCsv(text, LOOP_FIELDS)).code).toBe(code);
    expect(errorOf(parseGpuLine(text.trim(), LOOP_FIELDS)).code).toBe(code);
    expect(classifyNvidiaSmiExit(exit, text, "")?.code).toBe(code);
    // Some wrappers put nvidia-smi's complaint on stderr.
    expect(classifyNvidiaSmiExit(exit, "", text)?.code).toBe(code);
  });

  it("a stream that ends in the driver failure is that failure, not the samples before it", () => {
    const text = `${readNvidiaSmiFixture("loop.csv")}${DRIVER_FAILURE_TEXT}\n`;
    expect(errorOf(parseGpuCsv(text, LOOP_FIELDS)).code).toBe("driver_unreachable");
  });

  it("empty output", () => {
    expect(errorOf(parseGpuCsv("", LOOP_FIELDS)).code).toBe("empty");
    expect(errorOf(parseGpuCsv("\n \n", LOOP_FIELDS)).code).toBe("empty");
    expect(errorOf(parseGpuLine("", LOOP_FIELDS)).code).toBe("empty");
  });

  it.each([
    { exit: 0, stdout: "0, 0, 0, 40, 70.67\n", stderr: "", code: null },
    { exit: 9, stdout: "", stderr: "", code: "driver_unreachable" },
    { exit: 6, stdout: "", stderr: "", code: "no_devices" },
    { exit: 2, stdout: "", stderr: "", code: "invalid_field" },
    { exit: 15, stdout: "", stderr: "", code: "gpu_lost" },
    { exit: 127, stdout: "", stderr: "sh: 1: nvidia-smi: not found\n", code: "driver_unreachable" },
    { exit: 137, stdout: "", stderr: "", code: "unparseable" },
    { exit: 1, stdout: "", stderr: "", code: "unparseable" },
    { exit: 0, stdout: `${DRIVER_FAILURE_TEXT}\n`, stderr: "", code: "driver_unreachable" },
  ] as const)("classifyNvidiaSmiExit($exit) → $code", ({ exit, stdout, stderr, code }) => {
    expect(classifyNvidiaSmiExit(exit, stdout, stderr)?.code ?? null).toBe(code);
  });

  it("keeps the offending output line for the operator", () => {
    expect(classifyNvidiaSmiExit(127, "", "sh: 1: nvidia-smi: not found\n")?.line).toBe(
      "sh: 1: nvidia-smi: not found",
    );
  });
});

describe("placeholders", () => {
  const idle = readNvidiaSmiFixture("query_idle.csv").trim().split(", ");
  const withCell = (i: number, value: string) => idle.map((c, j) => (j === i ? value : c)).join(", ");

  it.each(["[N/A]", "[Not Supported]", "[Unknown Error]", "N/A", "[Insufficient Permissions]"])(
    "%s reads as null in every nullable field",
    (placeholder) => {
      for (const [i, field] of FULL_FIELDS.entries()) {
        if (field === "index") continue;
        const r = parseGpuLine(withCell(i, placeholder), FULL_FIELDS);
        if (!r.ok) throw new Error(`${field}: ${r.error.message}`);
        expectSane(r.sample);
        expect(Object.values(r.sample).filter((v) => v === null)).toHaveLength(2); // it + timestamp
        expect(r.warnings).toEqual([]);
      }
    },
  );

  it("an unfamiliar bracketed placeholder is null with a warning", () => {
    const r = parseGpuLine(withCell(8, "[Something New]"), FULL_FIELDS);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.sample.powerDrawW).toBeNull();
    expect(r.warnings).toEqual(["power.draw: unrecognised placeholder [Something New] read as null"]);
  });

  it.each(FULL_FIELDS.map((f, i) => [f, i] as const))("[GPU is lost] in %s → gpu_lost", (_f, i) => {
    const line = withCell(i, "[GPU is lost]");
    expect(errorOf(parseGpuLine(line, FULL_FIELDS))).toMatchObject({ code: "gpu_lost", line });
    expect(errorOf(parseGpuCsv(`${line}\n`, FULL_FIELDS)).code).toBe("gpu_lost");
  });

  it("[GPU is lost] wins over a garbled neighbour", () => {
    const line = withCell(3, "zz").replace("123.63", "[GPU is lost]");
    expect(errorOf(parseGpuLine(line, FULL_FIELDS)).code).toBe("gpu_lost");
  });

  it("an index placeholder is unparseable: a sample must name its GPU", () => {
    expect(errorOf(parseGpuLine(withCell(0, "[N/A]"), FULL_FIELDS)).code).toBe("unparseable");
  });
});

describe("malformed rows", () => {
  it.each([
    ["too few columns", "0, 0, 0, 40"],
    ["too many columns", "0, 0, 0, 40, 70.67, 1"],
    ["word for a number", "0, zero, 0, 40, 70.67"],
    ["NaN", "0, NaN, 0, 40, 70.67"],
    ["Infinity", "0, 0, 0, Infinity, 70.67"],
    ["exponent", "0, 0, 0, 40, 7e1"],
    ["two dots", "0, 0, 0, 40, 70.6.7"],
    ["empty cell", "0, , 0, 40, 70.67"],
    ["wrong unit", "0, 0, 0 GiB, 40, 70.67"],
    ["unit on a unitless field", "0, 0, 0, 40 C, 70.67"],
    ["fractional index", "0.5, 0, 0, 40, 70.67"],
    ["negative index", "-1, 0, 0, 40, 70.67"],
    ["hex", "0, 0x10, 0, 40, 70.67"],
  ])("%s → unparseable with the line", (_name, line) => {
    expect(errorOf(parseGpuLine(line, LOOP_FIELDS))).toMatchObject({ code: "unparseable", line });
    expect(errorOf(parseGpuCsv(`0, 0, 0, 40, 70.67\n${line}\n`, LOOP_FIELDS))).toMatchObject({
      code: "unparseable",
      line,
    });
  });

  it.each([
    "2026/02/31 19:36:43.728",
    "2026/11/24 25:00:00.000",
    "2026-11-24 19:36:43.728",
    "2026/11/24 19:36:43,728",
    "yesterday",
  ])("timestamp %s → unparseable", (ts) => {
    expect(errorOf(parseGpuLine(`${ts}, 0, 100, 1395, 63, 681.48`, BUSY_LOOP_FIELDS)).code).toBe(
      "unparseable",
    );
  });

  it("uneven whitespace and CRLF are tolerated", () => {
    const r = parseGpuLine("0,100 ,  1395,63,681.48\r", LOOP_FIELDS);
    expect(r).toMatchObject({ ok: true, sample: { utilizationGpuPct: 100, powerDrawW: 681.48 } });
    expect(samplesOf(parseGpuCsv("0, 0, 0, 40, 70.67\r\n0, 0, 0, 40, 70.69\r\n", LOOP_FIELDS))).toHaveLength(
      2,
    );
  });

  it("units are accepted with or without the header, and only the right ones", () => {
    const fields = ["utilization.gpu", "memory.used", "power.draw", "clocks.sm"];
    expect(parseGpuLine("100 %, 1395 MiB, 681.83 W, 1980 MHz", fields)).toMatchObject({
      ok: true,
      sample: { utilizationGpuPct: 100, memoryUsedMib: 1395, powerDrawW: 681.83, clocksSmMhz: 1980 },
    });
    expect(errorOf(parseGpuLine("100 %, 1395 MiB, 681.83 MiB, 1980 MHz", fields)).code).toBe("unparseable");
  });

  it("a row without an index takes its row position, and says so", () => {
    const r = parseGpuCsv("100, 63\n0, 41\n", ["utilization.gpu", "temperature.gpu"]);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.samples.map((s) => [s.index, s.utilizationGpuPct])).toEqual([
      [0, 100],
      [1, 0],
    ]);
    expect(r.warnings).toContain("no index field queried: GPU index taken from row order");
  });

  it("aliases in the header and the field list are the same field", () => {
    const text = `name, uuid, clocks.current.sm [MHz]\nNVIDIA H100 80GB HBM3, ${UUID}, 1980 MHz\n`;
    const s = only(parseGpuCsv(text, ["gpu_name", "gpu_uuid", "clocks.sm"]));
    expect(s).toMatchObject({ name: "NVIDIA H100 80GB HBM3", uuid: UUID, clocksSmMhz: 1980 });
  });

  it("multiple GPUs come back in order", () => {
    const samples = samplesOf(parseGpuCsv("0, 100, 1395, 63, 681.48\n1, 0, 0, 40, 70.67\n", LOOP_FIELDS));
    expect(samples.map((s) => s.index)).toEqual([0, 1]);
  });

  it("an empty field list is a caller bug reported as such", () => {
    expect(errorOf(parseGpuCsv("0\n", [])).code).toBe("invalid_field");
  });
});

describe("parseNvidiaSmiTimestamp", () => {
  it.each([
    ["2026/11/24 19:36:43.728", "2026-11-24T19:36:43.728Z"],
    ["2026/11/24 19:36:43.7", "2026-11-24T19:36:43.700Z"],
    ["2026/11/24 19:36:43", "2026-11-24T19:36:43.000Z"],
    ["2028/02/29 00:00:00.000", "2028-02-29T00:00:00.000Z"],
  ])("%s → %s (wall clock read as UTC)", (input, iso) => {
    expect(parseNvidiaSmiTimestamp(input)?.toISOString()).toBe(iso);
  });

  it.each(["2026/02/29 00:00:00.000", "2026/13/01 00:00:00.000", "", "2026/11/24 19:36:60.000"])(
    "%j → null",
    (input) => {
      expect(parseNvidiaSmiTimestamp(input)).toBeNull();
    },
  );
});

describe("createGpuLineSplitter", () => {
  const collect = (opts?: { maxLineLength?: number }) => {
    const lines: string[] = [];
    const splitter = createGpuLineSplitter((l) => lines.push(l), opts);
    return { lines, splitter };
  };
  const loopText = readNvidiaSmiFixture("loop.csv");
  const loopLines = loopText.trimEnd().split("\n");

  it("yields the same lines wherever a chunk boundary falls", () => {
    for (let cut = 0; cut <= loopText.length; cut++) {
      const { lines, splitter } = collect();
      splitter.push(loopText.slice(0, cut));
      splitter.push(loopText.slice(cut));
      splitter.end();
      expect(lines).toEqual(loopLines);
    }
  });

  it("yields the same lines when fed one byte at a time, multi-byte characters included", () => {
    const text = "0, NVIDIA H100 — été, 1\r\n\n1, x, 2\n";
    const bytes = new TextEncoder().encode(text);
    const { lines, splitter } = collect();
    for (const b of bytes) splitter.push(Uint8Array.of(b));
    splitter.end();
    expect(lines).toEqual(["0, NVIDIA H100 — été, 1", "1, x, 2"]);
  });

  it("emits a line only once it is complete; end() flushes the last one", () => {
    const { lines, splitter } = collect();
    splitter.push("0, 0, 0, 40, 113");
    expect(lines).toEqual([]);
    splitter.push(".16\n0, 0, 0, 40, 106.87");
    expect(lines).toEqual(["0, 0, 0, 40, 113.16"]);
    splitter.end();
    expect(lines).toEqual(["0, 0, 0, 40, 113.16", "0, 0, 0, 40, 106.87"]);
    for (const l of lines) expect(parseGpuLine(l, LOOP_FIELDS).ok).toBe(true);
  });

  it("a runaway line is cut once, flagged by the parser, and the stream recovers", () => {
    const { lines, splitter } = collect({ maxLineLength: 32 });
    splitter.push("x".repeat(50));
    splitter.push("y".repeat(50));
    splitter.push("\n0, 0, 0, 40, 70.67\n");
    splitter.end();
    expect(lines).toEqual(["x".repeat(32), "0, 0, 0, 40, 70.67"]);
    expect(errorOf(parseGpuLine(lines[0] ?? "", LOOP_FIELDS)).code).toBe("unparseable");
  });
});
