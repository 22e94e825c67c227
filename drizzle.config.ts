import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema/index.ts",
  out: "./drizzle",
  // Only `drizzle-kit generate` is used; migrations are applied by db/migrate.ts.
  dbCredentials: { url: process.env.DATABASE_URL ?? "postgres://unused" },
  strict: true,
});
