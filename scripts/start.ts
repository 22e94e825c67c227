// `npm start`: the control plane for real use — database (DATABASE_URL, or the embedded one),
// migrations, then the web UI and one controller replica. No simulator, no demo data.
// `npm run dev` is the same with `next dev`. Each part can also run alone (`next start`,
// `npm run controller`), and several of each against one database.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createDb } from "@/db/client";
import { dataDir, env } from "@/env";
import { bootstrapAdminFromEnv } from "@/server/auth/bootstrap";
import { stopChildren } from "@/server/runtime/children";
import { prepareDatabase, redactUrl } from "@/server/runtime/database";

const ROOT = path.resolve(import.meta.dirname, "..");
const dev = process.argv.includes("--dev");
const children: ChildProcess[] = [];
let stop: () => Promise<void> = async () => {};

let stopping = false;

async function shutdown(code: number) {
  // The web server and the controller each trigger this when they exit: stop once.
  if (stopping) return;
  stopping = true;
  await stopChildren(children);
  await stop();
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

async function main() {
  const db = await prepareDatabase({ dataDir, databaseUrl: env.DATABASE_URL });
  stop = db.stop;
  console.log(`[start] database ${redactUrl(db.url)} migrated`);
  {
    const handle = createDb(db.url, { max: 1, applicationName: "switchyard-start" });
    const admin = await bootstrapAdminFromEnv(handle.db, {
      SWITCHYARD_ADMIN_USERNAME: process.env.SWITCHYARD_ADMIN_USERNAME,
      SWITCHYARD_ADMIN_PASSWORD: process.env.SWITCHYARD_ADMIN_PASSWORD,
    }).finally(() => handle.sql.end());
    if (admin === "created") console.log("[start] created the first admin from SWITCHYARD_ADMIN_PASSWORD");
    if (admin === "missing") {
      console.log(
        "[start] no users yet: create the first admin with `npm run user:create -- --username you --role admin --generate`" +
          " (or set SWITCHYARD_ADMIN_PASSWORD on first start)",
      );
    }
  }
  const web = spawn(
    "npx",
    ["next", dev ? "dev" : "start", "-p", String(env.PORT), "-H", process.env.HOST ?? "127.0.0.1"],
    {
      cwd: ROOT,
      detached: true,
      stdio: "inherit",
      env: { ...process.env, DATABASE_URL: db.url, NEXT_TELEMETRY_DISABLED: "1" },
    },
  );
  children.push(web);
  web.once("exit", (code) => void shutdown(code ?? 1));
  const controller = spawn(process.execPath, ["--import", "tsx", "server/controller/main.ts"], {
    cwd: ROOT,
    detached: true,
    stdio: "inherit",
    env: { ...process.env, DATABASE_URL: db.url },
  });
  children.push(controller);
  controller.once("exit", (code) => void shutdown(code ?? 1));
}

main().catch((err: Error) => {
  console.error(`[start] ${err.message}`);
  void shutdown(1);
});
