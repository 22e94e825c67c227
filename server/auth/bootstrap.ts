// The first admin, without a default password: the demo generates one, keeps it in a 0600 file in
// its data directory (so its banner can print it again) and prints it; a real install creates its
// first admin with `npm run user:create` or SWITCHYARD_ADMIN_PASSWORD on first start.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Db } from "@/db/client";
import { countUsers, createUser } from "./users";

const SYSTEM = { actorUserId: null, actorLabel: "bootstrap", actorRole: "system" } as const;

export function generatePassword(): string {
  // 18 random bytes → 24 URL-safe characters (~144 bits).
  return randomBytes(18).toString("base64url");
}

/** Creates `admin` with a generated password when there are no users yet. */
export async function ensureDemoAdmin(
  db: Db,
  dataDir: string,
): Promise<{ username: string; password: string | null; file: string; created: boolean }> {
  const file = path.join(dataDir, "admin-password");
  if ((await countUsers(db)) > 0) {
    const password = existsSync(file) ? readFileSync(file, "utf8").trim() : null;
    return { username: "admin", password, file, created: false };
  }
  const password = generatePassword();
  await createUser(db, { username: "admin", password, role: "admin" }, SYSTEM);
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return { username: "admin", password, file, created: true };
}

/** `npm start`: creates the first admin from SWITCHYARD_ADMIN_PASSWORD if there are no users. */
export async function bootstrapAdminFromEnv(
  db: Db,
  env: { SWITCHYARD_ADMIN_USERNAME?: string; SWITCHYARD_ADMIN_PASSWORD?: string },
): Promise<"created" | "exists" | "missing"> {
  if ((await countUsers(db)) > 0) return "exists";
  if (!env.SWITCHYARD_ADMIN_PASSWORD) return "missing";
  await createUser(
    db,
    {
      username: env.SWITCHYARD_ADMIN_USERNAME ?? "admin",
      password: env.SWITCHYARD_ADMIN_PASSWORD,
      role: "admin",
    },
    SYSTEM,
  );
  return "created";
}
