/**
 * How the settings pages learn what went wrong. Every failure a settings action can return is one
 * we wrote: a `SettingsError` with a literal code and, for bad input, one issue per field (the form
 * puts each message next to its input). Unique-constraint races map to the field the constraint
 * guards. Anything else is logged on the server and the browser gets a fixed sentence, never driver
 * text, never a stack — and, because every change runs in one transaction, nothing was saved.
 */
import type { z } from "zod";
import type { ActionResult } from "@/server/auth/guard";
import { DecryptionError, SecretKeyError } from "@/server/credentials/crypto";

/** One problem with one form field (`field` is the input's name). Playbook text also has a place. */
export type FieldIssue = { field: string; message: string; line?: number; column?: number };

/** The failure shape of a settings action: ActionResult's, plus every issue for the form. */
export type SettingsFailure = {
  ok: false;
  error: string;
  field?: string;
  status?: number;
  issues?: FieldIssue[];
};

export type SettingsErrorCode = "invalid" | "not_found" | "conflict" | "refused";

const STATUS: Record<SettingsErrorCode, number> = {
  invalid: 422,
  not_found: 404,
  conflict: 409,
  refused: 409,
};

export class SettingsError extends Error {
  override name = "SettingsError";
  constructor(
    readonly code: SettingsErrorCode,
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
  get status(): number {
    return STATUS[this.code];
  }
}

/** Bad input: the first issue's message is the summary unless one is given. */
export function invalidInput(issues: FieldIssue[], summary?: string): SettingsError {
  const first = issues[0];
  const text =
    summary ??
    (issues.length > 1
      ? `${issues.length} fields need fixing; nothing was saved.`
      : (first?.message ?? "Invalid input; nothing was saved."));
  return new SettingsError("invalid", text, issues);
}

/**
 * Zod issues as form issues. `labels` turns the shared inventory schemas' fragments ("must be between
 * 1 and 65535") into sentences a form can show under its input ("SSH port must be between 1 and
 * 65535"); schemas whose messages already name the field (the policy) pass no labels.
 */
export function issuesFromZod(
  error: z.ZodError,
  labels: Readonly<Record<string, string>> = {},
): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    const keys = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...path, k]) : [path];
    for (const p of keys) {
      const field = p.join(".");
      const label = labels[field];
      const message =
        issue.code === "unrecognized_keys"
          ? `${field} is not a field of this form`
          : label
            ? `${label} ${issue.message}`
            : issue.message;
      if (!out.some((o) => o.field === field)) out.push({ field, message });
    }
  }
  return out;
}

/** Parses or throws SettingsError("invalid") with one issue per field. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  labels: Readonly<Record<string, string>> = {},
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidInput(issuesFromZod(parsed.error, labels));
  return parsed.data;
}

export const notFound = (what: string) =>
  new SettingsError("not_found", `${what} does not exist (any more).`);

/** Which field each unique index guards, so a lost race still lands next to the right input. */
const UNIQUE_FIELDS: Record<string, { field: string; message: string }> = {
  clusters_name_uq: { field: "name", message: "A cluster with this name already exists." },
  nodes_name_uq: {
    field: "name",
    message: "A node with this name already exists; node names are unique across all clusters.",
  },
  nodes_endpoint_uq: {
    field: "host",
    message: "Another node already uses this host and service port.",
  },
  load_balancers_name_uq: { field: "name", message: "A load balancer with this name already exists." },
  credentials_name_uq: { field: "name", message: "A credential with this name already exists." },
};

function pgError(err: unknown): { code?: string; constraint?: string } {
  const e = err as { code?: unknown; constraint_name?: unknown; cause?: unknown };
  const cause = (e?.cause ?? e) as { code?: unknown; constraint_name?: unknown };
  return {
    code: typeof cause?.code === "string" ? cause.code : typeof e?.code === "string" ? e.code : undefined,
    constraint: typeof cause?.constraint_name === "string" ? cause.constraint_name : undefined,
  };
}

/** A failure result for `err`: ours verbatim, a unique violation on its field, anything else generic. */
export function toFailure(err: unknown): SettingsFailure {
  if (err instanceof SettingsError) {
    const first = err.issues[0];
    return {
      ok: false,
      error: err.message,
      status: err.status,
      ...(first ? { field: first.field } : {}),
      ...(err.issues.length > 0 ? { issues: err.issues } : {}),
    };
  }
  // Configuration problems with our own wording (no key material in either).
  if (err instanceof SecretKeyError || err instanceof DecryptionError) {
    return { ok: false, error: err.message, status: 503 };
  }
  const pg = pgError(err);
  if (pg.code === "23505") {
    const known = pg.constraint ? UNIQUE_FIELDS[pg.constraint] : undefined;
    if (known) {
      return {
        ok: false,
        error: known.message,
        field: known.field,
        status: 409,
        issues: [{ field: known.field, message: known.message }],
      };
    }
    return {
      ok: false,
      error: "Someone else changed this at the same time; reload and try again.",
      status: 409,
    };
  }
  if (pg.code === "23503") {
    return {
      ok: false,
      error: "Something this refers to was removed meanwhile; reload and try again.",
      status: 409,
    };
  }
  // Never the driver's text: it can quote values. The server log has the details.
  console.error(`[settings] ${(err as Error)?.name ?? "Error"}: ${(err as Error)?.message ?? String(err)}`);
  return { ok: false, error: "The server could not complete this; nothing was saved.", status: 500 };
}

/** Runs a domain call and maps what it throws to an ActionResult. */
export async function settle<T>(fn: () => Promise<T>): Promise<ActionResult<T>> {
  try {
    return { ok: true, data: await fn() };
  } catch (err) {
    return toFailure(err);
  }
}
