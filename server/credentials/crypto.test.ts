import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DecryptionError, open, seal } from "./crypto";

describe("credential sealing", () => {
  const key = randomBytes(32);
  const secret = Buffer.from("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n");

  it("round-trips and never stores the plaintext", () => {
    const sealed = seal(key, secret, "cred:a");
    expect(sealed.ciphertext.includes(secret)).toBe(false);
    expect(open(key, sealed, "cred:a").equals(secret)).toBe(true);
  });

  it.each([
    ["wrong key", () => open(randomBytes(32), seal(key, secret, "cred:a"), "cred:a")],
    ["another row's context", () => open(key, seal(key, secret, "cred:a"), "cred:b")],
    [
      "a flipped ciphertext bit",
      () => {
        const s = seal(key, secret, "cred:a");
        s.ciphertext[0] = (s.ciphertext[0] ?? 0) ^ 1;
        return open(key, s, "cred:a");
      },
    ],
  ])("refuses %s", (_name, fn) => {
    expect(fn).toThrow(DecryptionError);
  });
});
