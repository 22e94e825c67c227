/**
 * Playbooks: versioned, validated data that say which commands a switchover runs, step by step.
 *
 * A playbook document is JSON an admin edits (`{ name, kind, description?, steps }`). It is checked
 * twice over before a row is written: its shape (zod, strict objects, ranges), then its meaning —
 * each step's target must make sense for the playbook's kind (a `switch_traffic` playbook runs on
 * the load balancer only), and each command must be a template that references only variables that
 * target has (`checkTemplate`, server/switchover/template.ts). Nothing else reaches a shell.
 *
 * Errors carry the line and column in the text the admin typed: `parsePlaybookText` parses the JSON
 * itself (a small RFC 8259 parser that records where every value and key starts), so a schema issue
 * on `steps[3].timeoutMs` points at that number, and an unknown `{{variable}}` points inside the
 * command string at the placeholder.
 *
 * Versions are rows: saving never updates, it inserts `max(version) + 1` for the name, so a
 * switchover's journal can name exactly the steps it ran. The controller runs, per kind, the latest
 * version of the playbook named `default-<kind>` (`activePlaybookName`); the built-in version 1 of each comes from
 * `DEFAULT_PLAYBOOKS`.
 */
import { desc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "@/db/client";
import { type PlaybookStepSpec, playbookKind, playbooks } from "@/db/schema/playbooks";
import { DEFAULT_PLAYBOOKS } from "./default-playbooks";
import { checkTemplate, type StepTarget, TemplateError } from "./template";

// ---------------------------------------------------------------------------------------------
// Vocabulary

export const PLAYBOOK_KINDS = playbookKind.enumValues;
export type PlaybookKind = (typeof PLAYBOOK_KINDS)[number];

export const STEP_TARGETS = [
  "old_primary",
  "new_primary",
  "lb",
  "member",
] as const satisfies readonly StepTarget[];
export const ON_FAILURE = ["abort", "continue", "rollback"] as const;

/**
 * Where a step of each kind may run. Degrade fences the outgoing primary (or, in a pool, a member);
 * traffic moves only on the load balancer; activation happens on the incoming primary. Rollback swaps
 * roles (`new_primary` is the node being restored), so it needs every target of a switchover.
 */
export const ALLOWED_TARGETS: Readonly<Record<PlaybookKind, readonly StepTarget[]>> = {
  preflight: ["old_primary", "new_primary", "lb"],
  degrade: ["old_primary", "member"],
  switch_traffic: ["lb"],
  activate: ["new_primary"],
  verify: ["new_primary", "lb"],
  rollback: ["old_primary", "new_primary", "lb"],
  drain: ["lb", "member"],
  readmit: ["lb", "member"],
};

export const PLAYBOOK_NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const MAX_STEPS = 50;
export const MAX_COMMAND_LENGTH = 16 * 1024;
export const MAX_PATTERN_LENGTH = 500;
/** Playbook text larger than this is refused before parsing. */
export const MAX_PLAYBOOK_TEXT_BYTES = 1024 * 1024;
const MAX_JSON_DEPTH = 32;

/**
 * The name whose latest version the controller runs for `kind`: `default-<kind>`, with `_` written
 * as `-` because playbook names follow the same rule as every other name (`default-switch-traffic`).
 */
export function activePlaybookName(kind: PlaybookKind): string {
  return `default-${kind.replaceAll("_", "-")}`;
}

/** The kind whose active playbook `name` is, if it is one of the `default-<kind>` names. */
function kindReservingName(name: string): PlaybookKind | null {
  return PLAYBOOK_KINDS.find((k) => activePlaybookName(k) === name) ?? null;
}

/**
 * How a step's `expect.outputMatches` is applied to its output: a JS regular expression, multi-line
 * (`^`/`$` match at line ends), searched anywhere in the output. The executor should use this so
 * what validation accepted is exactly what runs.
 */
export function outputMatcher(source: string): RegExp {
  return new RegExp(source, "m");
}

// ---------------------------------------------------------------------------------------------
// Schema (shape)

type IssueInput = { input?: unknown };
/** "is required" when the key is missing, else the given message. */
const req = (message: string) => ({
  error: (iss: IssueInput) => (iss.input === undefined ? "is required" : message),
});

const intRange = (min: number, max: number) =>
  z
    .number(req("must be a number"))
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be between ${min} and ${max}` })
    .max(max, { error: `must be between ${min} and ${max}` });

// biome-ignore lint/suspicious/noControlCharactersInRegex: step names are shown in the UI and logs
const STEP_NAME_RE = /^[^\u0000-\u001f\u007f]+$/;

const outputPatternSchema = z
  .string(req("must be a string"))
  .min(1, { error: "must not be empty (leave outputMatches out to accept any output)" })
  .max(MAX_PATTERN_LENGTH, { error: `must be at most ${MAX_PATTERN_LENGTH} characters` })
  .superRefine((value, ctx) => {
    const problem = regexProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const stepShape = {
  name: z
    .string(req("must be a string"))
    .min(1, { error: "must not be empty" })
    .max(100, { error: "must be at most 100 characters" })
    .regex(STEP_NAME_RE, { error: "must not contain control characters" }),
  target: z.enum(STEP_TARGETS, req(`must be one of ${STEP_TARGETS.join(", ")}`)),
  command: z
    .string(req("must be a string"))
    .min(1, { error: "must not be empty" })
    .max(MAX_COMMAND_LENGTH, { error: `must be at most ${MAX_COMMAND_LENGTH} characters` }),
  timeoutMs: intRange(100, 600_000),
  expect: z.strictObject(
    {
      exitCode: intRange(0, 255),
      outputMatches: outputPatternSchema.optional(),
    },
    req('must be an object like {"exitCode": 0}'),
  ),
  onFailure: z.enum(ON_FAILURE, req(`must be one of ${ON_FAILURE.join(", ")}`)),
};

const stepSchema = z.strictObject(stepShape, req("must be an object"));

const documentShape = {
  name: z.string(req("must be a string")).regex(PLAYBOOK_NAME_RE, {
    error:
      "must be 1-63 lowercase letters, digits or '-', starting with a letter or digit (e.g. default-verify)",
  }),
  kind: z.enum(PLAYBOOK_KINDS, req(`must be one of ${PLAYBOOK_KINDS.join(", ")}`)),
  description: z
    .string(req("must be a string"))
    .max(2_000, { error: "must be at most 2000 characters" })
    .optional(),
  steps: z
    .array(stepSchema, req("must be an array of steps"))
    .min(1, { error: "must have at least one step" })
    .max(MAX_STEPS, { error: `must have at most ${MAX_STEPS} steps` }),
};

const documentShapeSchema = z.strictObject(documentShape, req("must be a JSON object"));

/** Allowed keys per object, for "did you mean" hints on unknown keys. */
const KNOWN_KEYS = {
  document: Object.keys(documentShape),
  step: Object.keys(stepShape),
  expect: ["exitCode", "outputMatches"],
};

export type PlaybookDocument = z.output<typeof documentShapeSchema>;
export type PlaybookStep = PlaybookDocument["steps"][number];

/**
 * The full schema (shape + meaning), for callers that want a zod schema, e.g. a form. It reports
 * the meaning checks only once the shape is valid; `validatePlaybook` reports both at once.
 */
export const playbookDocumentSchema = documentShapeSchema.superRefine((doc, ctx) => {
  for (const issue of semanticIssues(doc)) {
    ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  }
});

// ---------------------------------------------------------------------------------------------
// Meaning: targets per kind, templates, unique step names

type Segment = string | number;
type RawIssue = {
  path: Segment[];
  message: string;
  /** Points at the key rather than the value (unknown keys). */
  atKey?: boolean;
  /** Offset inside the string value at `path` (template errors). */
  stringOffset?: number;
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isKind = (v: unknown): v is PlaybookKind =>
  typeof v === "string" && (PLAYBOOK_KINDS as readonly string[]).includes(v);
const isTarget = (v: unknown): v is StepTarget =>
  typeof v === "string" && (STEP_TARGETS as readonly string[]).includes(v);

/** Checks that need more than one field; works on raw input, skipping fields with the wrong type. */
function semanticIssues(raw: unknown): RawIssue[] {
  if (!isRecord(raw)) return [];
  const issues: RawIssue[] = [];
  const kind = isKind(raw.kind) ? raw.kind : null;

  if (typeof raw.name === "string") {
    const reservedFor = kindReservingName(raw.name);
    if (reservedFor && kind && reservedFor !== kind) {
      issues.push({
        path: ["name"],
        message: `the name ${raw.name} is reserved for the ${reservedFor} playbook, but kind is ${kind}`,
      });
    }
  }

  if (!Array.isArray(raw.steps)) return issues;
  const seenNames = new Map<string, number>();
  raw.steps.forEach((step: unknown, i: number) => {
    if (!isRecord(step)) return;
    if (typeof step.name === "string") {
      const first = seenNames.get(step.name);
      if (first !== undefined) {
        issues.push({
          path: ["steps", i, "name"],
          message: `duplicate step name ${JSON.stringify(step.name)} (also steps[${first}].name); step names identify steps in the journal`,
        });
      } else {
        seenNames.set(step.name, i);
      }
    }
    const target = isTarget(step.target) ? step.target : null;
    if (target && kind && !ALLOWED_TARGETS[kind].includes(target)) {
      issues.push({
        path: ["steps", i, "target"],
        message: `a ${kind} playbook cannot run a step on ${target}; allowed: ${ALLOWED_TARGETS[kind].join(", ")}`,
      });
    }
    if (target && typeof step.command === "string" && step.command.length <= MAX_COMMAND_LENGTH) {
      try {
        checkTemplate(step.command, target);
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        issues.push({ path: ["steps", i, "command"], message: err.message, stringOffset: err.offset });
      }
    }
  });
  return issues;
}

/**
 * Why a regex source is unusable, or null. Compiles it the way `outputMatcher` does, then refuses
 * the classic catastrophic shape: an unbounded quantifier applied to a group that itself contains
 * one (`(a+)+`, `(\w*)*`, `(?:x+y?){2,}`), which backtracks exponentially on a near-miss. This is a
 * heuristic for the obvious cases, not a proof of linear time; output is also truncated by the
 * executor, which bounds the damage of anything subtler.
 */
function regexProblem(source: string): string | null {
  try {
    outputMatcher(source);
  } catch (err) {
    return `is not a valid regular expression: ${(err as Error).message}`;
  }
  if (hasNestedUnboundedQuantifier(source)) {
    return "repeats a group that already repeats (like (a+)+), which can take exponential time; rewrite it without the nested repetition";
  }
  return null;
}

const UNBOUNDED_BRACE = /^\{\d+,\}/;

function unboundedQuantifierAt(src: string, i: number): boolean {
  const c = src[i];
  return c === "*" || c === "+" || (c === "{" && UNBOUNDED_BRACE.test(src.slice(i, i + 12)));
}

function hasNestedUnboundedQuantifier(src: string): boolean {
  const stack: boolean[] = [];
  let repeats = false; // whether the current group's body so far contains an unbounded quantifier
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === "\\") {
      i += 2;
      continue;
    }
    if (c === "[") {
      i++;
      if (src[i] === "^") i++;
      if (src[i] === "]") i++;
      while (i < src.length && src[i] !== "]") i += src[i] === "\\" ? 2 : 1;
      i++;
      continue;
    }
    if (c === "(") {
      stack.push(repeats);
      repeats = false;
      i++;
      continue;
    }
    if (c === ")") {
      const inner: boolean = repeats;
      repeats = (stack.pop() ?? false) || inner;
      i++;
      if (inner && unboundedQuantifierAt(src, i)) return true;
      continue;
    }
    if (unboundedQuantifierAt(src, i)) repeats = true;
    i++;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Validation results

export type PlaybookError = {
  /** 1-based; 0 when the input was not text (validatePlaybook). */
  line: number;
  /** 1-based, in UTF-16 code units; 0 when the input was not text. */
  column: number;
  /** e.g. `steps[1].command`; "" for the document itself. */
  path: string;
  message: string;
};

export type PlaybookResult =
  | { ok: true; playbook: PlaybookDocument }
  | { ok: false; errors: PlaybookError[] };

/** `steps[1].expect.exitCode`; keys that are not identifiers are written `["a key"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z_$][\w$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** All problems with an already-parsed document (errors carry paths; line and column are 0). */
export function validatePlaybook(doc: unknown): PlaybookResult {
  const { issues, playbook } = collectIssues(doc);
  if (playbook) return { ok: true, playbook };
  return {
    ok: false,
    errors: issues.map((i) => ({ line: 0, column: 0, path: formatPath(i.path), message: i.message })),
  };
}

function collectIssues(doc: unknown): { issues: RawIssue[]; playbook: PlaybookDocument | null } {
  const parsed = documentShapeSchema.safeParse(doc);
  const issues: RawIssue[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((s): s is Segment => typeof s !== "symbol");
      if (issue.code === "unrecognized_keys") {
        const known = knownKeysAt(path);
        for (const key of issue.keys) {
          issues.push({ path: [...path, key], message: unknownKeyMessage(key, known), atKey: true });
        }
      } else {
        issues.push({ path, message: issue.message });
      }
    }
  }
  issues.push(...semanticIssues(doc));
  if (parsed.success && issues.length === 0) return { issues, playbook: parsed.data };
  return { issues, playbook: null };
}

function knownKeysAt(path: Segment[]): string[] {
  if (path.length === 0) return KNOWN_KEYS.document;
  if (path.length === 2 && path[0] === "steps") return KNOWN_KEYS.step;
  if (path.length === 3 && path[0] === "steps" && path[2] === "expect") return KNOWN_KEYS.expect;
  return [];
}

function unknownKeyMessage(key: string, known: string[]): string {
  const close = known.find((k) => k.toLowerCase() === key.toLowerCase() || editDistance(k, key) <= 2);
  const hint = close ? `did you mean ${JSON.stringify(close)}? ` : "";
  return `unknown key ${JSON.stringify(key)}; ${hint}allowed: ${known.join(", ")}`;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0] ?? 0;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j] ?? 0;
      dp[j] = Math.min((dp[j] ?? 0) + 1, (dp[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length] ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Text: JSON with positions

/**
 * Parses playbook JSON text and validates it. Every problem is reported with the line and column
 * where it is in the text: a JSON syntax error where the parser stopped; a bad value where the value
 * starts; an unknown key at the key; a missing key at the object that lacks it; a template error at
 * the placeholder inside the command string.
 */
export function parsePlaybookText(text: string): PlaybookResult {
  if (text.length > MAX_PLAYBOOK_TEXT_BYTES) {
    return {
      ok: false,
      errors: [
        { line: 1, column: 1, path: "", message: `is too large (at most ${MAX_PLAYBOOK_TEXT_BYTES} bytes)` },
      ],
    };
  }
  const lines = new LineIndex(text);
  let parsed: LocatedJson;
  try {
    parsed = parseJsonWithLocations(text);
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    return { ok: false, errors: [{ ...lines.at(err.offset), path: "", message: err.message }] };
  }
  const { issues, playbook } = collectIssues(parsed.value);
  const syntaxLike: PlaybookError[] = parsed.duplicates.map((d) => ({
    ...lines.at(d.offset),
    path: formatPath(d.path),
    message: `duplicate key ${JSON.stringify(String(d.path.at(-1)))}; each key may appear once`,
  }));
  if (playbook && syntaxLike.length === 0) return { ok: true, playbook };
  const errors = [...syntaxLike, ...issues.map((i) => locate(i, parsed, text, lines))];
  errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ok: false, errors };
}

function locate(issue: RawIssue, parsed: LocatedJson, text: string, lines: LineIndex): PlaybookError {
  const path = formatPath(issue.path);
  const here = parsed.locations.get(jsonPathKey(issue.path));
  if (here) {
    if (issue.atKey && here.keyStart !== undefined)
      return { ...lines.at(here.keyStart), path, message: issue.message };
    if (issue.stringOffset !== undefined && text[here.start] === '"') {
      return {
        ...lines.at(rawOffsetInString(text, here.start, issue.stringOffset)),
        path,
        message: issue.message,
      };
    }
    return { ...lines.at(here.start), path, message: issue.message };
  }
  // A missing key: point at the nearest enclosing value that exists (the object lacking the key).
  for (let n = issue.path.length - 1; n >= 0; n--) {
    const parent = parsed.locations.get(jsonPathKey(issue.path.slice(0, n)));
    if (parent) return { ...lines.at(parent.start), path, message: issue.message };
  }
  return { line: 1, column: 1, path, message: issue.message };
}

/** The offset in `text` of the `decoded`-th code unit of the JSON string literal starting at `quote`. */
function rawOffsetInString(text: string, quote: number, decoded: number): number {
  let i = quote + 1;
  let n = 0;
  while (i < text.length && text[i] !== '"' && n < decoded) {
    i += text[i] === "\\" ? (text[i + 1] === "u" ? 6 : 2) : 1;
    n++;
  }
  return i;
}

class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  at(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] ?? 0) + 1 };
  }
}

/** Where (offset in the text) and why JSON text does not parse. */
export class JsonSyntaxError extends Error {
  override name = "JsonSyntaxError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export type JsonLocation = { start: number; keyStart?: number };
export type LocatedJson = {
  value: unknown;
  /** By `jsonPathKey(path)`: where each value (and its key, for object members) starts. */
  locations: Map<string, JsonLocation>;
  duplicates: { path: Segment[]; offset: number }[];
};

/** The key of `LocatedJson.locations` for a path like `["steps", 1, "command"]`. */
export const jsonPathKey = (path: readonly (string | number)[]) => JSON.stringify(path);

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

function describeChar(c: string | undefined): string {
  if (c === undefined) return "end of text";
  if (c === "\n") return "a line break";
  return JSON.stringify(c);
}

/**
 * RFC 8259 JSON, recording where every value and key starts; throws JsonSyntaxError. A leading BOM
 * is skipped. Duplicate keys are kept last-wins (as JSON.parse does) and listed in `duplicates`.
 */
export function parseJsonWithLocations(text: string): LocatedJson {
  const locations = new Map<string, JsonLocation>();
  const duplicates: LocatedJson["duplicates"] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(message, at);
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };

  const parseString = (): string => {
    const open = i;
    i++; // opening quote
    let out = "";
    let chunk = i;
    for (;;) {
      if (i >= text.length) fail("unterminated string (missing closing '\"')", open);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(chunk, i);
        i++;
        return out;
      }
      if (c < 0x20) {
        fail(
          c === 0x0a
            ? "line break inside a string (write it as \\n, or close the string)"
            : "control character inside a string (escape it)",
        );
      }
      if (c === 0x5c) {
        out += text.slice(chunk, i);
        const e = text[i + 1];
        if (e === "u") {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) fail("invalid \\u escape (expected 4 hex digits)");
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
        } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
          out += ESCAPES[e];
          i += 2;
        } else {
          fail(`invalid escape \\${e ?? ""} in a string (valid: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)`);
        }
        chunk = i;
        continue;
      }
      i++;
    }
  };

  const parseValue = (path: Segment[], depth: number, keyStart?: number): unknown => {
    if (depth > MAX_JSON_DEPTH) fail(`nested more than ${MAX_JSON_DEPTH} levels deep`);
    const start = i;
    locations.set(jsonPathKey(path), keyStart === undefined ? { start } : { start, keyStart });
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        if (text[i] !== '"') {
          fail(
            text[i] === "}"
              ? "trailing comma before '}'"
              : `expected a key in double quotes, found ${describeChar(text[i])}`,
          );
        }
        const kStart = i;
        const key = parseString();
        const childPath = [...path, key];
        if (Object.hasOwn(obj, key)) duplicates.push({ path: childPath, offset: kStart });
        ws();
        if (text[i] !== ":")
          fail(`expected ':' after the key ${JSON.stringify(key)}, found ${describeChar(text[i])}`);
        i++;
        ws();
        const v = parseValue(childPath, depth + 1, kStart);
        // defineProperty, not assignment: a "__proto__" key must stay an own (and unknown) key.
        Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ",") {
          i++;
          ws();
          continue;
        }
        if (text[i] === "}") {
          i++;
          return obj;
        }
        fail(`expected ',' or '}' after a value, found ${describeChar(text[i])}`);
      }
    }
    if (c === "[") {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        if (text[i] === "]") fail("trailing comma before ']'");
        arr.push(parseValue([...path, arr.length], depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          ws();
          continue;
        }
        if (text[i] === "]") {
          i++;
          return arr;
        }
        fail(`expected ',' or ']' after a value, found ${describeChar(text[i])}`);
      }
    }
    if (c === '"') return parseString();
    for (const [word, value] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return value;
      }
    }
    NUMBER_RE.lastIndex = i;
    const m = NUMBER_RE.exec(text);
    if (m) {
      i += m[0].length;
      return Number(m[0]);
    }
    if (c === "'") return fail("strings must use double quotes");
    const word = /^[A-Za-z_][\w-]*/.exec(text.slice(i, i + 40))?.[0];
    if (word) {
      return fail(
        `unexpected word ${JSON.stringify(word)}: text must be a string in double quotes, and the only bare words are true, false and null`,
      );
    }
    return fail(`expected a value, found ${describeChar(c)}`);
  };

  ws();
  const value = parseValue([], 0);
  ws();
  if (i < text.length) fail(`unexpected ${describeChar(text[i])} after the end of the document`);
  return { value, locations, duplicates };
}

/** `line 12, column 20 (steps[1].command): unknown variable {{hots}}; known: ...`, one per line. */
export function formatPlaybookErrors(errors: readonly PlaybookError[]): string {
  return errors
    .map((e) => {
      const where = e.line > 0 ? `line ${e.line}, column ${e.column}` : "";
      const path = e.path ? (where ? ` (${e.path})` : e.path) : "";
      const prefix = where || path ? `${where}${path}: ` : "";
      return `${prefix}${e.message}`;
    })
    .join("\n");
}

// ---------------------------------------------------------------------------------------------
// Database

export class PlaybookValidationError extends Error {
  readonly code = "playbook_invalid" as const;
  override name = "PlaybookValidationError";
  constructor(
    readonly errors: PlaybookError[],
    subject = "playbook",
  ) {
    super(`${subject} is invalid:\n${formatPlaybookErrors(errors)}`);
  }
}

export class PlaybooksMissingError extends Error {
  readonly code = "playbooks_missing" as const;
  override name = "PlaybooksMissingError";
  constructor(readonly kinds: PlaybookKind[]) {
    super(
      `no playbook for ${kinds.join(", ")} (expected ${kinds.map(activePlaybookName).join(", ")}); ` +
        "the built-in playbooks are installed at start by ensureBuiltInPlaybooks",
    );
  }
}

/**
 * Inserts each built-in playbook as version 1 (`builtIn`) unless that name already has a version 1.
 * Idempotent and safe to run from several processes at once. Returns the names it inserted.
 */
export async function ensureBuiltInPlaybooks(db: DbOrTx): Promise<string[]> {
  const rows = DEFAULT_PLAYBOOKS.map((doc) => {
    const result = validatePlaybook(doc);
    // A built-in that does not validate is a bug in this repository, not bad input.
    if (!result.ok) throw new PlaybookValidationError(result.errors, `built-in playbook ${doc.name}`);
    const { name, kind, steps } = result.playbook;
    return { name, kind, version: 1, steps, builtIn: true };
  });
  const inserted = await db
    .insert(playbooks)
    .values(rows)
    .onConflictDoNothing({ target: [playbooks.name, playbooks.version] })
    .returning({ name: playbooks.name });
  return inserted.map((r) => r.name).sort();
}

export type SavedPlaybook = { id: string; name: string; kind: PlaybookKind; version: number };

/**
 * Validates `doc` and inserts it as the next version of its name. Invalid input throws
 * PlaybookValidationError and writes nothing. A name keeps the kind of its first version.
 * (The document's description is not stored: the table has no column for it.)
 */
export async function savePlaybookVersion(
  db: DbOrTx,
  doc: unknown,
  createdBy?: string,
): Promise<SavedPlaybook> {
  const result = validatePlaybook(doc);
  if (!result.ok) throw new PlaybookValidationError(result.errors);
  const { name, kind, steps } = result.playbook;

  // Two admins saving at once both read the same max: the loser's insert hits the unique
  // (name, version) and does nothing, and it reads again. No statement fails, so this also works
  // inside a caller's transaction.
  for (let attempt = 0; attempt < 10; attempt++) {
    const [latest] = await db
      .select({ version: playbooks.version, kind: playbooks.kind })
      .from(playbooks)
      .where(eq(playbooks.name, name))
      .orderBy(desc(playbooks.version))
      .limit(1);
    if (latest && latest.kind !== kind) {
      throw new PlaybookValidationError([
        {
          line: 0,
          column: 0,
          path: "kind",
          message: `${name} is a ${latest.kind} playbook (version ${latest.version}); a name keeps its kind, so save a ${kind} playbook under another name`,
        },
      ]);
    }
    const version = (latest?.version ?? 0) + 1;
    const [row] = await db
      .insert(playbooks)
      .values({ name, kind, version, steps, builtIn: false, createdBy: createdBy ?? null })
      .onConflictDoNothing({ target: [playbooks.name, playbooks.version] })
      .returning({ id: playbooks.id, version: playbooks.version });
    if (row) return { id: row.id, name, kind, version: row.version };
  }
  throw new Error(`could not allocate a version for playbook ${name}: too many concurrent saves`);
}

export type ActivePlaybook = { id: string; name: string; version: number; steps: PlaybookStepSpec[] };

/**
 * Per kind, the latest version of `default-<kind>`. Each is validated again on load — the template
 * variables are code and may have changed since the row was written — so a switchover never starts
 * with a playbook that cannot render. Missing kinds throw PlaybooksMissingError.
 */
export async function loadActivePlaybooks(db: DbOrTx): Promise<Record<PlaybookKind, ActivePlaybook>> {
  const names = PLAYBOOK_KINDS.map(activePlaybookName);
  const rows = await db
    .selectDistinctOn([playbooks.name], {
      id: playbooks.id,
      name: playbooks.name,
      kind: playbooks.kind,
      version: playbooks.version,
      steps: playbooks.steps,
    })
    .from(playbooks)
    .where(inArray(playbooks.name, names))
    .orderBy(playbooks.name, desc(playbooks.version));
  const byName = new Map(rows.map((r) => [r.name, r]));

  const out: Partial<Record<PlaybookKind, ActivePlaybook>> = {};
  const missing: PlaybookKind[] = [];
  for (const kind of PLAYBOOK_KINDS) {
    const row = byName.get(activePlaybookName(kind));
    if (!row) {
      missing.push(kind);
      continue;
    }
    const check = validatePlaybook({ name: row.name, kind, steps: row.steps });
    const errors = check.ok ? [] : check.errors;
    if (row.kind !== kind) {
      errors.unshift({ line: 0, column: 0, path: "kind", message: `is ${row.kind}, expected ${kind}` });
    }
    if (errors.length > 0) {
      throw new PlaybookValidationError(errors, `stored playbook ${row.name} version ${row.version}`);
    }
    out[kind] = { id: row.id, name: row.name, version: row.version, steps: row.steps };
  }
  if (missing.length > 0) throw new PlaybooksMissingError(missing);
  return out as Record<PlaybookKind, ActivePlaybook>;
}
