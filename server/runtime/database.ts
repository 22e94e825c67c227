// Every entry point (demo, start, controller, tests) gets its database the same way: DATABASE_URL
// when set, else the embedded Postgres in the data directory; then migrations, before anything
// else touches the schema.
import { startEmbeddedPostgres } from "@/db/embedded";
import { runMigrations } from "@/db/migrate";

export type PreparedDatabase = { url: string; embedded: boolean; stop: () => Promise<void> };

export async function prepareDatabase(opts: {
  dataDir: string;
  databaseUrl?: string | undefined;
  log?: (line: string) => void;
}): Promise<PreparedDatabase> {
  if (opts.databaseUrl) {
    await runMigrations(opts.databaseUrl);
    return { url: opts.databaseUrl, embedded: false, stop: async () => {} };
  }
  const pg = await startEmbeddedPostgres(opts.dataDir, { log: opts.log });
  try {
    await runMigrations(pg.url);
  } catch (err) {
    await pg.stop();
    throw err;
  }
  return { url: pg.url, embedded: true, stop: pg.stop };
}

/** Hides the password when a URL is printed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "****";
    return u.toString();
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}
