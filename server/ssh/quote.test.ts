import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SshConfigError } from "./errors";
import { quoteShellArg, sh } from "./quote";

const run = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-quote-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Each payload would create the marker file if it ever ran as code.
const PAYLOADS = [
  "$(touch M)",
  "`touch M`",
  "; touch M",
  "&& touch M",
  "| touch M",
  "x' ; touch M ; echo '",
  'x" ; touch M ; echo "',
  "line1\ntouch M",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal shell expansion is the payload
  "$HOME ${PATH} $((1+1))",
  "-n",
  "",
  "it's",
  "\\'; touch M; \\'",
  "glob * ? [a]",
  "ünïcødé ✓",
];

describe("quoteShellArg through a real /bin/sh", () => {
  it.each(PAYLOADS)("round-trips %j as one literal argument", async (payload) => {
    const { stdout } = await run("/bin/sh", ["-c", `printf '%s' ${quoteShellArg(payload)}`], { cwd: dir });
    expect(stdout).toBe(payload);
    expect(existsSync(path.join(dir, "M"))).toBe(false);
  });

  it("keeps safe words readable and refuses NUL", () => {
    expect(quoteShellArg("nvidia-smi")).toBe("nvidia-smi");
    expect(quoteShellArg("/etc/nginx/conf.d/a.conf")).toBe("/etc/nginx/conf.d/a.conf");
    expect(quoteShellArg(200)).toBe("200");
    expect(() => quoteShellArg("a\0b")).toThrow(SshConfigError);
    expect(() => quoteShellArg(Number.NaN)).toThrow(SshConfigError);
  });

  it("sh`` quotes every interpolation, arrays as separate words", async () => {
    const cmd = sh`printf '[%s]' ${PAYLOADS.slice(0, 3)} ${"$(touch M)"}`;
    const { stdout } = await run("/bin/sh", ["-c", cmd], { cwd: dir });
    expect(stdout).toBe(`${[...PAYLOADS.slice(0, 3), "$(touch M)"].map((p) => `[${p}]`).join("")}`);
    expect(existsSync(path.join(dir, "M"))).toBe(false);
  });
});
