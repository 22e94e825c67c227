/**
 * "Test connection" for a node or a load balancer: the one place where trust-on-first-use is
 * allowed, because an operator asked for it and sees the result (server/ssh/client.ts).
 *
 * Two short SSH handshakes through the product's SSH module, both under one deadline:
 * 1. A handshake that stops at the host key (nothing pinned, no trust-on-first-use): the module
 *    refuses with HostKeyNotPinnedError before authenticating, which tells us the presented key
 *    without offering any credential. So a wrong credential still shows the host's fingerprint.
 * 2. The real connection: the pinned key enforced (a mismatch is HostKeyMismatchError, again before
 *    authentication), or, with nothing pinned, trust-on-first-use for this test only; then one
 *    trivial command, proving a session opens.
 * Nothing is written: pinning the key is a separate, audited action ("Trust this key").
 * Errors are the SSH module's typed ones, whose messages we wrote (host, port, user, reason) and
 * which never carry key material.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "@/db/client";
import { credentials, loadBalancers, nodes } from "@/db/schema";
import { loadPrivateKey } from "@/server/credentials/store";
import {
  connectSsh,
  exec,
  HostKeyMismatchError,
  HostKeyNotPinnedError,
  isSshError,
  type SshConnection,
} from "@/server/ssh";
import { invalidInput, notFound, parseInput } from "./errors";
import { SSH_TARGET_KINDS, type SshTargetKind } from "./inventory";

export type ConnectionTestResult = {
  kind: SshTargetKind;
  id: string;
  name: string;
  host: string;
  port: number;
  user: string;
  credential: string;
  /** What the host presented; null when it could not be reached. */
  presentedFingerprint: string | null;
  pinnedFingerprint: string | null;
  /** matches: presented = pinned; not_pinned: nothing pinned yet; mismatch: a different key; unknown: never got that far. */
  hostKey: "matches" | "not_pinned" | "mismatch" | "unknown";
  authenticated: boolean;
  /** Connected, authenticated and ran a command, with a key that is pinned and matches. */
  ok: boolean;
  error: { code: string; message: string } | null;
  durationMs: number;
};

export const TEST_CONNECTION_TIMEOUT_MS = 8_000;

const inputSchema = z.object({
  kind: z.enum(SSH_TARGET_KINDS, { error: "Pick a node or a load balancer." }),
  id: z.uuid({ error: "Not a valid id." }),
  /** Test with another credential than the stored one (e.g. before switching to it). */
  credentialId: z.uuid({ error: "Pick a credential." }).nullish(),
});

type Target = {
  name: string;
  host: string;
  port: number;
  user: string;
  credentialId: string | null;
  pinned: string | null;
};

async function loadTarget(db: DbOrTx, kind: SshTargetKind, id: string): Promise<Target> {
  if (kind === "node") {
    const [n] = await db.select().from(nodes).where(eq(nodes.id, id));
    if (!n) throw notFound("This node");
    return {
      name: n.name,
      host: n.host,
      port: n.sshPort,
      user: n.sshUser,
      credentialId: n.credentialId,
      pinned: n.hostKeyFingerprint,
    };
  }
  const [l] = await db.select().from(loadBalancers).where(eq(loadBalancers.id, id));
  if (!l) throw notFound("This load balancer");
  return {
    name: l.name,
    host: l.host,
    port: l.sshPort,
    user: l.sshUser,
    credentialId: l.credentialId,
    pinned: l.hostKeyFingerprint,
  };
}

function describeError(err: unknown, timeoutMs: number, node: string): { code: string; message: string } {
  if (isSshError(err)) {
    if (err.code === "SSH_ABORTED") {
      return { code: "SSH_TIMEOUT", message: `No answer from ${node} within ${timeoutMs} ms; gave up.` };
    }
    return { code: err.code, message: err.message };
  }
  // Not ours (should not happen): a fixed sentence, never library text.
  return { code: "SSH_FAILED", message: `The SSH test to ${node} failed unexpectedly.` };
}

export async function testConnection(
  db: DbOrTx,
  secretKey: () => Buffer,
  input: unknown,
  opts: { timeoutMs?: number } = {},
): Promise<ConnectionTestResult> {
  const v = parseInput(inputSchema, input);
  const timeoutMs = opts.timeoutMs ?? TEST_CONNECTION_TIMEOUT_MS;
  const target = await loadTarget(db, v.kind, v.id);
  const credentialId = v.credentialId ?? target.credentialId;
  if (!credentialId) {
    throw invalidInput([
      { field: "credentialId", message: `${target.name} has no credential: pick one to test with.` },
    ]);
  }
  const [cred] = await db
    .select({ name: credentials.name })
    .from(credentials)
    .where(eq(credentials.id, credentialId));
  if (!cred) throw notFound("This credential");
  const privateKey = await loadPrivateKey(db, secretKey(), credentialId);

  const started = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  const readyTimeoutMs = Math.min(5_000, timeoutMs);
  const base = {
    kind: v.kind,
    id: v.id,
    name: target.name,
    host: target.host,
    port: target.port,
    user: target.user,
    credential: cred.name,
    pinnedFingerprint: target.pinned,
  };
  const common = {
    host: target.host,
    port: target.port,
    username: target.user,
    privateKey,
    readyTimeoutMs,
    keepaliveIntervalMs: 0,
    maxChannels: 1,
    signal,
    node: target.name,
  };
  const finish = (
    fields: Omit<ConnectionTestResult, keyof typeof base | "durationMs">,
  ): ConnectionTestResult => {
    privateKey.fill(0);
    return { ...base, ...fields, durationMs: Math.round(performance.now() - started) };
  };

  // 1. Which key does the host present? Stops before authentication.
  let presented: string | null = null;
  try {
    const conn = await connectSsh({ ...common, hostKeyFingerprint: null, trustOnFirstUse: false });
    presented = conn.hostKeyFingerprint;
    await conn.close();
  } catch (err) {
    if (err instanceof HostKeyNotPinnedError) presented = err.actual;
    else {
      return finish({
        presentedFingerprint: null,
        hostKey: "unknown",
        authenticated: false,
        ok: false,
        error: describeError(err, timeoutMs, target.name),
      });
    }
  }
  const hostKeyFor = (fp: string | null): ConnectionTestResult["hostKey"] =>
    fp === null
      ? "unknown"
      : target.pinned === null
        ? "not_pinned"
        : fp === target.pinned
          ? "matches"
          : "mismatch";

  // 2. The real connection: the pinned key enforced, or trust-on-first-use for this test only.
  let conn: SshConnection | null = null;
  try {
    conn = await connectSsh({ ...common, hostKeyFingerprint: target.pinned, trustOnFirstUse: true });
    presented = conn.hostKeyFingerprint || presented;
    await exec(conn, "true", { timeoutMs: Math.min(5_000, timeoutMs), signal, maxOutputBytes: 4096 });
    return finish({
      presentedFingerprint: presented,
      hostKey: hostKeyFor(presented),
      authenticated: true,
      ok: target.pinned !== null && presented === target.pinned,
      error: null,
    });
  } catch (err) {
    if (err instanceof HostKeyMismatchError) presented = err.actual;
    return finish({
      presentedFingerprint: presented,
      hostKey: hostKeyFor(presented),
      authenticated: conn !== null,
      ok: false,
      error: describeError(err, timeoutMs, target.name),
    });
  } finally {
    await conn?.close().catch(() => {});
  }
}
