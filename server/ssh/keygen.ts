/**
 * Ed25519 key generation that never hands out a broken key.
 *
 * ssh2's `utils.generateKeyPairSync('ed25519')` strips leading zero bytes from the public key, so
 * about 1 key in 256 has a 31-byte public key that ssh2 itself (and OpenSSH) then rejects
 * (mscdex/ssh2#1390, #1513, open in 1.17). We keep using it for the OpenSSH encoding but only
 * return a pair whose private and public halves both parse back to a 32-byte key.
 */
import ssh2 from "ssh2";

/** Wire-format ed25519 public key: string "ssh-ed25519" (4 + 11) + string key (4 + 32). */
const ED25519_BLOB_LENGTH = 51;

export type SshKeyPair = {
  /** OpenSSH private key text; keep it in memory or a 0600 file, never in argv or logs. */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string;
};

export function generateEd25519KeyPair(comment = ""): SshKeyPair {
  for (let attempt = 0; attempt < 32; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519", { comment });
    if (isWellFormed(pair.private) && isWellFormed(pair.public)) {
      return { privateKey: pair.private, publicKey: pair.public.trim() };
    }
  }
  throw new Error("could not generate a well-formed ed25519 key pair");
}

function isWellFormed(text: string): boolean {
  const parsed = ssh2.utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return !!key && !(key instanceof Error) && key.getPublicSSH().length === ED25519_BLOB_LENGTH;
}
