#!/usr/bin/env node
/**
 * Patches a crash in postgres.js 3.4.x (porsager/postgres#1154, #1208; fixes proposed in #1168,
 * #1209, not released): a small write is deferred with setImmediate, the socket closes before it
 * runs, and `nextWrite` calls `null.write(...)` from the immediate, an uncaught TypeError that takes
 * the whole process down. The controller must survive its database going away, so this matters.
 *
 * The patch (idempotent, applied by `postinstall` and again by `npm test` / `npm run demo`):
 * - `nextWrite` with no socket drops the buffered chunk and rejects what was sent with
 *   CONNECTION_CLOSED, so the caller gets a catchable error instead of the process dying;
 * - `terminate` and `closed` reset the timer and the chunk they cancel, so a connection is never
 *   left with a stale timer that stops every later write from being flushed.
 *
 * Exits 0 when every copy is patched (or already was), 1 when a copy has an unexpected shape.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MARKER = "/* switchyard: nextWrite null-socket guard */";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkgDir = path.join(root, "node_modules", "postgres");

const REPLACEMENTS = [
  {
    from: "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)",
    to:
      `  function nextWrite(fn) {\n    ${MARKER}\n` +
      "    if (!socket) {\n" +
      "      nextWriteTimer !== null && clearImmediate(nextWriteTimer)\n" +
      "      chunk = nextWriteTimer = null\n" +
      "      error(Errors.connection('CONNECTION_CLOSED', options))\n" +
      "      return false\n" +
      "    }\n" +
      "    const x = socket.write(chunk, fn)",
  },
  {
    from: "    clearImmediate(nextWriteTimer)\n    if (socket) {",
    to: "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    if (socket) {",
  },
  {
    from: "    clearImmediate(nextWriteTimer)\n    socket.removeListener('data', data)",
    to: "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener('data', data)",
  },
];

export function patchPostgres({ quiet = false } = {}) {
  if (!existsSync(pkgDir)) return { patched: [], already: [], failed: [] };
  const result = { patched: [], already: [], failed: [] };
  for (const flavour of ["src", "cjs/src", "cf/src"]) {
    const file = path.join(pkgDir, flavour, "connection.js");
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    if (text.includes(MARKER)) {
      result.already.push(file);
      continue;
    }
    let next = text;
    let ok = true;
    for (const r of REPLACEMENTS) {
      if (next.split(r.from).length !== 2) {
        ok = false;
        break;
      }
      next = next.replace(r.from, r.to);
    }
    if (!ok) {
      result.failed.push(file);
      continue;
    }
    writeFileSync(file, next);
    result.patched.push(file);
  }
  if (!quiet) {
    for (const f of result.patched) console.log(`patch-postgres: patched ${path.relative(root, f)}`);
    for (const f of result.failed)
      console.error(
        `patch-postgres: ${path.relative(root, f)} does not have the expected shape; not patched`,
      );
  }
  return result;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = patchPostgres();
  process.exit(r.failed.length > 0 ? 1 : 0);
}
