// Secrets at rest: AES-256-GCM under a 32-byte key from the environment
// (SWITCHYARD_SECRET_KEY, base64) or, for the demo, a key file generated once with mode 0600 in
// the data directory. Plaintext keys exist only in memory; nothing here logs or returns them.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export type Sealed = { ciphertext: Buffer; nonce: Buffer; authTag: Buffer; keyVersion: number };

export class SecretKeyError extends Error {
  readonly code = "secret_key_invalid" as const;
}
export class DecryptionError extends Error {
  readonly code = "secret_decryption_failed" as const;
  constructor() {
    super(
      "a stored credential could not be decrypted with the configured key (wrong SWITCHYARD_SECRET_KEY?)",
    );
  }
}

export function parseKey(b64: string, source: string): Buffer {
  const key = Buffer.from(b64.trim(), "base64");
  if (key.length !== 32)
    throw new SecretKeyError(`${source} must be 32 bytes, base64-encoded (got ${key.length} bytes)`);
  return key;
}

/** Loads the key from SWITCHYARD_SECRET_KEY, else `<dataDir>/secret.key`, creating that file
 * (0600) when `create` is true (the demo); otherwise a missing key is an error. */
export function loadSecretKey(dataDir: string, opts: { create?: boolean } = {}): Buffer {
  const fromEnv = process.env.SWITCHYARD_SECRET_KEY;
  if (fromEnv) return parseKey(fromEnv, "SWITCHYARD_SECRET_KEY");
  const file = path.join(dataDir, "secret.key");
  if (existsSync(file)) return parseKey(readFileSync(file, "utf8"), file);
  if (!opts.create) {
    throw new SecretKeyError(
      `no encryption key: set SWITCHYARD_SECRET_KEY (32 random bytes, base64) or create ${file}`,
    );
  }
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  return key;
}

export function seal(key: Buffer, plaintext: Buffer, aad: string, keyVersion = 1): Sealed {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, nonce, authTag: cipher.getAuthTag(), keyVersion };
}

/** `aad` binds the ciphertext to its row (e.g. the credential name), so rows cannot be swapped. */
export function open(key: Buffer, sealed: Omit<Sealed, "keyVersion">, aad: string): Buffer {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.nonce);
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(sealed.authTag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    throw new DecryptionError();
  }
}
