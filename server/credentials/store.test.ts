import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { auditLog, credentials } from "@/db/schema";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { createScratchDatabase } from "@/test/db";
import { DecryptionError } from "./crypto";
import { createCredential, loadPrivateKey, reencryptCredentials } from "./store";

describe("credential key rotation", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let h: ReturnType<typeof createDb>;
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    h = createDb(scratch.url, { max: 2 });
  });
  afterAll(async () => {
    await h?.sql.end();
    await scratch?.drop();
  });

  it("re-encrypts every credential under the new key; the old key no longer opens them", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const keys = [generateEd25519KeyPair("a"), generateEd25519KeyPair("b")];
    const ids: string[] = [];
    for (const [i, k] of keys.entries()) {
      ids.push((await createCredential(h.db, oldKey, { name: `cred-${i}`, privateKey: k.privateKey })).id);
    }
    const before = await h.db.select().from(credentials);
    expect(await reencryptCredentials(h.db, oldKey, newKey)).toBe(2);
    for (const [i, id] of ids.entries()) {
      expect((await loadPrivateKey(h.db, newKey, id)).toString()).toBe(keys[i]?.privateKey);
      await expect(loadPrivateKey(h.db, oldKey, id)).rejects.toBeInstanceOf(DecryptionError);
    }
    const after = await h.db.select().from(credentials);
    for (const row of after) {
      const was = before.find((b) => b.id === row.id);
      expect(row.keyVersion).toBe((was?.keyVersion ?? 0) + 1);
      expect(row.ciphertext.equals(was?.ciphertext ?? Buffer.alloc(0))).toBe(false);
      expect(row.nonce.equals(was?.nonce ?? Buffer.alloc(0))).toBe(false);
    }
    const audit = await h.db.select().from(auditLog).where(eq(auditLog.action, "credential.reencrypt"));
    expect(audit).toHaveLength(1);
  });

  it("with the wrong current key, fails and changes nothing", async () => {
    const before = await h.db.select().from(credentials);
    await expect(reencryptCredentials(h.db, randomBytes(32), randomBytes(32))).rejects.toBeInstanceOf(
      DecryptionError,
    );
    expect(await h.db.select().from(credentials)).toEqual(before);
  });
});
