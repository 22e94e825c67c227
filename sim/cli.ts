/**
 * Command line for the simulated fleet.
 *
 *   tsx sim/cli.ts fleet --nodes N [--data-dir D] [--control-port P] [--authorized-keys FILE]
 *                        [--http-port 8000] [--ssh-port 2222]
 *   tsx sim/cli.ts fault <node> <fault> [--ms N] [--clear] [--control URL]
 *   tsx sim/cli.ts nodes [--control URL]
 *
 * `fleet` runs until SIGINT/SIGTERM. Without --authorized-keys it creates (once) a client key at
 * <data-dir>/client_ed25519 and authorizes it, so `ssh -i` works out of the box; the private key is
 * only ever referenced by path.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_SIM_DATA_DIR, genericFleetSpecs, startFleet } from "./fleet";
import { SIM_FAULTS } from "./node";
import { loadOrCreateClientKey } from "./ssh-server";

const DEFAULT_CONTROL_URL = process.env.SWITCHYARD_SIM_CONTROL_URL ?? "http://127.0.0.1:7070";
const USAGE = `usage:
  tsx sim/cli.ts fleet --nodes N [--data-dir DIR] [--control-port P] [--authorized-keys FILE] [--http-port P] [--ssh-port P]
  tsx sim/cli.ts fault <node> <${[...SIM_FAULTS, "recover"].join("|")}> [--ms N] [--clear] [--control URL]
  tsx sim/cli.ts nodes [--control URL]`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "fleet":
      return await runFleet(rest);
    case "fault":
      return await runFault(rest);
    case "nodes":
      return await runNodes(rest);
    case undefined:
    case "-h":
    case "--help":
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

function intOption(
  value: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer in ${min}..${max}`);
  return n;
}

async function runFleet(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: "string" },
      "data-dir": { type: "string" },
      "control-port": { type: "string" },
      "authorized-keys": { type: "string" },
      "http-port": { type: "string" },
      "ssh-port": { type: "string" },
    },
    strict: true,
  });
  const count = intOption(values.nodes, "nodes", 2, 1, 5_000);
  const dataDir = path.resolve(values["data-dir"] ?? DEFAULT_SIM_DATA_DIR);
  const controlPort = intOption(values["control-port"], "control-port", 7070, 0, 65_535);
  const httpPort = intOption(values["http-port"], "http-port", 8000, 0, 65_535);
  const sshPort = intOption(values["ssh-port"], "ssh-port", 2222, 0, 65_535);

  let authorizedKeys: string;
  let clientKeyPath: string | null = null;
  if (values["authorized-keys"]) {
    authorizedKeys = readFileSync(values["authorized-keys"], "utf8");
  } else {
    const clientKey = loadOrCreateClientKey(path.join(dataDir, "client_ed25519"));
    authorizedKeys = clientKey.publicKeyLine;
    clientKeyPath = clientKey.privateKeyPath;
  }

  const started = performance.now();
  const fleet = await startFleet({
    nodes: genericFleetSpecs(count),
    dataDir,
    httpPort,
    sshPort,
    authorizedKeys,
    controlPort,
  });
  const elapsed = Math.round(performance.now() - started);

  printTable(
    ["NAME", "CLUSTER", "ROLE", "HTTP", "SSH", "HOST KEY"],
    fleet.nodes.map((n) => [
      n.name,
      n.cluster,
      n.role,
      `http://${n.host}:${n.httpPort}`,
      `${n.host}:${n.sshPort}`,
      n.hostKeyFingerprint,
    ]),
  );
  console.log("");
  console.log(`${fleet.nodes.length} simulated nodes up in ${elapsed} ms; data in ${dataDir}`);
  console.log(`control:   ${fleet.controlUrl ?? "(disabled)"}`);
  console.log(`role log:  ${path.join(dataDir, "role-log.jsonl")}`);
  if (clientKeyPath) {
    const first = fleet.nodes[0];
    console.log(`client key (authorized on every node): ${clientKeyPath}`);
    if (first) {
      console.log(
        `try: ssh -i ${clientKeyPath} -p ${first.sshPort} -o UserKnownHostsFile=${path.join(dataDir, "known_hosts")} ` +
          `switchyard@${first.host} nvidia-smi`,
      );
    }
  }
  console.log("Ctrl-C to stop.");

  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        console.error(`\n${signal} again: exiting without cleanup`);
        process.exit(1);
      }
      stopping = true;
      console.log(`\n${signal}: stopping the fleet...`);
      fleet.stop().then(resolve, (err: unknown) => {
        console.error(`error while stopping: ${(err as Error).message}`);
        resolve();
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  console.log("stopped.");
  return 0;
}

async function callControl(controlUrl: string, pathname: string, init: RequestInit = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(pathname, controlUrl), { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new Error(
      `cannot reach the fleet control endpoint at ${controlUrl} (${reason}). ` +
        "Is a fleet running? Start one with: tsx sim/cli.ts fleet --nodes 4",
    );
  }
  const body = (await res.json().catch(() => null)) as { error?: string; message?: string } | null;
  if (!res.ok) {
    const detail = body?.message ?? body?.error ?? res.statusText;
    throw new Error(`control endpoint answered ${res.status}: ${detail}`);
  }
  return body;
}

async function runFault(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ms: { type: "string" }, control: { type: "string" }, clear: { type: "boolean" } },
    allowPositionals: true,
    strict: true,
  });
  const [node, fault] = positionals;
  if (!node || !fault || positionals.length > 2) throw new UsageError("fault needs <node> <fault>");
  const known: readonly string[] = [...SIM_FAULTS, "recover"];
  if (!known.includes(fault))
    throw new UsageError(`unknown fault ${JSON.stringify(fault)}; one of ${known.join(", ")}`);
  if (values.ms !== undefined && fault !== "slow")
    throw new UsageError("--ms only applies to the slow fault");
  const controlUrl = values.control ?? DEFAULT_CONTROL_URL;
  const nodePath = `/nodes/${encodeURIComponent(node)}/faults`;

  const result = values.clear
    ? await callControl(controlUrl, `${nodePath}/${encodeURIComponent(fault)}`, { method: "DELETE" })
    : await callControl(controlUrl, nodePath, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          fault,
          ...(values.ms === undefined ? {} : { ms: intOption(values.ms, "ms", 0, 1, 600_000) }),
        }),
      });
  const snapshot = (
    result as { node: { name: string; role: string; epoch: number; faults: string[]; healthy: boolean } }
  ).node;
  console.log(
    `${snapshot.name}: role=${snapshot.role} epoch=${snapshot.epoch} healthy=${snapshot.healthy} ` +
      `faults=[${snapshot.faults.join(", ")}]`,
  );
  return 0;
}

async function runNodes(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { control: { type: "string" } }, strict: true });
  const body = (await callControl(values.control ?? DEFAULT_CONTROL_URL, "/nodes")) as {
    nodes: Array<{
      name: string;
      cluster: string;
      role: string;
      epoch: number;
      http: string;
      ssh: string;
      faults: string[];
    }>;
  };
  printTable(
    ["NAME", "CLUSTER", "ROLE", "EPOCH", "HTTP", "SSH", "FAULTS"],
    body.nodes.map((n) => [
      n.name,
      n.cluster,
      n.role,
      String(n.epoch),
      n.http,
      n.ssh,
      n.faults.join(",") || "-",
    ]),
  );
  return 0;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`${(err as Error).message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    console.error(`error: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
