// Once per vitest run: a real Postgres for the integration tests — DATABASE_URL when set, else
// the embedded one in its own data directory (never the demo's), migrated.
import path from "node:path";
import type { TestProject } from "vitest/node";
import { prepareDatabase } from "@/server/runtime/database";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const dataDir = path.resolve(process.env.SWITCHYARD_TEST_DATA_DIR ?? ".switchyard/test");
  const db = await prepareDatabase({ dataDir, databaseUrl: process.env.DATABASE_URL });
  project.provide("databaseUrl", db.url);
  return async () => {
    await db.stop();
  };
}
