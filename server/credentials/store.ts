// Credential rows: write-only from the outside. `createCredential` seals the private key;
// `loadPrivateKey` is the only way back to plaintext, for the SSH module, in memory only.
import { eq } from "drizzle-orm";
import ssh2 from "ssh2";
import type { Db, DbOrTx } from "@/db/client";
import { credentials } from "@/db/schema";
import { appendAudit } from "@/server/audit/append";
import { fingerprintSshPublicKey } from "@/server/ssh/fingerprint";
import { open, seal } from "./crypto";

export class InvalidPrivateKeyError extends Error {
  readonly code = "invalid_private_key" as const;
  constructor() {
    super("the private key could not be parsed (expected an unencrypted OpenSSH or PEM private key)");
  }
}

const aadFor = (name: string) => `credential:${name}`;

/** Parses the key (so a bad key is refused before anything is stored) and returns its public half. */
export function describePrivateKey(privateKey: string): { publicKey: string; fingerprint: string } {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey())
    throw new InvalidPrivateKeyError();
  const blob = parsed.getPublicSSH();
  return {
    publicKey: `${parsed.type} ${blob.toString("base64")}`,
    fingerprint: fingerprintSshPublicKey(blob),
  };
}

export async function createCredential(
  db: DbOrTx,
  key: Buffer,
  input: { name: string; privateKey: string },
): Promise<{ id: string; fingerprint: string }> {
  const { publicKey, fingerprint } = describePrivateKey(input.privateKey);
  const sealed = seal(key, Buffer.from(input.privateKey), aadFor(input.name));
  const [row] = await db
    .insert(credentials)
    .values({ name: input.name, ...sealed, publicKey, fingerprint })
    .returning({ id: credentials.id });
  if (!row) throw new Error("credential insert returned no row");
  return { id: row.id, fingerprint };
}

/** Replaces a credential's private key in place (rotation): same id, so nodes keep their reference. */
export async function rotateCredential(
  db: DbOrTx,
  key: Buffer,
  input: { id: string; name: string; privateKey: string },
): Promise<{ publicKey: string; fingerprint: string }> {
  const described = describePrivateKey(input.privateKey);
  const sealed = seal(key, Buffer.from(input.privateKey), aadFor(input.name));
  await db
    .update(credentials)
    .set({
      ...sealed,
      publicKey: described.publicKey,
      fingerprint: described.fingerprint,
      rotatedAt: new Date(),
    })
    .where(eq(credentials.id, input.id));
  return described;
}

export async function loadPrivateKey(db: DbOrTx, key: Buffer, id: string): Promise<Buffer> {
  const row = await db.query.credentials.findFirst({ where: eq(credentials.id, id) });
  if (!row) throw new Error(`credential ${id} not found`);
  return open(key, row, aadFor(row.name));
}

/**
 * Re-encrypts every credential under a new secret key (key rotation), in one transaction: either
 * every row opens with the new key afterwards or nothing changed. Rows are decrypted in memory only.
 * Returns how many rows were re-sealed. Audited by the caller's transaction if it wants to.
 */
export async function reencryptCredentials(db: Db, oldKey: Buffer, newKey: Buffer): Promise<number> {
  if (oldKey.equals(newKey)) throw new Error("the new key is the same as the old one");
  return await db.transaction(async (tx) => {
    const rows = await tx.select().from(credentials).for("update");
    for (const row of rows) {
      const plaintext = open(oldKey, row, aadFor(row.name));
      const sealed = seal(newKey, plaintext, aadFor(row.name), row.keyVersion + 1);
      plaintext.fill(0);
      await tx
        .update(credentials)
        .set({
          ciphertext: sealed.ciphertext,
          nonce: sealed.nonce,
          authTag: sealed.authTag,
          keyVersion: sealed.keyVersion,
        })
        .where(eq(credentials.id, row.id));
    }
    await appendAudit(tx, {
      actorLabel: "cli",
      actorRole: "system",
      action: "credential.reencrypt",
      targetType: "credential",
      after: { credentials: rows.length },
    });
    return rows.length;
  });
}
