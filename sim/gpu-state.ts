/**
 * The state behind a simulated node's fake `nvidia-smi` (sim/bin/nvidia-smi).
 *
 * The fake is a POSIX shell script that `.`-sources this file on every sample, so the file is code
 * as far as the shell is concerned. That is why every value is checked against a narrow pattern
 * before it is written and then single-quoted: a scenario that sets a GPU name from user input
 * must not be able to run commands on the simulator host. Writes go through a temp file and a
 * rename because a streaming fake may source the file at any moment, and a half-written file
 * would show up as a bogus fault (or a shell syntax error) in the middle of a stream.
 */
import { createHash, randomBytes } from "node:crypto";
import { rename, unlink, writeFile } from "node:fs/promises";
import path from "node:path";

export type SimGpuMode = "ok" | "driver_lost" | "no_devices";

export type SimGpuState = {
  mode: SimGpuMode;
  index: number;
  uuid: string;
  name: string;
  utilizationGpuPct: number;
  utilizationMemoryPct: number;
  memoryUsedMib: number;
  memoryTotalMib: number;
  temperatureC: number;
  powerDrawW: number;
  powerLimitW: number;
  clocksSmMhz: number;
  pstate: string;
  eccUncorrected: number;
  driverVersion: string;
};

/** Directory holding the fake `nvidia-smi`; put it first on PATH for commands run on a simulated node. */
export const SIM_BIN_DIR = path.resolve(import.meta.dirname, "bin");

/** Env var through which the fake finds its node's state file (absolute path). */
export const SIM_GPU_STATE_ENV = "SWITCHYARD_SIM_GPU_STATE";

/** The UUID of the H100 the fixtures were captured on. */
const FIXTURE_UUID = "GPU-c193beda-9d2e-4b2a-4850-4f5770f6f8b2";

/**
 * A stable GPU UUID for a simulated node: the same seed always gives the same UUID, so a node keeps
 * its identity across simulator restarts, and distinct seeds give distinct GPUs.
 */
export function simGpuUuid(seed: string): string {
  const h = createHash("sha256").update(`switchyard-sim-gpu:${seed}`).digest("hex");
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The idle H100 from query_idle.csv. Without a seed it is that exact GPU (fixture UUID included),
 * so the fake can be checked byte for byte against the capture.
 */
export function idleGpuState(seed?: string): SimGpuState {
  return {
    mode: "ok",
    index: 0,
    uuid: seed === undefined ? FIXTURE_UUID : simGpuUuid(seed),
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
  };
}

/** The same H100 under a matmul loop (the `query.csv` section of busy.txt). */
export function busyGpuState(seed?: string): SimGpuState {
  return {
    ...idleGpuState(seed),
    utilizationGpuPct: 100,
    utilizationMemoryPct: 9,
    memoryUsedMib: 1395,
    temperatureC: 63,
    powerDrawW: 682.43,
  };
}

// Narrow on purpose: besides shell safety, a name with a comma would break the CSV the controller
// parses, and leading/trailing spaces would not survive its trimming.
const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9 ._+\-/()]{0,62}[A-Za-z0-9._+\-/()])?$/;
const UUID_RE = /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PSTATE_RE = /^P(?:[0-9]|1[0-5])$/;
const DRIVER_RE = /^[0-9]{1,4}(?:\.[0-9]{1,4}){0,3}$/;
const MODES: readonly SimGpuMode[] = ["ok", "driver_lost", "no_devices"];

function int(key: keyof SimGpuState, value: unknown, min: number, max: number): string {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`SimGpuState.${key} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return String(value);
}

function watts(key: keyof SimGpuState, value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 100_000) {
    throw new Error(`SimGpuState.${key} must be a number of watts in [0, 100000], got ${String(value)}`);
  }
  // nvidia-smi prints watts with two decimals (`123.63`, `700.00`).
  return value.toFixed(2);
}

function str(key: keyof SimGpuState, value: unknown, re: RegExp): string {
  if (typeof value !== "string" || !re.test(value)) {
    throw new Error(`SimGpuState.${key} must match ${re}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Renders the state as shell-sourceable `KEY='value'` lines, one per field, always all of them (the
 * fake never unsets anything, so a missing key would silently keep the previous value).
 * Throws on any value outside the contract rather than escaping it.
 */
export function renderGpuStateFile(state: SimGpuState): string {
  if (!MODES.includes(state.mode)) throw new Error(`SimGpuState.mode must be one of ${MODES.join(", ")}`);
  const pairs: [string, string][] = [
    ["SIM_GPU_MODE", state.mode],
    ["SIM_GPU_INDEX", int("index", state.index, 0, 9999)],
    ["SIM_GPU_UUID", str("uuid", state.uuid, UUID_RE)],
    ["SIM_GPU_NAME", str("name", state.name, NAME_RE)],
    ["SIM_GPU_UTILIZATION_GPU", int("utilizationGpuPct", state.utilizationGpuPct, 0, 100)],
    ["SIM_GPU_UTILIZATION_MEMORY", int("utilizationMemoryPct", state.utilizationMemoryPct, 0, 100)],
    ["SIM_GPU_MEMORY_USED", int("memoryUsedMib", state.memoryUsedMib, 0, 9_999_999)],
    ["SIM_GPU_MEMORY_TOTAL", int("memoryTotalMib", state.memoryTotalMib, 0, 999_999)],
    ["SIM_GPU_TEMPERATURE", int("temperatureC", state.temperatureC, 0, 200)],
    ["SIM_GPU_POWER_DRAW", watts("powerDrawW", state.powerDrawW)],
    ["SIM_GPU_POWER_LIMIT", watts("powerLimitW", state.powerLimitW)],
    ["SIM_GPU_CLOCKS_SM", int("clocksSmMhz", state.clocksSmMhz, 0, 99_999)],
    ["SIM_GPU_PSTATE", str("pstate", state.pstate, PSTATE_RE)],
    ["SIM_GPU_ECC_UNCORRECTED", int("eccUncorrected", state.eccUncorrected, 0, 999_999_999)],
    ["SIM_GPU_DRIVER_VERSION", str("driverVersion", state.driverVersion, DRIVER_RE)],
  ];
  // The patterns above already exclude quotes; quoting anyway means a future, looser pattern
  // still cannot produce command substitution.
  return pairs.map(([k, v]) => `${k}='${v}'\n`).join("");
}

/**
 * Writes the state file so that a concurrent `.` in the fake sees either the old or the new file,
 * never a mix. Validation happens before anything touches the disk.
 */
export async function writeGpuStateFile(filePath: string, state: SimGpuState): Promise<void> {
  const text = renderGpuStateFile(state);
  // Same directory as the target: rename is only atomic within one filesystem.
  const tmp = `${filePath}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, filePath);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
