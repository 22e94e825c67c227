// `npm run audit:verify`: recomputes the audit log's hash chain (server/audit/verify.ts).
// Exit 0 and `audit log OK: N rows, head <hash>` when every link holds; exit 1 and
// `audit log BROKEN at row <id>: <reason>` at the first row that does not. Keep the printed head
// somewhere else (a ticket, a log shipper): a later run whose chain no longer passes through it
// shows rows cut off the end, which a chain alone cannot.
import { createDb } from "@/db/client";
import { dataDir, env } from "@/env";
import { verifyAuditChain } from "@/server/audit/verify";
import { prepareDatabase } from "@/server/runtime/database";

async function main() {
  const database = await prepareDatabase({ dataDir, databaseUrl: env.DATABASE_URL });
  const { db, sql } = createDb(database.url, { max: 1, applicationName: "switchyard-audit-verify" });
  try {
    const result = await verifyAuditChain(db);
    if (result.ok) {
      console.log(`audit log OK: ${result.rows} rows, head ${result.head}`);
    } else {
      console.error(`audit log BROKEN at row ${result.firstBadId}: ${result.reason}`);
      process.exitCode = 1;
    }
  } finally {
    await sql.end();
    await database.stop();
  }
}

main().catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(2);
});
