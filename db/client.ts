// The process-wide drizzle client. One pool per process, cached on globalThis so Next.js hot
// reloads in development do not leak connections (t3 pattern).
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { env } from "@/env";
import * as schema from "./schema";

export type Db = PostgresJsDatabase<typeof schema>;
/** A transaction handle: domain functions accept either. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type DbOrTx = Db | Tx;

type Cached = { sql: postgres.Sql; db: Db };
const globalForDb = globalThis as unknown as { switchyardDb?: Cached };

export function createDb(url: string, opts: { max?: number; applicationName?: string } = {}): Cached {
  const sql = postgres(url, {
    max: opts.max ?? env.SWITCHYARD_DB_POOL,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? "switchyard" },
  });
  return { sql, db: drizzle(sql, { schema }) };
}

export class DatabaseNotConfiguredError extends Error {
  readonly code = "database_not_configured" as const;
  constructor() {
    super(
      "DATABASE_URL is not set. Start Switchyard with `npm run demo` or `npm start` (they start the embedded Postgres), or set DATABASE_URL.",
    );
  }
}

export function getDb(): Db {
  return getDbHandle().db;
}

export function getDbHandle(): Cached {
  if (globalForDb.switchyardDb) return globalForDb.switchyardDb;
  if (!env.DATABASE_URL) throw new DatabaseNotConfiguredError();
  const handle = createDb(env.DATABASE_URL);
  globalForDb.switchyardDb = handle;
  return handle;
}
