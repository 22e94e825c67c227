// Playbooks are versioned data, not code: a new version is a new row, so a switchover's report
// can name exactly which steps it ran. Steps are validated (known variables only) before insert.
import {
  boolean,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { users } from "./auth";

export const playbookKind = pgEnum("playbook_kind", [
  "preflight",
  "degrade",
  "switch_traffic",
  "activate",
  "verify",
  "rollback",
  "drain",
  "readmit",
]);

export type PlaybookStepSpec = {
  name: string;
  target: "old_primary" | "new_primary" | "lb" | "member";
  command: string;
  timeoutMs: number;
  expect: { exitCode: number; outputMatches?: string };
  onFailure: "abort" | "continue" | "rollback";
};

export const playbooks = pgTable(
  "playbooks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    kind: playbookKind("kind").notNull(),
    version: integer("version").notNull(),
    steps: jsonb("steps").$type<PlaybookStepSpec[]>().notNull(),
    builtIn: boolean("built_in").notNull().default(false),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("playbooks_name_version_uq").on(t.name, t.version)],
);
