// `npm run credentials:rekey`: re-encrypts every stored SSH credential under a new secret key.
//   SWITCHYARD_SECRET_KEY=<current> SWITCHYARD_NEW_SECRET_KEY=$(openssl rand -base64 32) npm run credentials:rekey
// then restart every web and controller process with SWITCHYARD_SECRET_KEY=<new>. One transaction:
// if any row does not open with the current key, nothing changes.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createDb } from "@/db/client";
import { dataDir, env } from "@/env";
import { loadSecretKey, parseKey } from "@/server/credentials/crypto";
import { reencryptCredentials } from "@/server/credentials/store";
import { prepareDatabase } from "@/server/runtime/database";

async function main() {
  const next = process.env.SWITCHYARD_NEW_SECRET_KEY;
  if (!next) {
    console.error("set SWITCHYARD_NEW_SECRET_KEY (32 random bytes, base64: openssl rand -base64 32)");
    process.exit(2);
  }
  const oldKey = loadSecretKey(dataDir);
  const newKey = parseKey(next, "SWITCHYARD_NEW_SECRET_KEY");
  const database = await prepareDatabase({ dataDir, databaseUrl: env.DATABASE_URL });
  const { db, sql } = createDb(database.url, { max: 1, applicationName: "switchyard-rekey" });
  try {
    const n = await reencryptCredentials(db, oldKey, newKey);
    console.log(`re-encrypted ${n} credential(s) under the new key`);
    if (!process.env.SWITCHYARD_SECRET_KEY) {
      // The key came from the data directory's file (the demo): replace it.
      writeFileSync(path.join(dataDir, "secret.key"), `${newKey.toString("base64")}\n`, { mode: 0o600 });
      console.log(`updated ${path.join(dataDir, "secret.key")}; restart the controller and web processes`);
    } else {
      console.log(
        "now restart every web and controller process with SWITCHYARD_SECRET_KEY set to the new key",
      );
    }
  } finally {
    await sql.end();
    await database.stop();
  }
}

main().catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
