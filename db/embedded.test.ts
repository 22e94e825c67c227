import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "..");

describe("loading the embedded Postgres package", () => {
  // Its exit hook used to turn every failing process (vitest included) into exit code 0.
  it("leaves a process's own exit code alone", async () => {
    const script = `
      const { loadEmbeddedPostgres } = await import(${JSON.stringify(path.join(ROOT, "db/embedded.ts"))});
      await loadEmbeddedPostgres();
      console.log(process.listenerCount("beforeExit"), process.listenerCount("SIGINT"));
      process.exitCode = 3;`;
    const err = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      timeout: 60_000,
    }).then(
      () => null,
      (e: { code: number; stdout: string }) => e,
    );
    expect(err?.code).toBe(3);
    expect(err?.stdout.trim()).toBe("0 0");
  });
});
