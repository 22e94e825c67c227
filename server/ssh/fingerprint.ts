/**
 * Host-key fingerprints in the one format operators already know: OpenSSH's `SHA256:<base64>`
 * (what `ssh-keygen -lf` and the "authenticity of host" prompt print). Pinned fingerprints are
 * stored and compared in this form, so a value copied from a terminal can be pasted into a form.
 */
import { createHash } from "node:crypto";
// ssh2 is CommonJS and Node cannot see `utils` as a named ESM export.
import ssh2 from "ssh2";
import { SshConfigError } from "./errors";

const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** `SHA256:` + unpadded base64 of the SHA-256 of the SSH wire-format public key blob. */
export function fingerprintSshPublicKey(keyBlob: Buffer): string {
  const digest = createHash("sha256").update(keyBlob).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

export function isSshFingerprint(value: string): boolean {
  return FINGERPRINT_RE.test(value);
}

/**
 * Accepts what people paste (surrounding whitespace, base64 padding) and returns the canonical
 * form, or throws SshConfigError: a typo must not silently become "pin nothing".
 */
export function normalizeSshFingerprint(value: string): string {
  const trimmed = value.trim().replace(/=+$/, "");
  if (!isSshFingerprint(trimmed)) {
    throw new SshConfigError(
      "Host key fingerprint must look like SHA256:<43 base64 characters> (as printed by ssh-keygen -lf)",
    );
  }
  return trimmed;
}

/** Fingerprint of an OpenSSH public key line (`ssh-ed25519 AAAA... comment`), e.g. a host's .pub file. */
export function fingerprintOpenSshPublicKey(line: string): string {
  const parsed = ssh2.utils.parseKey(line.trim());
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw new SshConfigError("Not an OpenSSH public key line");
  }
  return fingerprintSshPublicKey(key.getPublicSSH());
}
