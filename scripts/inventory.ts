// `npm run inventory -- <command>`: enrol and change the fleet from a declarative JSON file, the
// way `kubectl apply` does, until (and beside) the settings UI. See server/inventory/ for the file
// format and what apply will and will not do. Exit status: 0 ok, 1 invalid input or failure,
// 2 usage. Private keys are read from files (never argv), sealed in the database, never printed.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const USAGE = `usage: npm run inventory -- <command> [options]

commands:
  validate <file>      check the file, its key files, and that credentials it references exist
  apply <file>         make the database match the file, in one transaction, audited
      --dry-run        show the plan and write nothing
      --prune          also delete clusters, nodes and load balancers that are not in the file
      --create-key     create <data dir>/secret.key if no encryption key is configured
  export               print the current inventory in the same format (no secrets)
      -o, --output F   write it to F instead of stdout

Paths in "privateKeyFile" are relative to the inventory file. Key files must be 0600 (as for ssh).
Environment: DATABASE_URL (else the embedded Postgres in SWITCHYARD_DATA_DIR), SWITCHYARD_SECRET_KEY.
Exit status: 0 ok, 1 invalid input or failure, 2 usage.`;

class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}
const usage = (message: string) => new CliExit(2, `${message}\n\n${USAGE}`);

type Args = {
  command: "validate" | "apply" | "export";
  file: string | null;
  dryRun: boolean;
  prune: boolean;
  createKey: boolean;
  output: string | null;
};

function parseCli(argv: string[]): Args | "help" {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        "dry-run": { type: "boolean", default: false },
        prune: { type: "boolean", default: false },
        "create-key": { type: "boolean", default: false },
        output: { type: "string", short: "o" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  }
  try {
    parsed = parse();
  } catch (err) {
    throw usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  const [command, ...rest] = positionals;
  if (command !== "validate" && command !== "apply" && command !== "export") {
    throw usage(command ? `unknown command "${command}"` : "missing command");
  }
  const wantsFile = command !== "export";
  if (wantsFile && rest.length !== 1) throw usage(`${command} takes exactly one file`);
  if (!wantsFile && rest.length !== 0) throw usage("export takes no file (use --output)");
  const onlyFor = (flag: string, ok: boolean) => {
    if (!ok) throw usage(`${flag} is not an option of ${command}`);
  };
  onlyFor("--dry-run", !values["dry-run"] || command === "apply");
  onlyFor("--prune", !values.prune || command === "apply");
  onlyFor("--create-key", !values["create-key"] || command === "apply");
  onlyFor("--output", values.output === undefined || command === "export");
  return {
    command,
    file: wantsFile ? (rest[0] ?? null) : null,
    dryRun: values["dry-run"],
    prune: values.prune,
    createKey: values["create-key"],
    output: values.output ?? null,
  };
}

/** JSON.parse's "at position N" as a line and column people can jump to. */
function jsonErrorWhere(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m) return "";
  const pos = Number(m[1]);
  const before = text.slice(0, pos).split("\n");
  return ` (line ${before.length}, column ${(before[before.length - 1]?.length ?? 0) + 1})`;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliExit(1, `${file}: ${code === "ENOENT" ? "no such file" : `cannot be read (${code})`}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const msg = (err as Error).message;
    throw new CliExit(1, `${file}: not valid JSON: ${msg}${jsonErrorWhere(text, msg)}`);
  }
}

function invalid(file: string, issues: { path: string; message: string }[]): CliExit {
  const n = issues.length;
  return new CliExit(
    1,
    `${file} is invalid (${n} ${n === 1 ? "problem" : "problems"}):\n` +
      issues.map((i) => `  ${i.path}: ${i.message}`).join("\n"),
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

async function main(argv: string[]): Promise<number> {
  const args = parseCli(argv);
  if (args === "help") {
    console.log(USAGE);
    return 0;
  }
  // Loaded after argument parsing so `--help` and usage errors work with any environment, and a bad
  // environment is reported as one line rather than a stack trace.
  const { dataDir, env } = await import("@/env");
  const { createDb } = await import("@/db/client");
  const { loadSecretKey } = await import("@/server/credentials/crypto");
  const { prepareDatabase } = await import("@/server/runtime/database");
  const { checkInventoryFile, InventoryValidationError } = await import("@/server/inventory/schema");
  const { readPrivateKeyFiles } = await import("@/server/inventory/key-files");
  const { applyInventory, findMissingCredentials, planInventory } = await import("@/server/inventory/apply");
  const { exportInventory } = await import("@/server/inventory/export");
  const { formatPlan, summarizePlan } = await import("@/server/inventory/format");

  async function withDatabase<T>(fn: (db: ReturnType<typeof createDb>["db"]) => Promise<T>): Promise<T> {
    if (!env.DATABASE_URL)
      console.error(`using the embedded Postgres in ${dataDir} (DATABASE_URL is not set)`);
    const prepared = await prepareDatabase({ dataDir, databaseUrl: env.DATABASE_URL });
    const handle = createDb(prepared.url, { max: 2, applicationName: "switchyard-inventory" });
    try {
      return await fn(handle.db);
    } finally {
      await handle.sql.end();
      await prepared.stop();
    }
  }

  if (args.command === "export") {
    const { file, warnings } = await withDatabase((db) => exportInventory(db));
    for (const w of warnings) console.error(`warning: ${w}`);
    const text = `${JSON.stringify(file, null, 2)}\n`;
    if (args.output) {
      await fs.writeFile(args.output, text);
      console.error(`wrote ${args.output} (${plural(file.clusters.length, "cluster")})`);
    } else process.stdout.write(text);
    return 0;
  }

  const file = args.file as string;
  const raw = await readJson(file);
  const check = checkInventoryFile(raw);
  if (!check.ok) throw invalid(file, check.issues);
  const parsed = check.value;
  const { keys, issues: keyIssues } = await readPrivateKeyFiles(
    parsed.file,
    path.dirname(path.resolve(file)),
  );
  if (keyIssues.length > 0) throw invalid(file, keyIssues);

  if (args.command === "validate") {
    const missing = await (parsed.externalCredentials.size > 0
      ? withDatabase((db) => findMissingCredentials(db, parsed))
      : Promise.resolve([]));
    if (missing.length > 0) throw invalid(file, missing);
    const nodeCount = parsed.file.clusters.reduce((n, c) => n + c.nodes.length, 0);
    const lbCount = parsed.file.clusters.filter((c) => c.loadBalancer).length;
    console.log(
      `${file} is valid: ${plural(parsed.file.clusters.length, "cluster")}, ${plural(nodeCount, "node")}, ` +
        (lbCount > 0 ? `${plural(lbCount, "load balancer")}, ` : "") +
        `${plural(parsed.file.credentials?.length ?? 0, "credential")} defined`,
    );
    return 0;
  }

  // apply
  let secretKey: Buffer | null = null;
  if (!args.dryRun && (parsed.file.credentials?.length ?? 0) > 0) {
    if (args.createKey) await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
    try {
      secretKey = loadSecretKey(dataDir, { create: args.createKey });
    } catch (err) {
      throw new CliExit(
        1,
        `${(err as Error).message}\nThe key seals the SSH private keys in the database; the controller needs the same key. ` +
          "Set SWITCHYARD_SECRET_KEY, or pass --create-key to create the key file.",
      );
    }
  }
  const actor = `inventory-cli:${os.userInfo().username}`;
  try {
    const plan = await withDatabase((db) =>
      args.dryRun
        ? planInventory(db, raw, { prune: args.prune, privateKeys: keys })
        : applyInventory(db, secretKey, raw, {
            prune: args.prune,
            privateKeys: keys,
            actor,
            reason: `inventory apply ${path.basename(file)}${args.prune ? " --prune" : ""}`,
          }),
    );
    for (const line of formatPlan(plan, { prune: args.prune })) console.log(line);
    for (const w of plan.warnings) console.error(`warning: ${w}`);
    console.log(summarizePlan(plan, { dryRun: args.dryRun }));
    return 0;
  } catch (err) {
    if (err instanceof InventoryValidationError) throw invalid(file, err.issues);
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof CliExit) {
      console.error(err.message);
      process.exit(err.exitCode);
    }
    const e = err as { code?: unknown; message?: string };
    // Our typed errors carry messages written for people; anything else gets its message only.
    console.error(`inventory: ${e.message ?? String(err)}`);
    process.exit(1);
  },
);
