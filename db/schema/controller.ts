// Controller leadership: one lease row per name. Acquiring an expired lease bumps the epoch, so
// every side effect can be fenced by "is my epoch still the newest?" — unlike session advisory
// locks, this survives poolers and carries a fencing token.
import { bigint, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const controllerLease = pgTable("controller_lease", {
  name: text("name").primaryKey(),
  holderId: text("holder_id").notNull(),
  epoch: bigint("epoch", { mode: "number" }).notNull(),
  acquiredAt: timestamp("acquired_at", { withTimezone: true }).notNull().defaultNow(),
  renewedAt: timestamp("renewed_at", { withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
});
