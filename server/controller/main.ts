// `npm run controller`: one controller replica. Run several against one database for HA; exactly
// one leads. Started by `npm start` and `npm run demo` too.
import { dataDir, env } from "@/env";
import { loadSecretKey } from "@/server/credentials/crypto";
import { prepareDatabase, redactUrl } from "@/server/runtime/database";
import { Controller } from "./controller";

const log = (line: string) => console.log(`[controller] ${line}`);

async function main() {
  const db = await prepareDatabase({ dataDir, databaseUrl: env.DATABASE_URL });
  let secretKey: Buffer | null = null;
  try {
    secretKey = loadSecretKey(dataDir);
  } catch (err) {
    log(`${(err as Error).message} — GPU telemetry over SSH is off`);
  }
  const controller = new Controller({
    databaseUrl: db.url,
    secretKey,
    leaseTtlMs: env.SWITCHYARD_LEASE_TTL_MS,
    metricsPort: env.SWITCHYARD_CONTROLLER_METRICS_PORT === 0 ? null : env.SWITCHYARD_CONTROLLER_METRICS_PORT,
    metricsHost: env.SWITCHYARD_CONTROLLER_METRICS_HOST,
    log,
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    await controller.stop().catch((err: Error) => log(`stop: ${err.message}`));
    await db.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  await controller.start();
  log(
    `started as ${controller.holderId} against ${redactUrl(db.url)}` +
      (env.SWITCHYARD_CONTROLLER_METRICS_PORT
        ? `; metrics on http://${env.SWITCHYARD_CONTROLLER_METRICS_HOST}:${env.SWITCHYARD_CONTROLLER_METRICS_PORT}/metrics`
        : ""),
  );
}

main().catch((err: Error) => {
  console.error(`[controller] failed: ${err.message}`);
  process.exit(1);
});
