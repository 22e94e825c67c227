import { execFile, spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  classifyNvidiaSmiExit,
  createGpuLineSplitter,
  DRIVER_FAILURE_TEXT,
  GPU_QUERY_FIELDS,
  type GpuSample,
  parseGpuCsv,
  parseGpuLine,
} from "@/server/gpu/parse-nvidia-smi";
import { busySection, readNvidiaSmiFixture } from "@/server/gpu/test-fixtures";
import {
  busyGpuState,
  idleGpuState,
  renderGpuStateFile,
  SIM_BIN_DIR,
  SIM_GPU_STATE_ENV,
  type SimGpuState,
  simGpuUuid,
  writeGpuStateFile,
} from "./gpu-state";

const SCRIPT = path.join(SIM_BIN_DIR, "nvidia-smi");

// Field lists exactly as the fixture README gives them for each capture.
const FULL_FIELDS =
  "index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,power.limit,clocks.sm,pstate,ecc.errors.uncorrected.volatile.total,driver_version";
const HEADER_FIELDS = FULL_FIELDS.split(",").slice(0, 10).join(",");
const BUSY_LOOP_FIELDS = "timestamp,index,utilization.gpu,memory.used,temperature.gpu,power.draw";
const LOOP_FIELDS = "index,utilization.gpu,memory.used,temperature.gpu,power.draw";

let dir: string;
let stateCounter = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "switchyard-nvsmi-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function stateFile(state: SimGpuState): Promise<string> {
  const file = path.join(dir, `gpu-${stateCounter++}.env`);
  await writeGpuStateFile(file, state);
  return file;
}

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs the fake through real /bin/sh (dash here), as the simulator's SSH server would. */
function runSmi(args: string[], statePath: string | null): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (statePath === null) delete env[SIM_GPU_STATE_ENV];
  else env[SIM_GPU_STATE_ENV] = statePath;
  return new Promise((resolve) => {
    execFile("/bin/sh", [SCRIPT, ...args], { env, timeout: 5_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function fixtureLines(text: string): string {
  return `${text.trimEnd()}\n`;
}

function parseAll(out: string, fields: string, header?: boolean): GpuSample[] {
  const r = parseGpuCsv(out, fields.split(","), header === undefined ? {} : { header });
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.samples;
}

describe("reproduces the real captures", () => {
  it("idle state, query_idle.csv fields → query_idle.csv byte for byte", async () => {
    const run = await runSmi(
      [`--query-gpu=${FULL_FIELDS}`, "--format=csv,noheader,nounits"],
      await stateFile(idleGpuState()),
    );
    expect(run).toEqual({ code: 0, stdout: readNvidiaSmiFixture("query_idle.csv"), stderr: "" });
    expect(parseAll(run.stdout, FULL_FIELDS)[0]).toMatchObject({ powerDrawW: 123.63, temperatureC: 41 });
  });

  it("busy state → the query.csv section of busy.txt", async () => {
    const run = await runSmi(
      [`--query-gpu=${FULL_FIELDS}`, "--format=csv,noheader,nounits"],
      await stateFile(busyGpuState()),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(fixtureLines(busySection("query.csv (idle earlier)")));
    expect(parseAll(run.stdout, FULL_FIELDS)[0]).toMatchObject({
      utilizationGpuPct: 100,
      powerDrawW: 682.43,
    });
  });

  it("busy state with --format=csv → the query_header.csv section (header row, units)", async () => {
    const run = await runSmi(
      [`--query-gpu=${HEADER_FIELDS}`, "--format=csv"],
      await stateFile({ ...busyGpuState(), powerDrawW: 681.83 }),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(fixtureLines(busySection("query_header.csv busy")));
    expect(parseAll(run.stdout, HEADER_FIELDS, true)[0]).toMatchObject({
      utilizationGpuPct: 100,
      memoryUsedMib: 1395,
      powerDrawW: 681.83,
      powerLimitW: 700,
    });
  });

  it("loop.csv fields → the first line of loop.csv", async () => {
    const run = await runSmi(
      [`--query-gpu=${LOOP_FIELDS}`, "--format=csv,noheader,nounits"],
      await stateFile({ ...idleGpuState(), temperatureC: 40, powerDrawW: 113.16 }),
    );
    expect(run.stdout).toBe(`${readNvidiaSmiFixture("loop.csv").split("\n")[0]}\n`);
  });

  it("the one-shot query at the end of busy.txt", async () => {
    const run = await runSmi(
      [`--query-gpu=${LOOP_FIELDS}`, "--format=csv,noheader,nounits"],
      await stateFile({ ...idleGpuState(), temperatureC: 53, powerDrawW: 326.16 }),
    );
    expect(run.stdout).toBe("0, 0, 0, 53, 326.16\n");
  });

  it("busy loop fields: timestamp in nvidia-smi's format, then the captured values", async () => {
    const run = await runSmi(
      [`--query-gpu=${BUSY_LOOP_FIELDS}`, "--format=csv,noheader,nounits"],
      await stateFile({ ...busyGpuState(), powerDrawW: 681.48 }),
    );
    const captured = busySection("loop -lms 250 busy").split("\n")[0] ?? "";
    const stamp = /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d{3}, /;
    expect(captured).toMatch(stamp);
    expect(run.stdout).toMatch(stamp);
    expect(run.stdout.replace(stamp, "")).toBe(`${captured.replace(stamp, "")}\n`);
    expect(parseAll(run.stdout, BUSY_LOOP_FIELDS)[0]?.timestamp).toBeInstanceOf(Date);
  });

  it("bad field → bad_field.txt byte for byte, exit 2", async () => {
    const run = await runSmi(["--query-gpu=bogus.field", "--format=csv"], await stateFile(idleGpuState()));
    expect(run).toEqual({ code: 2, stdout: readNvidiaSmiFixture("bad_field.txt"), stderr: "" });
    expect(classifyNvidiaSmiExit(run.code ?? -1, run.stdout, run.stderr)?.code).toBe("invalid_field");
  });

  it("a bad field among good ones fails before printing any sample", async () => {
    const run = await runSmi(
      ["--query-gpu=index,bogus.field", "--format=csv"],
      await stateFile(idleGpuState()),
    );
    expect(run.code).toBe(2);
    expect(run.stdout).toBe(readNvidiaSmiFixture("bad_field.txt"));
  });

  const tableDate = /^\w{3} \w{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4} {7}$/;

  it("plain nvidia-smi, idle state → plain.txt (all but the clock)", async () => {
    const run = await runSmi([], await stateFile(idleGpuState()));
    const fixture = readNvidiaSmiFixture("plain.txt").split("\n");
    const out = run.stdout.split("\n");
    expect(run.code).toBe(0);
    expect(fixture[0]).toMatch(tableDate);
    expect(out[0]).toMatch(tableDate);
    expect(out.slice(1)).toEqual(fixture.slice(1));
  });

  it("plain nvidia-smi, busy state → the GPU part of the plain busy section", async () => {
    const run = await runSmi([], await stateFile({ ...busyGpuState(), temperatureC: 64 }));
    const fixture = busySection("plain busy").split("\n");
    const out = run.stdout.split("\n");
    // Up to the end of the GPU box; the fake lists no processes.
    expect(out.slice(1, 12)).toEqual(fixture.slice(1, 12));
  });
});

describe("query options", () => {
  it("aliases print the canonical header, units follow the header form", async () => {
    const run = await runSmi(
      ["--query-gpu=gpu_uuid,gpu_name,clocks.sm,count,pstate", "--format=csv"],
      await stateFile(idleGpuState()),
    );
    expect(run.stdout).toBe(
      "uuid, name, clocks.current.sm [MHz], count, pstate\n" +
        "GPU-c193beda-9d2e-4b2a-4850-4f5770f6f8b2, NVIDIA H100 80GB HBM3, 1980 MHz, 1, P0\n",
    );
    expect(parseAll(run.stdout, "gpu_uuid,gpu_name,clocks.sm,count,pstate", true)[0]).toMatchObject({
      uuid: "GPU-c193beda-9d2e-4b2a-4850-4f5770f6f8b2",
      clocksSmMhz: 1980,
    });
  });

  it.each([
    ["csv", true],
    ["csv,noheader", false],
    ["csv,nounits", true],
    ["csv,noheader,nounits", false],
  ] as const)("the controller's fields with --format=%s parse back to the state", async (format, header) => {
    const state = { ...busyGpuState("node-7"), eccUncorrected: 3, pstate: "P2", clocksSmMhz: 1755 };
    const fields = GPU_QUERY_FIELDS.join(",");
    const run = await runSmi([`--query-gpu=${fields}`, `--format=${format}`], await stateFile(state));
    expect(run.code).toBe(0);
    const [sample] = parseAll(run.stdout, fields, header);
    expect(sample).toMatchObject({
      index: 0,
      uuid: state.uuid,
      utilizationGpuPct: 100,
      utilizationMemoryPct: 9,
      memoryUsedMib: 1395,
      memoryTotalMib: 81559,
      temperatureC: 63,
      powerDrawW: 682.43,
      powerLimitW: 700,
      clocksSmMhz: 1755,
      pstate: "P2",
      eccUncorrected: 3,
    });
    expect(sample?.timestamp).toBeInstanceOf(Date);
  });

  it("-i selects the GPU by index or UUID; another id finds nothing", async () => {
    const file = await stateFile(idleGpuState());
    const q = ["--query-gpu=index", "--format=csv,noheader"];
    expect((await runSmi([...q, "-i", "0"], file)).stdout).toBe("0\n");
    expect((await runSmi([...q, `--id=${idleGpuState().uuid}`], file)).stdout).toBe("0\n");
    expect(await runSmi([...q, "-i", "1"], file)).toEqual({
      code: 6,
      stdout: "No devices were found\n",
      stderr: "",
    });
  });

  it("-L lists the GPU", async () => {
    const run = await runSmi(["-L"], await stateFile(idleGpuState()));
    expect(run.stdout).toBe(
      "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-c193beda-9d2e-4b2a-4850-4f5770f6f8b2)\n",
    );
  });

  it.each([
    [["--query-gpu=index"]],
    [["--query-gpu=index", "--format=json"]],
    [["--query-gpu=index", "--format=csv", "-lms", "abc"]],
    [["--query-gpu=index", "--format=csv", "-lms", "0"]],
    [["--query-gpu=index", "--format=csv", "-lms"]],
    [["--frobnicate"]],
  ])("bad arguments %j → exit 2", async (args) => {
    const run = await runSmi(args, await stateFile(idleGpuState()));
    expect(run.code).toBe(2);
    expect(classifyNvidiaSmiExit(run.code ?? -1, run.stdout, run.stderr)?.code).toBe("invalid_field");
  });

  it("an empty field in the list is rejected like the real tool", async () => {
    for (const q of ["index,", "index,,uuid", ""]) {
      const run = await runSmi([`--query-gpu=${q}`, "--format=csv"], await stateFile(idleGpuState()));
      expect(run).toEqual({ code: 2, stdout: 'Field "" is not a valid field to query.\n\n', stderr: "" });
    }
  });
});

describe("fault modes", () => {
  const queries = [[], [`--query-gpu=${LOOP_FIELDS}`, "--format=csv,noheader,nounits"], ["-L"]].map(
    (args) => ({
      args,
      label: args.join(" ") || "no arguments",
    }),
  );

  it.each(queries)("driver_lost → the driver failure text, exit 9 ($label)", async ({ args }) => {
    const run = await runSmi(args, await stateFile({ ...idleGpuState(), mode: "driver_lost" }));
    expect(run).toEqual({ code: 9, stdout: `${DRIVER_FAILURE_TEXT}\n`, stderr: "" });
    expect(classifyNvidiaSmiExit(9, run.stdout, run.stderr)?.code).toBe("driver_unreachable");
    const parsed = parseGpuCsv(run.stdout, LOOP_FIELDS.split(","));
    expect(parsed.ok ? null : parsed.error.code).toBe("driver_unreachable");
  });

  it.each(queries)("no_devices → 'No devices were found', exit 6 ($label)", async ({ args }) => {
    const run = await runSmi(args, await stateFile({ ...idleGpuState(), mode: "no_devices" }));
    expect(run).toEqual({ code: 6, stdout: "No devices were found\n", stderr: "" });
    expect(classifyNvidiaSmiExit(6, run.stdout, run.stderr)?.code).toBe("no_devices");
  });

  it("a missing state file is a loud simulator error, not a simulated fault", async () => {
    for (const p of [null, path.join(dir, "does-not-exist.env")]) {
      const run = await runSmi([`--query-gpu=index`, "--format=csv"], p);
      expect(run.code).toBe(255);
      expect(run.stdout).toBe("");
      expect(run.stderr).toContain("SWITCHYARD_SIM_GPU_STATE");
    }
  });
});

type Stream = {
  pid: number;
  lines: string[];
  stdout: { destroy(): void };
  waitFor(pred: (lines: string[]) => boolean, ms: number): Promise<void>;
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
};

type StreamOptions = {
  /** Own process group (pgid = pid), as the simulator's SSH server runs commands. */
  detached?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Argv before SCRIPT and the args; default `/bin/sh`. */
  command?: string[];
};

/** Starts a streaming fake the way the controller would: a long-lived child read line by line. */
function stream(args: string[], statePath: string, opts: StreamOptions = {}): Stream {
  const [cmd = "/bin/sh", ...cmdArgs] = opts.command ?? ["/bin/sh"];
  const child = spawn(cmd, [...cmdArgs, SCRIPT, ...args], {
    env: { ...(opts.env ?? process.env), [SIM_GPU_STATE_ENV]: statePath },
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.detached ?? false,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("spawn failed");
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const splitter = createGpuLineSplitter((l) => {
    lines.push(l);
    for (const w of waiters) w();
  });
  child.stdout.on("data", (c: Buffer) => splitter.push(c));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => {
      splitter.end();
      resolve({ code, signal });
    });
  });
  const guard = setTimeout(() => {
    try {
      process.kill(opts.detached ? -pid : pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, 15_000);
  void closed.then(() => clearTimeout(guard));
  return {
    pid,
    lines,
    closed,
    stdout: child.stdout,
    kill: () => child.kill("SIGTERM"),
    waitFor(pred, ms) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pred(lines)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${ms} ms; lines so far:\n${lines.join("\n")}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
  };
}

describe("streaming", () => {
  const fields = LOOP_FIELDS.split(",");

  it("-lms 200 gives a line every ~200 ms until killed", async () => {
    const s = stream(
      [`--query-gpu=${LOOP_FIELDS}`, "--format=csv,noheader,nounits", "-lms", "200"],
      await stateFile(idleGpuState()),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    s.kill();
    const { signal, code } = await s.closed;
    expect(s.lines.length).toBeGreaterThanOrEqual(3);
    expect(s.lines.length).toBeLessThanOrEqual(7);
    for (const l of s.lines) expect(l).toBe("0, 0, 0, 41, 123.63");
    expect(signal ?? code).not.toBeNull();
  });

  it("--loop-ms= with a header: header once, then samples", async () => {
    const s = stream(
      [`--query-gpu=${LOOP_FIELDS}`, "--format=csv", "--loop-ms=100"],
      await stateFile(idleGpuState()),
    );
    await s.waitFor((l) => l.length >= 4, 5_000);
    s.kill();
    await s.closed;
    expect(s.lines[0]).toBe("index, utilization.gpu [%], memory.used [MiB], temperature.gpu, power.draw [W]");
    expect(s.lines.slice(1).every((l) => l === "0, 0 %, 0 MiB, 41, 123.63 W")).toBe(true);
  });

  it("picks up state changes mid-stream, and ends with the driver failure when the driver goes", async () => {
    const file = await stateFile(idleGpuState());
    const s = stream(
      [`--query-gpu=${BUSY_LOOP_FIELDS}`, "--format=csv,noheader,nounits", "-lms", "200"],
      file,
    );
    const busy = (l: string[]) => l.some((x) => x.endsWith(", 0, 100, 1395, 63, 682.43"));

    await s.waitFor((l) => l.length >= 2, 5_000);
    expect(busy(s.lines)).toBe(false);
    await writeGpuStateFile(file, busyGpuState());
    await s.waitFor(busy, 5_000);

    await writeGpuStateFile(file, { ...busyGpuState(), mode: "driver_lost" });
    const { code } = await s.closed;
    expect(code).toBe(9);
    expect(s.lines.at(-1)).toBe(DRIVER_FAILURE_TEXT);

    const results = s.lines.map((l) => parseGpuLine(l, BUSY_LOOP_FIELDS.split(",")));
    expect(results.at(-1)).toMatchObject({ ok: false, error: { code: "driver_unreachable" } });
    expect(results.slice(0, -1).every((r) => r.ok)).toBe(true);
    const all = parseGpuCsv(`${s.lines.join("\n")}\n`, BUSY_LOOP_FIELDS.split(","));
    expect(all.ok ? null : all.error.code).toBe("driver_unreachable");
  });

  it("no_devices mid-stream ends the stream with exit 6", async () => {
    const file = await stateFile(idleGpuState());
    const s = stream([`--query-gpu=${LOOP_FIELDS}`, "--format=csv,noheader,nounits", "-lms", "100"], file);
    await s.waitFor((l) => l.length >= 1, 5_000);
    await writeGpuStateFile(file, { ...idleGpuState(), mode: "no_devices" });
    expect((await s.closed).code).toBe(6);
    expect(s.lines.at(-1)).toBe("No devices were found");
  });

  it("SIGTERM ends a slow stream at once, without waiting out the interval", async () => {
    const s = stream(
      [`--query-gpu=${LOOP_FIELDS}`, "--format=csv,noheader,nounits", "-lms", "10000"],
      await stateFile(idleGpuState()),
    );
    await s.waitFor((l) => l.length >= 1, 5_000);
    const t0 = Date.now();
    s.kill();
    const { code, signal } = await s.closed;
    // 'close' also waits for every holder of the stdout pipe, so this covers a leftover sleep too.
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(code === 143 || signal === "SIGTERM").toBe(true);
  });

  it("a reader never sees a half-written state file while writers race", async () => {
    const file = await stateFile(idleGpuState());
    const s = stream([`--query-gpu=${LOOP_FIELDS}`, "--format=csv,noheader,nounits", "-lms", "5"], file);
    await s.waitFor((l) => l.length >= 1, 5_000);
    const states = [idleGpuState(), busyGpuState()];
    for (let round = 0; round < 40; round++) {
      await Promise.all(states.map((st) => writeGpuStateFile(file, st)));
    }
    await s.waitFor((l) => l.length >= 20, 5_000);
    s.kill();
    await s.closed;
    for (const l of s.lines) {
      expect(["0, 0, 0, 41, 123.63", "0, 100, 1395, 63, 682.43"]).toContain(l);
      expect(parseGpuLine(l, fields).ok).toBe(true);
    }
    const leftovers = (await readdir(dir)).filter((f) => f.endsWith(".tmp"));
    expect(leftovers).toEqual([]);
  });
});

type ProcInfo = { pid: number; comm: string; state: string; cminflt: number };

/** Every process in a process group, from /proc (Linux): live ones and zombies alike. */
async function processGroup(pgid: number): Promise<ProcInfo[]> {
  const found: ProcInfo[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = await procStat(Number(name));
    if (info && info.pgrp === pgid) found.push(info);
  }
  return found;
}

async function procStat(pid: number): Promise<(ProcInfo & { pgrp: number }) | null> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // `pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt ...`; comm may hold spaces.
  const close = stat.lastIndexOf(")");
  const rest = stat.slice(close + 2).split(" ");
  return {
    pid,
    comm: stat.slice(stat.indexOf("(") + 1, close),
    state: rest[0] ?? "?",
    pgrp: Number(rest[2]),
    // Minor faults of reaped children: every fork+exec adds hundreds, so a constant value means
    // no child came and went in between.
    cminflt: Number(rest[8]),
  };
}

/** A PATH with `sleep` and `date` but no bash, for the portable fallback loop. */
async function pathWithoutBash(): Promise<string> {
  const bin = path.join(dir, "no-bash-bin");
  await mkdir(bin, { recursive: true });
  for (const tool of ["sleep", "date"]) {
    const real = await new Promise<string>((resolve, reject) =>
      execFile("/bin/sh", ["-c", `command -v ${tool}`], (err, out) =>
        err ? reject(err) : resolve(out.trim()),
      ),
    );
    await symlink(real, path.join(bin, tool)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
    });
  }
  return bin;
}

describe("streaming without a fork per sample", () => {
  const fields = BUSY_LOOP_FIELDS.split(",");

  it("a 1 s stream at -lms 100: ~10 samples on a 100 ms grid, no child processes, none left behind", async () => {
    const file = await stateFile(idleGpuState());
    const startedAt = Date.now();
    const s = stream(
      [`--query-gpu=${BUSY_LOOP_FIELDS}`, "--format=csv,noheader,nounits", "-lms", "100"],
      file,
      {
        detached: true,
      },
    );
    await s.waitFor((l) => l.length >= 2, 5_000);
    const first = await procStat(s.pid);
    // While it streams, the group is the script alone (bash by now): no `sleep`, no `date`.
    const groups: ProcInfo[][] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 110));
      groups.push(await processGroup(s.pid));
    }
    const last = await procStat(s.pid);
    await new Promise((r) => setTimeout(r, Math.max(0, startedAt + 1_000 - Date.now())));
    s.kill();
    // On a loaded machine the checks above can take longer than the second: count against the
    // time the stream actually ran.
    const ranMs = Date.now() - startedAt;
    const { code, signal } = await s.closed;
    expect(code === 143 || signal === "SIGTERM").toBe(true);

    for (const g of groups) expect(g.map((p) => p.comm)).toEqual(["bash"]);
    expect(first?.cminflt).toBeGreaterThan(0); // sanity: the one start-up fork (`<(:)`) is counted
    expect(last?.cminflt).toBe(first?.cminflt);
    expect(await processGroup(s.pid)).toEqual([]);

    expect(
      Math.abs(s.lines.length - ranMs / 100),
      `${s.lines.length} lines in ${ranMs} ms`,
    ).toBeLessThanOrEqual(2);
    const stamps = s.lines.map((l) => {
      const r = parseGpuLine(l, fields);
      if (!r.ok) throw new Error(`${r.error.code}: ${l}`);
      expect(r.sample).toMatchObject({
        index: 0,
        utilizationGpuPct: 0,
        temperatureC: 41,
        powerDrawW: 123.63,
      });
      const t = r.sample.timestamp?.getTime();
      if (t === undefined) throw new Error(`no timestamp: ${l}`);
      return t;
    });
    const t0 = stamps[0] ?? 0;
    for (const [k, t] of stamps.entries()) {
      // Deadlines come from the clock, not from adding up sleeps: sample k is ~k × 100 ms in,
      // whatever the wake-up latency of the samples before it.
      expect(Math.abs(t - t0 - k * 100), `sample ${k}: ${s.lines.join("\n")}`).toBeLessThan(60);
    }
  });

  it.each([
    ["SIGPIPE", []],
    ["SIGPIPE ignored", ["-c", 'trap "" PIPE; exec /bin/sh "$0" "$@"']],
  ])("stops at the next sample once its stdout is closed (%s)", async (_label, prefix) => {
    const s = stream(
      [`--query-gpu=${LOOP_FIELDS}`, "--format=csv,noheader,nounits", "-lms", "100"],
      await stateFile(idleGpuState()),
      { detached: true, command: ["/bin/sh", ...prefix] },
    );
    await s.waitFor((l) => l.length >= 1, 5_000);
    s.stdout.destroy();
    const t0 = Date.now();
    const { code, signal } = await s.closed;
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(code === 141 || signal === "SIGPIPE").toBe(true);
    expect(await processGroup(s.pid)).toEqual([]);
  });

  it("reads -lms and --loop as decimal, leading zeros and all (not octal)", async () => {
    const file = await stateFile(idleGpuState());
    // As octal, 0300 would be 192 ms and 08 a shell error after the first sample.
    const s = stream([`--query-gpu=timestamp`, "--format=csv,noheader", "-lms", "0300"], file);
    await s.waitFor((l) => l.length >= 2, 5_000);
    s.kill();
    await s.closed;
    const [a, b] = s.lines.slice(0, 2).map((l) => parseGpuLine(l, ["timestamp"]));
    const gap =
      (b?.ok ? (b.sample.timestamp?.getTime() ?? 0) : 0) - (a?.ok ? (a.sample.timestamp?.getTime() ?? 0) : 0);
    expect(gap).toBeGreaterThanOrEqual(270);

    const t = stream([`--query-gpu=index`, "--format=csv,noheader", "-lms", "08"], file);
    await t.waitFor((l) => l.length >= 5, 5_000);
    t.kill();
    await t.closed;
    expect(new Set(t.lines)).toEqual(new Set(["0"]));
  });

  it("without bash it falls back to the portable loop (a sleep per sample), same output", async () => {
    const env = { ...process.env, PATH: await pathWithoutBash() };
    const s = stream(
      [`--query-gpu=${BUSY_LOOP_FIELDS}`, "--format=csv,noheader,nounits", "-lms", "100"],
      await stateFile(idleGpuState()),
      { detached: true, env },
    );
    await s.waitFor((l) => l.length >= 3, 5_000);
    expect((await processGroup(s.pid)).some((p) => p.comm === "bash")).toBe(false);
    s.kill();
    const { code, signal } = await s.closed;
    expect(code === 143 || signal === "SIGTERM").toBe(true);
    for (const l of s.lines) {
      expect(l).toMatch(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d{3}, 0, 0, 0, 41, 123\.63$/);
      expect(parseGpuLine(l, fields).ok).toBe(true);
    }
    expect(await processGroup(s.pid)).toEqual([]);
  });

  it("bash and dash print the same timestamp format in the same zone as date(1)", async () => {
    const file = await stateFile(idleGpuState());
    for (const tz of [undefined, "UTC", "Asia/Kolkata", "America/St_Johns"]) {
      const env = { ...process.env };
      if (tz === undefined) delete env.TZ;
      else env.TZ = tz;
      const run = (shell: string) =>
        new Promise<string>((resolve) =>
          execFile(
            shell,
            [SCRIPT, "--query-gpu=timestamp", "--format=csv,noheader"],
            { env: { ...env, [SIM_GPU_STATE_ENV]: file }, timeout: 5_000 },
            (_err, out) => resolve(out),
          ),
        );
      const date = await new Promise<string>((resolve) =>
        execFile("date", ["+%Y/%m/%d %H:%M"], { env }, (_err, out) => resolve(out.trim())),
      );
      const [fromDash, fromBash] = [await run("/bin/sh"), await run("bash")];
      for (const out of [fromDash, fromBash]) {
        expect(out).toMatch(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\n$/);
        // Same zone: the minute matches (allowing for a minute boundary between the two runs).
        const minute = out.slice(0, 16);
        const ms = (x: string) => Date.parse(`${x.replaceAll("/", "-").replace(" ", "T")}:00Z`);
        expect(Math.abs(ms(minute) - ms(date))).toBeLessThanOrEqual(60_000);
      }
    }
  });
});

describe("as the simulator runs it", () => {
  it("is executable and found on PATH by sh -c", async () => {
    await access(SCRIPT, constants.X_OK);
    const file = await stateFile(idleGpuState());
    const run = await new Promise<Run>((resolve) => {
      execFile(
        "/bin/sh",
        ["-c", `nvidia-smi --query-gpu=${FULL_FIELDS} --format=csv,noheader,nounits`],
        {
          env: {
            ...process.env,
            PATH: `${SIM_BIN_DIR}:${process.env.PATH ?? ""}`,
            [SIM_GPU_STATE_ENV]: file,
          },
          timeout: 5_000,
        },
        (err, stdout, stderr) => resolve({ code: err ? null : 0, stdout, stderr }),
      );
    });
    expect(run.stdout).toBe(readNvidiaSmiFixture("query_idle.csv"));
  });

  it("starts with #!/bin/sh, and both dash and bash parse all of it", async () => {
    // One-shot queries run in dash; a stream re-runs the same file in bash.
    const text = await readFile(SCRIPT, "utf8");
    expect(text.startsWith("#!/bin/sh\n")).toBe(true);
    for (const shell of ["/bin/sh", "bash"]) {
      const syntax = await new Promise<string>((resolve) => {
        execFile(shell, ["-n", SCRIPT], { timeout: 5_000 }, (err, _out, stderr) =>
          resolve(err ? `${shell}: ${stderr}` : ""),
        );
      });
      expect(syntax).toBe("");
    }
  });
});

describe("state file", () => {
  it("idleGpuState() is the captured GPU; a seed gives a stable, distinct UUID", () => {
    expect(idleGpuState().uuid).toBe("GPU-c193beda-9d2e-4b2a-4850-4f5770f6f8b2");
    expect(idleGpuState("node-1").uuid).toBe(idleGpuState("node-1").uuid);
    expect(idleGpuState("node-1").uuid).not.toBe(idleGpuState("node-2").uuid);
    expect(simGpuUuid("node-1")).toMatch(
      /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
  });

  it("renders every key, single-quoted", () => {
    expect(renderGpuStateFile(idleGpuState())).toBe(
      [
        "SIM_GPU_MODE='ok'",
        "SIM_GPU_INDEX='0'",
        "SIM_GPU_UUID='GPU-c193beda-9d2e-4b2a-4850-4f5770f6f8b2'",
        "SIM_GPU_NAME='NVIDIA H100 80GB HBM3'",
        "SIM_GPU_UTILIZATION_GPU='0'",
        "SIM_GPU_UTILIZATION_MEMORY='0'",
        "SIM_GPU_MEMORY_USED='0'",
        "SIM_GPU_MEMORY_TOTAL='81559'",
        "SIM_GPU_TEMPERATURE='41'",
        "SIM_GPU_POWER_DRAW='123.63'",
        "SIM_GPU_POWER_LIMIT='700.00'",
        "SIM_GPU_CLOCKS_SM='1980'",
        "SIM_GPU_PSTATE='P0'",
        "SIM_GPU_ECC_UNCORRECTED='0'",
        "SIM_GPU_DRIVER_VERSION='580.159.04'",
        "",
      ].join("\n"),
    );
  });

  it("formats watts with two decimals", () => {
    const text = renderGpuStateFile({ ...idleGpuState(), powerDrawW: 682.4, powerLimitW: 350.126 });
    expect(text).toContain("SIM_GPU_POWER_DRAW='682.40'\n");
    expect(text).toContain("SIM_GPU_POWER_LIMIT='350.13'\n");
  });

  const marker = () => path.join(dir, "pwned");
  const hostile: [string, (m: string) => Partial<SimGpuState>][] = [
    ["command substitution in name", (m) => ({ name: `H100 $(touch ${m})` })],
    ["backticks in name", (m) => ({ name: `\`touch ${m}\`` })],
    ["single quote in name", (m) => ({ name: `H100' ; touch ${m} ; '` })],
    ["double quote in name", () => ({ name: 'H100"' })],
    ["newline in name", () => ({ name: "H100\nSIM_GPU_MODE=driver_lost" })],
    ["comma in name (breaks the CSV)", () => ({ name: "H100, 80GB" })],
    ["trailing space in name", () => ({ name: "H100 " })],
    ["empty name", () => ({ name: "" })],
    ["semicolon in uuid", (m) => ({ uuid: `GPU-x;touch ${m}` })],
    ["command in pstate", (m) => ({ pstate: `$(touch ${m})` })],
    ["command in driver version", (m) => ({ driverVersion: `580;touch ${m}` })],
    ["unknown mode", (m) => ({ mode: `ok; touch ${m}` as SimGpuState["mode"] })],
    ["NaN power", () => ({ powerDrawW: Number.NaN })],
    ["infinite power limit", () => ({ powerLimitW: Number.POSITIVE_INFINITY })],
    ["fractional util", () => ({ utilizationGpuPct: 12.5 })],
    ["util over 100", () => ({ utilizationMemoryPct: 101 })],
    ["negative memory", () => ({ memoryUsedMib: -1 })],
    ["string where a number belongs", (m) => ({ temperatureC: `41; touch ${m}` as unknown as number })],
  ];

  it.each(hostile)("rejects %s, and writes nothing", async (_name, patch) => {
    const state: SimGpuState = { ...idleGpuState(), ...patch(marker()) };
    expect(() => renderGpuStateFile(state)).toThrow(/SimGpuState\./);
    const file = path.join(dir, `hostile-${stateCounter++}.env`);
    await expect(writeGpuStateFile(file, state)).rejects.toThrow();
    await expect(access(file)).rejects.toThrow();
    await expect(access(marker())).rejects.toThrow();
  });

  it("the script never re-evaluates a value it was handed", async () => {
    // Defence in depth: even a hand-written file with a quoted payload must only ever be printed.
    const file = path.join(dir, "hand-written.env");
    const payload = `$(touch ${marker()})\`touch ${marker()}\``;
    const text = renderGpuStateFile(idleGpuState()).replace(
      "SIM_GPU_NAME='NVIDIA H100 80GB HBM3'",
      `SIM_GPU_NAME='${payload}'`,
    );
    await writeFile(file, text);
    for (const args of [["--query-gpu=name", "--format=csv"], [], ["-L"]]) {
      const run = await runSmi(args, file);
      expect(run.code).toBe(0);
      // The table cuts names to 30 columns, as the real one does for long names.
      expect(run.stdout).toContain(args.length === 0 ? payload.slice(0, 30) : payload);
    }
    await expect(access(marker())).rejects.toThrow();
  });
});
