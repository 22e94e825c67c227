// `npm run user:create -- --username alice --role operator [--generate]`
// `npm run user:password -- --username alice [--generate]`
// `npm run user:list`
// The password is read from SWITCHYARD_NEW_PASSWORD or from stdin (never from argv, which other
// users of the machine can read in `ps`); --generate makes one and prints it once.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { asc, eq } from "drizzle-orm";
import { createDb } from "@/db/client";
import { users } from "@/db/schema";
import { dataDir, env } from "@/env";
import { generatePassword } from "@/server/auth/bootstrap";
import { createUser, setPassword, UserError } from "@/server/auth/users";
import { prepareDatabase } from "@/server/runtime/database";

const CLI = { actorUserId: null, actorLabel: "cli", actorRole: "system" } as const;

function usage(): never {
  console.error(
    "usage: user.ts create --username NAME --role viewer|operator|admin [--generate]\n" +
      "       user.ts password --username NAME [--generate]\n" +
      "       user.ts list\n" +
      "The password comes from SWITCHYARD_NEW_PASSWORD or stdin, or --generate.",
  );
  process.exit(2);
}

function readPassword(generate: boolean): { password: string; generated: boolean } {
  if (generate) return { password: generatePassword(), generated: true };
  const fromEnv = process.env.SWITCHYARD_NEW_PASSWORD;
  if (fromEnv) return { password: fromEnv, generated: false };
  if (process.stdin.isTTY) {
    console.error("type the password and press Ctrl-D (or use --generate / SWITCHYARD_NEW_PASSWORD)");
  }
  return { password: readFileSync(0, "utf8").replace(/\r?\n$/, ""), generated: false };
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      username: { type: "string" },
      role: { type: "string" },
      generate: { type: "boolean", default: false },
    },
  });
  if (!command || !["create", "password", "list"].includes(command)) usage();
  const database = await prepareDatabase({ dataDir, databaseUrl: env.DATABASE_URL });
  const { db, sql } = createDb(database.url, { max: 2, applicationName: "switchyard-user" });
  try {
    if (command === "list") {
      const rows = await db
        .select({ username: users.username, role: users.role, disabled: users.disabled })
        .from(users)
        .orderBy(asc(users.username));
      for (const r of rows) console.log(`${r.username}\t${r.role}${r.disabled ? "\tdisabled" : ""}`);
      return;
    }
    if (!values.username) usage();
    const { password, generated } = readPassword(values.generate ?? false);
    if (command === "create") {
      if (!values.role) usage();
      await createUser(db, { username: values.username, password, role: values.role }, CLI);
      console.log(`created ${values.username.toLowerCase()} (${values.role})`);
    } else {
      const [u] = await db.select().from(users).where(eq(users.username, values.username.toLowerCase()));
      if (!u) throw new UserError(`no user ${values.username}`);
      await setPassword(db, u.id, password, CLI);
      console.log(`password of ${u.username} changed; their sessions were signed out`);
    }
    if (generated) console.log(`password: ${password}`);
  } catch (err) {
    if (err instanceof UserError) {
      console.error(`error: ${err.field ? `${err.field}: ` : ""}${err.message}`);
      process.exitCode = 1;
      return;
    }
    throw err;
  } finally {
    await sql.end();
    await database.stop();
  }
}

main().catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
