// SSH credentials. The private key is stored only as AES-256-GCM ciphertext (nonce + tag kept
// beside it); the public half and its fingerprint are not secret and are shown to operators.
import {
  customType,
  integer,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

export const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => "bytea",
});

export const credentialKind = pgEnum("credential_kind", ["ssh_private_key"]);

export const credentials = pgTable(
  "credentials",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    kind: credentialKind("kind").notNull().default("ssh_private_key"),
    ciphertext: bytea("ciphertext").notNull(),
    nonce: bytea("nonce").notNull(),
    authTag: bytea("auth_tag").notNull(),
    /** Which encryption key sealed this row, so rotation can re-encrypt old rows. */
    keyVersion: integer("key_version").notNull().default(1),
    publicKey: text("public_key"),
    fingerprint: text("fingerprint"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    rotatedAt: timestamp("rotated_at", { withTimezone: true }),
  },
  (t) => [uniqueIndex("credentials_name_uq").on(t.name)],
);
