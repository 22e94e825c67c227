// One validated environment for every process (web, controller, demo, scripts). Imported by
// next.config.ts so a bad environment fails at start, not at the first request. No secret has a
// fallback value: a missing DATABASE_URL means "use the embedded Postgres", decided by the
// launcher, never a hard-coded password.
import path from "node:path";
import { z } from "zod";

const schema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  SWITCHYARD_DATA_DIR: z.string().min(1).default(".switchyard"),
  /** Size of the web process's connection pool. */
  SWITCHYARD_DB_POOL: z.coerce.number().int().min(1).max(100).default(10),
  /** Controller lease time-to-live: how long a dead leader can go unnoticed. */
  SWITCHYARD_LEASE_TTL_MS: z.coerce.number().int().min(500).max(600_000).default(5000),
  /** Where the controller serves /metrics and /healthz (on 127.0.0.1 unless the host is set); 0 = off. */
  SWITCHYARD_CONTROLLER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  SWITCHYARD_CONTROLLER_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
});

export type Env = z.infer<typeof schema>;

function load(): Env {
  const parsed = schema.safeParse(process.env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

export const env = load();

/** Absolute data directory (embedded Postgres, generated keys, simulator state). */
export const dataDir = path.resolve(env.SWITCHYARD_DATA_DIR);
