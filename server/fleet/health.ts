// The control plane's own readiness: can we reach the database, and is its schema current?
import { sql } from "drizzle-orm";
import type { Db } from "@/db/client";

export type ControlPlaneHealth = {
  status: "ok" | "degraded";
  database: { ok: boolean; latencyMs: number | null; migrations: number | null; error?: string };
  checkedAt: string;
};

export async function checkControlPlaneHealth(db: Db, timeoutMs = 2000): Promise<ControlPlaneHealth> {
  const t0 = performance.now();
  try {
    const result = await Promise.race([
      db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out")), timeoutMs)),
    ]);
    return {
      status: "ok",
      database: { ok: true, latencyMs: Math.round(performance.now() - t0), migrations: result[0]?.n ?? 0 },
      checkedAt: new Date().toISOString(),
    };
  } catch (err) {
    // Say what kind of failure without echoing driver text (it can carry hostnames and users).
    const message =
      err instanceof Error && err.message === "timed out"
        ? "database did not answer in time"
        : "database unreachable";
    return {
      status: "degraded",
      database: { ok: false, latencyMs: null, migrations: null, error: message },
      checkedAt: new Date().toISOString(),
    };
  }
}
