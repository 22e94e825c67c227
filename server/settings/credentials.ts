/**
 * Settings → SSH credentials, write-only. An admin pastes a private key; it is parsed (so a bad key
 * is refused before anything is stored), sealed with the secret key (server/credentials/store.ts)
 * and never comes back: the list shows the name, the public half, its fingerprint and dates, and no
 * result, audit row or error message carries the private key or anything derived from its text
 * other than the public key. Rotation replaces the key in place (same id, so nodes keep using it).
 */
import { asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "@/db/client";
import { clusters, credentials, loadBalancers, nodes } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import {
  describePrivateKey,
  loadPrivateKey,
  rotateCredential as resealCredential,
  createCredential as sealCredential,
} from "@/server/credentials/store";
import { inventoryCredentialSchema } from "@/server/inventory/schema";
import { notifyInventoryChanged } from "@/server/notify/events";
import { type FieldIssue, invalidInput, notFound, parseInput } from "./errors";
import type { AuditWho } from "./inventory";

export type CredentialView = {
  id: string;
  name: string;
  publicKey: string | null;
  fingerprint: string | null;
  createdAt: string;
  rotatedAt: string | null;
  /** Node and load balancer names that use it. */
  usedBy: string[];
};

export async function listCredentials(db: DbOrTx): Promise<CredentialView[]> {
  // Only the public columns: the ciphertext never leaves the database through here.
  const rows = await db
    .select({
      id: credentials.id,
      name: credentials.name,
      publicKey: credentials.publicKey,
      fingerprint: credentials.fingerprint,
      createdAt: credentials.createdAt,
      rotatedAt: credentials.rotatedAt,
    })
    .from(credentials)
    .orderBy(asc(credentials.name));
  const users = await db
    .select({ credentialId: nodes.credentialId, name: nodes.name })
    .from(nodes)
    .unionAll(
      db.select({ credentialId: loadBalancers.credentialId, name: loadBalancers.name }).from(loadBalancers),
    );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    publicKey: r.publicKey,
    fingerprint: r.fingerprint,
    createdAt: r.createdAt.toISOString(),
    rotatedAt: r.rotatedAt?.toISOString() ?? null,
    usedBy: users
      .filter((u) => u.credentialId === r.id)
      .map((u) => u.name)
      .sort(),
  }));
}

export const MAX_PRIVATE_KEY_CHARS = 16_384;

const privateKeySchema = z
  .string({ error: "Private key: paste the key text." })
  .min(1, { error: "Private key: paste the key text." })
  .max(MAX_PRIVATE_KEY_CHARS, { error: `Private key must be at most ${MAX_PRIVATE_KEY_CHARS} characters.` });

const createSchema = z.object({
  name: inventoryCredentialSchema.shape.name,
  privateKey: privateKeySchema,
});
const rotateSchema = z.object({
  id: z.uuid({ error: "Not a credential id." }),
  privateKey: privateKeySchema,
});

/** The key's public half, or an issue that quotes nothing of what was pasted. */
function describeOrIssue(
  privateKey: string,
  issues: FieldIssue[],
): { publicKey: string; fingerprint: string } | null {
  try {
    return describePrivateKey(privateKey);
  } catch {
    issues.push({
      field: "privateKey",
      message:
        'Private key is not an unencrypted OpenSSH or PEM private key (e.g. from ssh-keygen -t ed25519 -N ""). Paste the private half, not the .pub file.',
    });
    return null;
  }
}

/** Refuses a secret key other than the one that sealed the stored credentials (apply.ts does the same). */
async function assertSameSecretKey(db: DbOrTx, secretKey: Buffer): Promise<void> {
  const [any] = await db.select({ id: credentials.id }).from(credentials).limit(1);
  if (any) (await loadPrivateKey(db, secretKey, any.id)).fill(0);
}

/** Clusters whose nodes or load balancer use a credential: their controllers reload. */
async function clustersUsing(db: DbOrTx, credentialId: string): Promise<string[]> {
  const rows = await db
    .selectDistinct({ id: clusters.id })
    .from(clusters)
    .leftJoin(nodes, eq(nodes.clusterId, clusters.id))
    .leftJoin(loadBalancers, eq(loadBalancers.id, clusters.loadBalancerId))
    .where(sql`${nodes.credentialId} = ${credentialId} or ${loadBalancers.credentialId} = ${credentialId}`);
  return rows.map((r) => r.id);
}

export async function createCredential(
  db: DbOrTx,
  who: AuditWho,
  secretKey: () => Buffer,
  input: unknown,
): Promise<{ id: string; name: string; fingerprint: string; publicKey: string }> {
  const raw = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>;
  const v = parseInput(
    createSchema,
    { name: typeof raw.name === "string" ? raw.name.trim() : raw.name, privateKey: raw.privateKey },
    { name: "Name" },
  );
  const issues: FieldIssue[] = [];
  const described = describeOrIssue(v.privateKey, issues);
  if (!described) throw invalidInput(issues);
  const key = secretKey();
  return await db.transaction(async (tx) => {
    const [taken] = await tx
      .select({ id: credentials.id })
      .from(credentials)
      .where(eq(credentials.name, v.name));
    if (taken)
      throw invalidInput([
        { field: "name", message: `A credential named ${v.name} already exists; rotate it instead.` },
      ]);
    await assertSameSecretKey(tx, key);
    const row = await sealCredential(tx, key, { name: v.name, privateKey: v.privateKey });
    await appendAudit(tx, {
      ...who,
      action: "credential.create",
      targetType: "credential",
      targetId: row.id,
      after: { name: v.name, fingerprint: described.fingerprint },
    });
    await notifyInventoryChanged(tx, null);
    return { id: row.id, name: v.name, fingerprint: described.fingerprint, publicKey: described.publicKey };
  });
}

export async function rotateCredential(
  db: DbOrTx,
  who: AuditWho,
  secretKey: () => Buffer,
  input: unknown,
): Promise<{ id: string; name: string; fingerprint: string; publicKey: string }> {
  const v = parseInput(rotateSchema, input);
  const issues: FieldIssue[] = [];
  const described = describeOrIssue(v.privateKey, issues);
  if (!described) throw invalidInput(issues);
  const key = secretKey();
  return await db.transaction(async (tx) => {
    const [row] = await tx
      .select({ id: credentials.id, name: credentials.name, fingerprint: credentials.fingerprint })
      .from(credentials)
      .where(eq(credentials.id, v.id))
      .for("update");
    if (!row) throw notFound("This credential");
    if (row.fingerprint === described.fingerprint) {
      throw invalidInput([
        {
          field: "privateKey",
          message: `This is the key ${row.name} already holds (${described.fingerprint}); paste the new key.`,
        },
      ]);
    }
    await assertSameSecretKey(tx, key);
    await resealCredential(tx, key, { id: row.id, name: row.name, privateKey: v.privateKey });
    await appendAudit(tx, {
      ...who,
      action: "credential.rotate",
      targetType: "credential",
      targetId: row.id,
      before: { name: row.name, fingerprint: row.fingerprint },
      after: { name: row.name, fingerprint: described.fingerprint },
    });
    const affected = await clustersUsing(tx, row.id);
    if (affected.length === 0) await notifyInventoryChanged(tx, null);
    for (const clusterId of affected) await notifyInventoryChanged(tx, clusterId);
    return { id: row.id, name: row.name, fingerprint: described.fingerprint, publicKey: described.publicKey };
  });
}
