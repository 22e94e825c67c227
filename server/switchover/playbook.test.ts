import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { asc, count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { playbooks } from "@/db/schema";
import { startTestFleet, type TestFleet } from "@/sim/testing";
import { createScratchDatabase } from "@/test/db";
import { DEFAULT_PLAYBOOKS } from "./default-playbooks";
import {
  ALLOWED_TARGETS,
  activePlaybookName,
  ensureBuiltInPlaybooks,
  formatPlaybookErrors,
  JsonSyntaxError,
  jsonPathKey,
  loadActivePlaybooks,
  outputMatcher,
  PLAYBOOK_KINDS,
  type PlaybookDocument,
  type PlaybookError,
  PlaybooksMissingError,
  PlaybookValidationError,
  parseJsonWithLocations,
  parsePlaybookText,
  playbookDocumentSchema,
  savePlaybookVersion,
  validatePlaybook,
} from "./playbook";
import { renderCommand, type TemplateValues } from "./template";

const run = promisify(execFile);

/** 1-based line and column of the `nth` occurrence of `needle` in `text`, computed independently. */
function at(text: string, needle: string, nth = 1): { line: number; column: number } {
  let from = -1;
  for (let k = 0; k < nth; k++) {
    from = text.indexOf(needle, from + 1);
    if (from < 0) throw new Error(`${JSON.stringify(needle)} occurs fewer than ${nth} times`);
  }
  const before = text.slice(0, from).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

function errorsOf(text: string): PlaybookError[] {
  const r = parsePlaybookText(text);
  if (r.ok) throw new Error("expected errors, the playbook parsed");
  return r.errors;
}

function errorAt(errors: PlaybookError[], path: string): PlaybookError {
  const e = errors.find((x) => x.path === path);
  if (!e) throw new Error(`no error at ${path}; got ${formatPlaybookErrors(errors)}`);
  return e;
}

const step = (over: Record<string, unknown> = {}) => ({
  name: "check",
  target: "new_primary",
  command: "curl -fsS http://{{node_host}}:{{node_port}}{{health_path}}",
  timeoutMs: 3000,
  expect: { exitCode: 0 },
  onFailure: "abort",
  ...over,
});
const doc = (over: Record<string, unknown> = {}) => ({
  name: "my-verify",
  kind: "verify",
  steps: [step()],
  ...over,
});

// ---------------------------------------------------------------------------------------------

describe("the built-in playbooks", () => {
  it("one per kind, named default-<kind>, each valid and surviving a JSON round trip", () => {
    expect(DEFAULT_PLAYBOOKS.map((p) => p.kind).sort()).toEqual([...PLAYBOOK_KINDS].sort());
    for (const pb of DEFAULT_PLAYBOOKS) {
      expect(pb.name).toBe(activePlaybookName(pb.kind));
      const result = validatePlaybook(pb);
      expect(result.ok ? "" : formatPlaybookErrors(result.errors), pb.name).toBe("");
      const text = parsePlaybookText(JSON.stringify(pb, null, 2));
      expect(text.ok && text.playbook).toEqual(pb);
    }
    expect(activePlaybookName("switch_traffic")).toBe("default-switch-traffic");
  });

  it("say what the design says about failure handling", () => {
    const byKind = Object.fromEntries(DEFAULT_PLAYBOOKS.map((p) => [p.kind, p])) as Record<
      PlaybookDocument["kind"],
      PlaybookDocument
    >;
    const summary = (kind: PlaybookDocument["kind"]) =>
      byKind[kind].steps.map((s) => [s.target, s.onFailure, s.timeoutMs]);
    expect(summary("preflight")).toEqual([
      ["new_primary", "abort", 3000],
      ["lb", "abort", 10_000],
    ]);
    expect(summary("degrade")).toEqual([["old_primary", "continue", 3000]]);
    expect(summary("switch_traffic")).toEqual([["lb", "rollback", 10_000]]);
    expect(summary("activate")).toEqual([["new_primary", "rollback", 5000]]);
    expect(summary("verify").map((s) => s.slice(0, 2))).toEqual([
      ["new_primary", "rollback"],
      ["lb", "rollback"],
    ]);
    expect(summary("rollback").map((s) => s.slice(0, 2))).toEqual([
      ["old_primary", "continue"],
      ["lb", "abort"],
      ["new_primary", "abort"],
      ["new_primary", "abort"],
    ]);
    for (const kind of ["drain", "readmit"] as const)
      expect(summary(kind)).toEqual([["lb", "abort", 10_000]]);
    // Every node command carries the epoch it acts for.
    for (const s of [...byKind.degrade.steps, ...byKind.activate.steps])
      expect(s.command).toContain("{{epoch}}");
  });
});

// ---------------------------------------------------------------------------------------------

describe("validatePlaybook (already-parsed documents)", () => {
  it("accepts a minimal playbook and keeps an optional description", () => {
    const r = validatePlaybook(doc({ description: "checks" }));
    expect(r.ok && r.playbook).toEqual(doc({ description: "checks" }));
  });

  it.each([
    ["a non-object", [], "", "must be a JSON object"],
    ["no steps", doc({ steps: [] }), "steps", "at least one step"],
    [
      "51 steps",
      doc({ steps: Array.from({ length: 51 }, (_, i) => step({ name: `s${i}` })) }),
      "steps",
      "at most 50",
    ],
    ["a bad name", doc({ name: "My Playbook" }), "name", "lowercase"],
    ["an unknown kind", doc({ kind: "failover" }), "kind", "must be one of preflight, degrade"],
    ["a numeric description", doc({ description: 5 }), "description", "must be a string"],
    [
      "timeout below range",
      doc({ steps: [step({ timeoutMs: 99 })] }),
      "steps[0].timeoutMs",
      "between 100 and 600000",
    ],
    ["timeout above range", doc({ steps: [step({ timeoutMs: 600_001 })] }), "steps[0].timeoutMs", "between"],
    [
      "a fractional timeout",
      doc({ steps: [step({ timeoutMs: 1000.5 })] }),
      "steps[0].timeoutMs",
      "whole number",
    ],
    [
      "exit code 256",
      doc({ steps: [step({ expect: { exitCode: 256 } })] }),
      "steps[0].expect.exitCode",
      "0 and 255",
    ],
    ["no expect", doc({ steps: [step({ expect: undefined })] }), "steps[0].expect", "is required"],
    [
      "an unknown onFailure",
      doc({ steps: [step({ onFailure: "retry" })] }),
      "steps[0].onFailure",
      "abort, continue",
    ],
    ["an unknown target", doc({ steps: [step({ target: "db" })] }), "steps[0].target", "must be one of"],
    ["an empty command", doc({ steps: [step({ command: "" })] }), "steps[0].command", "must not be empty"],
    ["an unknown root key", doc({ owner: "me" }), "owner", 'unknown key "owner"'],
    [
      "a misspelt step key",
      doc({ steps: [step({ timeoutMS: 1 })] }),
      "steps[0].timeoutMS",
      'did you mean "timeoutMs"',
    ],
    [
      "an unknown expect key",
      doc({ steps: [step({ expect: { exitCode: 0, stdout: "x" } })] }),
      "steps[0].expect.stdout",
      "allowed: exitCode, outputMatches",
    ],
    [
      "a bad regex",
      doc({ steps: [step({ expect: { exitCode: 0, outputMatches: "(" } })] }),
      "steps[0].expect.outputMatches",
      "not a valid regular expression",
    ],
    [
      "a long regex",
      doc({ steps: [step({ expect: { exitCode: 0, outputMatches: "a".repeat(501) } })] }),
      "steps[0].expect.outputMatches",
      "at most 500",
    ],
    [
      "a target the kind forbids",
      doc({ steps: [step({ target: "old_primary" })] }),
      "steps[0].target",
      "a verify playbook cannot run a step on old_primary; allowed: new_primary, lb",
    ],
    [
      "an unknown variable",
      doc({ steps: [step({ command: "echo {{hots}}" })] }),
      "steps[0].command",
      "unknown variable {{hots}}",
    ],
    [
      "a node variable on the LB",
      doc({ steps: [step({ target: "lb" })] }),
      "steps[0].command",
      "{{node_host}} is not available to a step aimed at lb",
    ],
    [
      "duplicate step names",
      doc({ steps: [step(), step({ target: "lb", command: "true" })] }),
      "steps[1].name",
      "duplicate step name",
    ],
    [
      "a reserved name on another kind",
      doc({ name: "default-degrade" }),
      "name",
      "reserved for the degrade playbook",
    ],
  ])("rejects %s with an error at its path", (_label, input, path, words) => {
    const r = validatePlaybook(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const e = errorAt(r.errors, path);
    expect(e.message).toContain(words);
    expect([e.line, e.column]).toEqual([0, 0]);
  });

  it("reports every problem at once, including ones that need a valid kind and target", () => {
    const r = validatePlaybook(
      doc({
        extra: 1,
        steps: [
          step({ target: "old_primary", timeoutMs: 1 }),
          step({ name: "b", command: "{{nope}}", onFailure: "x" }),
          { name: "c" },
        ],
      }),
    );
    expect(r.ok ? [] : r.errors.map((e) => e.path).sort()).toEqual(
      [
        "extra",
        "steps[0].target",
        "steps[0].timeoutMs",
        "steps[1].command",
        "steps[1].onFailure",
        "steps[2].command",
        "steps[2].expect",
        "steps[2].onFailure",
        "steps[2].target",
        "steps[2].timeoutMs",
      ].sort(),
    );
  });

  it("treats a __proto__ key as an unknown key, not a prototype", () => {
    const input = JSON.parse('{"name":"x","kind":"verify","steps":[],"__proto__":{"polluted":true}}');
    const r = validatePlaybook(input);
    expect(r.ok ? [] : r.errors.map((e) => e.path)).toContain("__proto__");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("playbookDocumentSchema (for forms) applies the same checks", () => {
    for (const pb of DEFAULT_PLAYBOOKS) expect(playbookDocumentSchema.safeParse(pb).success).toBe(true);
    const r = playbookDocumentSchema.safeParse(doc({ steps: [step({ target: "lb" })] }));
    expect(r.success ? [] : r.error.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["steps.0.command", "{{node_host}} is not available to a step aimed at lb"],
    ]);
  });

  it("allows each kind exactly its targets", () => {
    for (const kind of PLAYBOOK_KINDS) {
      for (const target of ["old_primary", "new_primary", "lb", "member"] as const) {
        const r = validatePlaybook({
          name: "p",
          kind,
          steps: [step({ target, command: "echo {{epoch}}" })],
        });
        expect(r.ok, `${kind}/${target}`).toBe(ALLOWED_TARGETS[kind].includes(target));
      }
    }
    expect(ALLOWED_TARGETS.switch_traffic).toEqual(["lb"]);
    expect(ALLOWED_TARGETS.activate).toEqual(["new_primary"]);
  });
});

describe("output patterns", () => {
  const problem = (outputMatches: string) => {
    const r = validatePlaybook(doc({ steps: [step({ expect: { exitCode: 0, outputMatches } })] }));
    return r.ok ? null : (r.errors[0]?.message ?? "?");
  };

  it.each(['"role":\\s*"master"', "^ok$", "(ab)+", "a+b+", "[(a+)]+", "(a+){2,5}", "\\(a+\\)+", "(?:x|y)*z"])(
    "accepts %s",
    (source) => expect(problem(source)).toBeNull(),
  );

  it.each(["(a+)+", "(a*)*", "(?:\\w+\\s?)*$", "((a)+)+", "(a+){2,}", "(x[ab]*)+y", "(.*a){1,}"])(
    "refuses the catastrophic %s",
    (source) => expect(problem(source)).toContain("exponential"),
  );

  it.each(["(", "[a-", "a{2,1}", "(?<n>a)\\k<m>"])("refuses the invalid %s", (source) =>
    expect(problem(source)).toContain("not a valid regular expression"),
  );

  it("matches line by line in the output, as the executor applies it", () => {
    expect(outputMatcher("^ok$").test("starting\nok\ndone")).toBe(true);
    expect(outputMatcher('"role":\\s*"master"').test('{"status":"healthy","role":"master"}')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe("parsePlaybookText: every error where it is in the text", () => {
  const GOOD = `{
  "name": "my-verify",
  "kind": "verify",
  "steps": [
    {
      "name": "master",
      "target": "new_primary",
      "command": "curl -fsS http://{{node_host}}:{{node_port}}{{health_path}}",
      "timeoutMs": 3000,
      "expect": { "exitCode": 0, "outputMatches": "\\"role\\":\\"master\\"" },
      "onFailure": "rollback"
    },
    {
      "name": "endpoint",
      "target": "lb",
      "command": "curl -fsS {{lb_endpoint_url}}",
      "timeoutMs": 3000,
      "expect": { "exitCode": 0 },
      "onFailure": "rollback"
    }
  ]
}
`;

  it("parses valid text to the same value as JSON.parse", () => {
    const r = parsePlaybookText(GOOD);
    expect(r.ok && r.playbook).toEqual(JSON.parse(GOOD));
    expect(parsePlaybookText(`\uFEFF${GOOD}`).ok).toBe(true);
    expect(parsePlaybookText(GOOD.replaceAll("\n", "\r\n")).ok).toBe(true);
  });

  const endOf = (text: string) => at(`${text}\u0000`, "\u0000");
  const BAD_JSON: [string, string, (text: string) => { line: number; column: number }, string][] = [
    [
      "a missing comma",
      GOOD.replace('"my-verify",', '"my-verify"'),
      (x) => at(x, '"kind"'),
      "expected ',' or '}'",
    ],
    [
      "a trailing comma",
      GOOD.replace('"rollback"\n    }\n  ]', '"rollback",\n    }\n  ]'),
      (x) => at(x, "}\n  ]"),
      "trailing comma before '}'",
    ],
    [
      "a single-quoted string",
      GOOD.replace('"verify"', "'verify'"),
      (x) => at(x, "'verify'"),
      "double quotes",
    ],
    ["a bare word", GOOD.replace('"verify"', "verify"), (x) => at(x, "verify,"), 'unexpected word "verify"'],
    [
      "a line break in a string",
      GOOD.replace('"my-verify"', '"my-\nverify"'),
      (x) => at(x, "\nverify"),
      "line break inside a string",
    ],
    [
      "a bad escape",
      GOOD.replace('"my-verify"', '"my-\\qverify"'),
      (x) => at(x, "\\q"),
      "invalid escape \\q",
    ],
    ["an unterminated string", '{\n  "name": "abc', (x) => at(x, '"abc'), "unterminated string"],
    [
      "an unclosed object",
      '{\n  "name": "abc"\n',
      endOf,
      "expected ',' or '}' after a value, found end of text",
    ],
    [
      "trailing text",
      `${GOOD}x`,
      (x) => at(x, "x", x.split("x").length - 1),
      'unexpected "x" after the end of the document',
    ],
    ["empty text", "", () => ({ line: 1, column: 1 }), "expected a value, found end of text"],
  ];

  it.each(BAD_JSON)("bad JSON: %s", (_label, text, where, words) => {
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ ...where(text), path: "" });
    expect(errors[0]?.message).toContain(words);
    expect(where(text).line).toBeGreaterThan(0);
  });

  it("bad JSON in CRLF text: the line and column still point at the problem", () => {
    const text = GOOD.replace('"my-verify",', '"my-verify"').replaceAll("\n", "\r\n");
    expect(errorsOf(text)[0]).toMatchObject({ line: 3, column: 3 });
  });

  it("unknown key: at the key, with a suggestion", () => {
    const text = GOOD.replace(
      '"timeoutMs": 3000,\n      "expect": { "exitCode": 0 }',
      '"timeout": 3000,\n      "expect": { "exitCode": 0 }',
    );
    const errors = errorsOf(text);
    expect(errorAt(errors, "steps[1].timeout")).toMatchObject({
      ...at(text, '"timeout"'),
      message: expect.stringContaining('did you mean "timeoutMs"'),
    });
    // ...and the key it replaced is missing, reported at the step object that lacks it.
    expect(errorAt(errors, "steps[1].timeoutMs")).toMatchObject({
      ...at(text, '{\n      "name": "endpoint"'),
      message: "is required",
    });
  });

  it("wrong type: at the value", () => {
    const text = GOOD.replace('"timeoutMs": 3000', '"timeoutMs": "3000"');
    expect(errorsOf(text)).toEqual([
      { ...at(text, '"3000"'), path: "steps[0].timeoutMs", message: "must be a number" },
    ]);
  });

  it("missing field: at the object that lacks it", () => {
    const text = GOOD.replace(',\n      "onFailure": "rollback"\n    },\n    {', "\n    },\n    {");
    expect(errorsOf(text)).toEqual([
      { ...at(text, '{\n      "name": "master"'), path: "steps[0].onFailure", message: "is required" },
    ]);
  });

  it("unknown variable in a command: the line of that command, the column of the placeholder", () => {
    const text = GOOD.replace("{{node_port}}", "{{port}}");
    const [e] = errorsOf(text);
    expect(e).toMatchObject({ ...at(text, "{{port}}"), path: "steps[0].command" });
    expect(e?.line).toBe(at(text, '"command"').line);
    expect(e?.message).toContain("unknown variable {{port}}");
  });

  it("the placeholder's column is exact even after escapes in the string", () => {
    const text = GOOD.replace('"curl -fsS {{lb_endpoint_url}}"', '"printf \\"%s\\\\n\\u0020\\" {{hots}}"');
    expect(JSON.parse(text).steps[1].command).toBe('printf "%s\\n " {{hots}}');
    expect(errorsOf(text)).toEqual([
      expect.objectContaining({ ...at(text, "{{hots}}"), path: "steps[1].command" }),
    ]);
  });

  it("target not allowed for the kind: at the target", () => {
    const text = GOOD.replace('"target": "lb"', '"target": "member"');
    expect(errorsOf(text)).toEqual([
      {
        ...at(text, '"member"'),
        path: "steps[1].target",
        message: "a verify playbook cannot run a step on member; allowed: new_primary, lb",
      },
    ]);
  });

  it("bad regex: at the pattern", () => {
    const text = GOOD.replace('"outputMatches": "\\"role\\":\\"master\\""', '"outputMatches": "(unclosed"');
    const [e] = errorsOf(text);
    expect(e).toMatchObject({ ...at(text, '"(unclosed"'), path: "steps[0].expect.outputMatches" });
    expect(e?.message).toContain("not a valid regular expression");
  });

  it("duplicate keys are errors at the second key", () => {
    const text = GOOD.replace('"kind": "verify",', '"kind": "verify",\n  "kind": "degrade",');
    expect(errorAt(errorsOf(text), "kind")).toMatchObject({
      ...at(text, '"kind"', 2),
      message: expect.stringContaining("duplicate key"),
    });
  });

  it("reports all errors, in text order, and formats them one per line", () => {
    const text = GOOD.replace("{{node_port}}", "{{hots}}")
      .replace('"target": "lb"', '"target": "old_primary"')
      .replace('"exitCode": 0 }', '"exitCode": 300 }')
      .replace('"kind": "verify",', '"kind": "verify",\n  "owner": "me",');
    const errors = errorsOf(text);
    expect(errors.map((e) => e.path)).toEqual([
      "owner",
      "steps[0].command",
      "steps[1].target",
      "steps[1].expect.exitCode",
    ]);
    const sorted = [...errors].sort((a, b) => a.line - b.line || a.column - b.column);
    expect(errors).toEqual(sorted);
    const { line, column } = at(text, "{{hots}}");
    const formatted = formatPlaybookErrors(errors).split("\n");
    expect(formatted).toHaveLength(4);
    expect(formatted[1]).toBe(
      `line ${line}, column ${column} (steps[0].command): unknown variable {{hots}}; known: cluster_name, epoch, switchover_id, node_name, node_host, node_port, health_path, old_primary_name, old_primary_host, old_primary_port, new_primary_name, new_primary_host, new_primary_port, lb_endpoint_url, upstream_path, upstream_config, nginx_bin, nginx_conf, verify_deadline_ms`,
    );
    expect(
      formatPlaybookErrors([{ line: 0, column: 0, path: "steps[0].name", message: "must not be empty" }]),
    ).toBe("steps[0].name: must not be empty");
  });

  it("a document that is not an object: at its start", () => {
    expect(errorsOf('\n  ["x"]')).toEqual([
      { line: 2, column: 3, path: "", message: "must be a JSON object" },
    ]);
  });

  it("refuses absurd nesting and size without overflowing the stack", () => {
    expect(errorsOf(`${"[".repeat(10_000)}${"]".repeat(10_000)}`)[0]?.message).toContain("nested more than");
    expect(errorsOf(`"${"a".repeat(1024 * 1024)}"`)[0]?.message).toContain("too large");
  });
});

describe("parseJsonWithLocations agrees with JSON.parse", () => {
  const CASES = [
    "{}",
    "[]",
    '{"a":[1,2,{"b":null}],"c":true,"d":false}',
    "-0",
    "1e+5",
    "-1.25E-3",
    '"\\u00e9\\ud83d\\ude00\\ud800 \\/\\b\\f\\n\\r\\t"',
    ' \t\r\n{ "a" : 1 } \n',
    "01",
    "1.",
    ".5",
    "-",
    "+1",
    "1e",
    "0x10",
    "[1,]",
    "[,1]",
    '{"a":1,}',
    '{"a"}',
    "{a:1}",
    '"\\u12"',
    '"\t"',
    "nul",
    "truex",
    "NaN",
    "Infinity",
    '"\\x41"',
    "[1 2]",
    "{} {}",
    '"abc',
  ];

  it.each(CASES)("%j", (text) => {
    let expected: unknown;
    let valid = true;
    try {
      expected = JSON.parse(text);
    } catch {
      valid = false;
    }
    if (valid) {
      expect(parseJsonWithLocations(text).value).toEqual(expected);
    } else {
      expect(() => parseJsonWithLocations(text)).toThrow(JsonSyntaxError);
    }
  });

  it("records where each key and value starts", () => {
    const text = '{\n  "a": [10, {"b": "x"}]\n}';
    const { locations } = parseJsonWithLocations(text);
    expect(locations.get(jsonPathKey(["a"]))).toEqual({
      start: text.indexOf("["),
      keyStart: text.indexOf('"a"'),
    });
    expect(locations.get(jsonPathKey(["a", 1, "b"]))?.start).toBe(text.indexOf('"x"'));
    expect(locations.get(jsonPathKey(["a", 0]))?.start).toBe(text.indexOf("10"));
  });
});

// ---------------------------------------------------------------------------------------------

describe("playbooks in the database", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let handle: ReturnType<typeof createDb>;

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
    await runMigrations(scratch.url);
    handle = createDb(scratch.url, { max: 4 });
  });
  afterAll(async () => {
    await handle?.sql.end();
    await scratch?.drop();
  });

  const rowCount = async () => (await handle.db.select({ n: count() }).from(playbooks))[0]?.n ?? -1;

  it("with no playbooks, loading says which kinds are missing", async () => {
    const err = await loadActivePlaybooks(handle.db).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlaybooksMissingError);
    expect((err as PlaybooksMissingError).kinds).toEqual([...PLAYBOOK_KINDS]);
  });

  it("ensureBuiltInPlaybooks inserts version 1 of each once, also when run concurrently", async () => {
    const results = await Promise.all([
      ensureBuiltInPlaybooks(handle.db),
      ensureBuiltInPlaybooks(handle.db),
      ensureBuiltInPlaybooks(handle.db),
    ]);
    expect(results.flat().sort()).toEqual(DEFAULT_PLAYBOOKS.map((p) => p.name).sort());
    expect(await ensureBuiltInPlaybooks(handle.db)).toEqual([]);
    const rows = await handle.db.select().from(playbooks).orderBy(asc(playbooks.name));
    expect(rows).toHaveLength(PLAYBOOK_KINDS.length);
    expect(rows.every((r) => r.version === 1 && r.builtIn)).toBe(true);
  });

  it("loadActivePlaybooks returns the built-ins per kind", async () => {
    const active = await loadActivePlaybooks(handle.db);
    expect(Object.keys(active).sort()).toEqual([...PLAYBOOK_KINDS].sort());
    for (const pb of DEFAULT_PLAYBOOKS) {
      expect(active[pb.kind]).toMatchObject({ name: pb.name, version: 1, steps: pb.steps });
    }
  });

  it("savePlaybookVersion inserts the next version, and the latest becomes active", async () => {
    const verify = DEFAULT_PLAYBOOKS.find((p) => p.kind === "verify");
    if (!verify) throw new Error("no default verify");
    const edited = { ...verify, steps: verify.steps.map((s) => ({ ...s, timeoutMs: 60_000 })) };
    const v2 = await savePlaybookVersion(handle.db, edited);
    expect(v2).toMatchObject({ name: "default-verify", kind: "verify", version: 2 });
    const v3 = await savePlaybookVersion(handle.db, JSON.parse(JSON.stringify(edited)));
    expect(v3.version).toBe(3);
    const active = await loadActivePlaybooks(handle.db);
    expect(active.verify).toMatchObject({ id: v3.id, version: 3, steps: edited.steps });
    expect(active.degrade.version).toBe(1);
    const [row] = await handle.db.select().from(playbooks).where(eq(playbooks.id, v3.id));
    expect(row).toMatchObject({ builtIn: false, createdBy: null });
    // Another name starts at 1 and does not affect the active set.
    expect((await savePlaybookVersion(handle.db, doc({ name: "canary-verify" }))).version).toBe(1);
    expect((await loadActivePlaybooks(handle.db)).verify.version).toBe(3);
  });

  it("concurrent saves of one name get distinct consecutive versions", async () => {
    const saved = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        savePlaybookVersion(handle.db, doc({ name: "busy", steps: [step({ name: `s${i}` })] })),
      ),
    );
    expect(saved.map((s) => s.version).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it("an invalid playbook throws PlaybookValidationError with every error and writes nothing", async () => {
    const before = await rowCount();
    const bad = doc({ name: "default-verify", steps: [step({ command: "curl {{hots}}", timeoutMs: 1 })] });
    const err = await savePlaybookVersion(handle.db, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlaybookValidationError);
    const v = err as PlaybookValidationError;
    expect(v.code).toBe("playbook_invalid");
    expect(v.errors.map((e) => e.path).sort()).toEqual(["steps[0].command", "steps[0].timeoutMs"]);
    expect(v.message).toContain("steps[0].command: unknown variable {{hots}}");
    expect(await rowCount()).toBe(before);
    expect((await loadActivePlaybooks(handle.db)).verify.version).toBe(3);
  });

  it("a name keeps its kind", async () => {
    const before = await rowCount();
    const err = await savePlaybookVersion(handle.db, doc({ name: "busy", kind: "preflight" })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PlaybookValidationError);
    expect((err as PlaybookValidationError).errors[0]).toMatchObject({ path: "kind" });
    expect((err as Error).message).toContain("busy is a verify playbook");
    expect(await rowCount()).toBe(before);
  });

  it("works inside a caller's transaction, and rolls back with it", async () => {
    const before = await rowCount();
    await handle.db
      .transaction(async (tx) => {
        const saved = await savePlaybookVersion(tx, doc({ name: "in-tx" }));
        expect(saved.version).toBe(1);
        expect((await savePlaybookVersion(tx, doc({ name: "in-tx" }))).version).toBe(2);
        throw new Error("roll back");
      })
      .catch((e: Error) => expect(e.message).toBe("roll back"));
    expect(await rowCount()).toBe(before);
  });

  it("a stored playbook that no longer validates stops loading with a clear error", async () => {
    await handle.db.insert(playbooks).values({
      name: "default-activate",
      kind: "activate",
      version: 99,
      steps: [{ ...step(), command: "curl {{removed_variable}}" } as never],
    });
    const err = await loadActivePlaybooks(handle.db).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlaybookValidationError);
    expect((err as Error).message).toContain("stored playbook default-activate version 99");
    expect((err as Error).message).toContain("unknown variable {{removed_variable}}");
  });
});

// ---------------------------------------------------------------------------------------------
// The built-in node and LB commands, run for real: curl against simulated nodes, nginx -t.

describe("built-in commands against the simulator and nginx", () => {
  let t: TestFleet;
  let dir: string;
  const byKind = Object.fromEntries(DEFAULT_PLAYBOOKS.map((p) => [p.kind, p])) as Record<
    PlaybookDocument["kind"],
    PlaybookDocument
  >;
  const stepOf = (kind: PlaybookDocument["kind"], name: string) => {
    const s = byKind[kind].steps.find((x) => x.name === name);
    if (!s) throw new Error(`no step ${name} in ${kind}`);
    return s;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-playbook-"));
    t = await startTestFleet([
      { name: "pb-a", host: "127.0.0.71", cluster: "pb", role: "master" },
      { name: "pb-b", host: "127.0.0.72", cluster: "pb", role: "standby" },
    ]);
  });
  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const nodeValues = (name: string, extra: TemplateValues = {}): TemplateValues => {
    const node = t.fleet.getNode(name);
    return {
      node_name: node.name,
      node_host: node.host,
      node_port: node.httpPort,
      health_path: "/health",
      verify_deadline_ms: 2000,
      ...extra,
    };
  };

  async function sh(command: string): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
    const started = performance.now();
    try {
      const { stdout, stderr } = await run("/bin/sh", ["-c", command], { timeout: 30_000 });
      return { code: 0, stdout, stderr, ms: performance.now() - started };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr, ms: performance.now() - started };
    }
  }

  it("preflight, activate, verify and degrade drive the node API with the epoch", async () => {
    const a = t.fleet.getNode("pb-a");
    const b = t.fleet.getNode("pb-b");
    expect(
      (await sh(renderCommand(stepOf("preflight", "new-primary-healthy").command, nodeValues("pb-b")))).code,
    ).toBe(0);

    const activate = await sh(
      renderCommand(stepOf("activate", "activate-new-primary").command, nodeValues("pb-b", { epoch: 5 })),
    );
    expect(activate.code, activate.stderr).toBe(0);
    expect([b.role, b.epoch]).toEqual(["master", 5]);

    const verify = stepOf("verify", "verify-new-primary-is-master");
    const verified = await sh(renderCommand(verify.command, nodeValues("pb-b")));
    expect(verified.code, verified.stderr).toBe(0);
    expect(outputMatcher(verify.expect.outputMatches ?? "$^").test(verified.stdout)).toBe(true);

    const degrade = await sh(
      renderCommand(stepOf("degrade", "degrade-old-primary").command, nodeValues("pb-a", { epoch: 5 })),
    );
    expect(degrade.code, degrade.stderr).toBe(0);
    expect([a.role, a.epoch]).toEqual(["standby", 5]);
  });

  it("a stale epoch fails activate (409 → curl exit 22) and changes nothing", async () => {
    const a = t.fleet.getNode("pb-a");
    const r = await sh(
      renderCommand(stepOf("activate", "activate-new-primary").command, nodeValues("pb-a", { epoch: 4 })),
    );
    expect(r.code).toBe(22);
    expect(r.stderr).toContain("409");
    expect(a.role).toBe("standby");
  });

  it("verify gives up within its deadline when the node is not master", async () => {
    const r = await sh(
      renderCommand(
        stepOf("verify", "verify-new-primary-is-master").command,
        nodeValues("pb-a", { verify_deadline_ms: 500 }),
      ),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not master after 500 ms");
    expect(r.stderr).toContain('"role":"standby"');
    expect(r.ms).toBeGreaterThanOrEqual(500);
    expect(r.ms).toBeLessThan(3000);
  });

  it("verify sees a promotion that happens while it polls", async () => {
    const a = t.fleet.getNode("pb-a");
    const pending = sh(
      renderCommand(
        stepOf("verify", "verify-new-primary-is-master").command,
        nodeValues("pb-a", { verify_deadline_ms: 5000 }),
      ),
    );
    await new Promise((r) => setTimeout(r, 400));
    expect(a.activate(6).ok).toBe(true);
    const r = await pending;
    expect(r.code, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(3000);
  });

  it("degrading a crashed node fails fast (the playbook continues past it)", async () => {
    const b = t.fleet.getNode("pb-b");
    await b.applyFault("crash");
    try {
      const r = await sh(
        renderCommand(stepOf("degrade", "degrade-old-primary").command, nodeValues("pb-b", { epoch: 7 })),
      );
      expect(r.code).not.toBe(0);
      expect(r.ms).toBeLessThan(2500);
      expect(stepOf("degrade", "degrade-old-primary").onFailure).toBe("continue");
    } finally {
      await b.applyFault("recover");
    }
  });

  it("the LB endpoint check polls /health through the endpoint URL, bounded", async () => {
    const b = t.fleet.getNode("pb-b");
    const verifyLb = stepOf("verify", "verify-lb-endpoint");
    const up = await sh(
      renderCommand(verifyLb.command, {
        lb_endpoint_url: `http://${b.host}:${b.httpPort}/?from=lb`,
        verify_deadline_ms: 2000,
      }),
    );
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain('"status":"healthy"');
    const down = await sh(
      renderCommand(verifyLb.command, { lb_endpoint_url: "http://127.0.0.1:9/", verify_deadline_ms: 300 }),
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("load balancer endpoint not answering after 300 ms");
    expect(down.ms).toBeLessThan(3000);
  });

  it("the LB preflight checks the upstream directory and runs nginx -t", async () => {
    const confDir = path.join(dir, "conf.d");
    await mkdir(confDir);
    const conf = path.join(dir, "nginx.conf");
    const nginxConf = (extra: string) =>
      `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  include ${confDir}/*.conf;\n${extra}}\n`;
    await writeFile(conf, nginxConf(""));
    const lbStep = stepOf("preflight", "lb-ready");
    const values = (upstream: string): TemplateValues => ({
      upstream_path: upstream,
      nginx_bin: "/usr/sbin/nginx",
      nginx_conf: conf,
    });

    const ok = await sh(renderCommand(lbStep.command, values(path.join(confDir, "switchyard-pb.conf"))));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain("test is successful");

    const noDir = await sh(renderCommand(lbStep.command, values(path.join(dir, "missing", "u.conf"))));
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toContain("does not exist");

    await writeFile(conf, nginxConf("  this is not nginx;\n"));
    const broken = await sh(renderCommand(lbStep.command, values(path.join(confDir, "switchyard-pb.conf"))));
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toContain("unknown directive");
  });
});
