/**
 * A simulated load-balancer host: an SSH endpoint (the simulator's ssh2 server, pinned host key,
 * public-key auth) whose commands run on this machine, where a real nginx runs. Switchyard reaches
 * it exactly as it reaches a real LB host: over SSH, running the switch_traffic playbook, which
 * rewrites the upstream include file and reloads nginx.
 */
import path from "node:path";
import { type AuthorizedKey, loadOrCreateHostKey, parseAuthorizedKeys, SimSshServer } from "./ssh-server";

export type SimLbHost = {
  name: string;
  host: string;
  readonly port: number;
  hostKeyFingerprint: string;
  stop(): Promise<void>;
};

export async function startSimLbHost(opts: {
  name: string;
  host: string;
  /** 0 = a free port. */
  port: number;
  dataDir: string;
  authorizedKeys: string | readonly AuthorizedKey[];
  /** Working directory for commands (default: <dataDir>/lb/<name>). */
  cwd?: string;
}): Promise<SimLbHost> {
  const keys =
    typeof opts.authorizedKeys === "string" ? parseAuthorizedKeys(opts.authorizedKeys) : opts.authorizedKeys;
  const hostKey = loadOrCreateHostKey(path.resolve(opts.dataDir, "hostkeys"), opts.name);
  const cwd = opts.cwd ?? path.resolve(opts.dataDir);
  const server = new SimSshServer({
    name: opts.name,
    host: opts.host,
    port: opts.port,
    hostKey,
    authorizedKeys: () => keys,
    cwd,
    commandEnv: () => ({
      // nginx lives in /usr/sbin on Debian.
      PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: cwd,
      LANG: "C.UTF-8",
    }),
  });
  await server.start();
  return {
    name: opts.name,
    host: opts.host,
    get port() {
      return server.port;
    },
    hostKeyFingerprint: hostKey.fingerprint,
    stop: () => server.stop(),
  };
}
