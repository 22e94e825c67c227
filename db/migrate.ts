// Applies drizzle-kit's generated migrations on a single connection, before anything else starts.
// A failure is fatal: a process must never run against a schema it does not understand.
import path from "node:path";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, "..", "drizzle");

export class MigrationError extends Error {
  readonly code = "migration_failed" as const;
}

export async function runMigrations(url: string): Promise<void> {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: "switchyard-migrate" },
  });
  try {
    await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_DIR });
  } catch (err) {
    const cause =
      err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    throw new MigrationError(`database migration failed: ${cause}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

// `npm run db:migrate`: migrate DATABASE_URL, exit non-zero with the reason on failure.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(
      "db:migrate needs DATABASE_URL (the demo and npm start migrate the embedded database themselves)",
    );
    process.exit(2);
  }
  runMigrations(url).then(
    () => console.log("migrations applied"),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
