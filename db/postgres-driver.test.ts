// The controller must survive its database connection dying mid-transaction. postgres.js 3.4.x
// crashes the process in that case (porsager/postgres#1208); scripts/patch-postgres.mjs fixes it.
// The scenario runs in a child process, because the bug is an uncaught exception from a
// setImmediate callback: the only honest observation is whether the process survives.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";

const run = promisify(execFile);

const SCENARIO = `
import postgres from "postgres";
const url = process.env.PG_URL;
const sql = postgres(url, { max: 2, onnotice: () => {} });
const killer = postgres(url, { max: 1, onnotice: () => {} });
process.on("uncaughtException", (err) => { console.log("UNCAUGHT " + err.message); process.exit(3); });
let pid = null;
const tx = sql.begin(async (t) => {
  const [row] = await t\`select pg_backend_pid() as pid\`;
  pid = row.pid;
  await t\`select pg_sleep(3)\`;
});
const outcome = tx.then(() => "resolved", (err) => "rejected " + (err.code ?? err.message));
for (let i = 0; i < 100 && pid === null; i++) await new Promise((r) => setTimeout(r, 20));
await killer\`select pg_terminate_backend(\${pid})\`;
console.log(await outcome);
await new Promise((r) => setTimeout(r, 300));
const [after] = await sql\`select 1 as one\`;
console.log("after " + after.one);
await Promise.all([sql.end({ timeout: 1 }), killer.end({ timeout: 1 })]);
`;

describe("postgres.js driver", () => {
  it("is patched: every copy of connection.js guards nextWrite against a closed socket", () => {
    const pkgDir = path.resolve(import.meta.dirname, "..", "node_modules", "postgres");
    for (const flavour of ["src", "cjs/src", "cf/src"]) {
      const text = readFileSync(path.join(pkgDir, flavour, "connection.js"), "utf8");
      expect(text, flavour).toContain("switchyard: nextWrite null-socket guard");
    }
  });

  it("a backend killed mid-transaction rejects the transaction and the process lives on", async () => {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", SCENARIO], {
      env: { ...process.env, PG_URL: inject("databaseUrl") },
      timeout: 20_000,
    });
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^rejected /);
    expect(lines).not.toContainEqual(expect.stringMatching(/^UNCAUGHT/));
    expect(lines).toContain("after 1");
  }, 30_000);
});
