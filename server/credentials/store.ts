// Credential rows: write-only from the outside. `createCredential` seals the private key;
// `loadPrivateKey` is the only way back to plaintext, for the SSH module, in memory only.
import { eq } from "drizzle-orm";
import ssh2 from "ssh2";
import type { DbOrTx } from "@/db/client";
import { credentials } from "@/db/schema";
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
