/**
 * Playbook command templates: `curl -fsS http://{{node_host}}:{{node_port}}{{health_path}}`.
 *
 * This is the one place where a value reaches a remote shell from a playbook. A template may
 * reference only the variables below; each value is validated against that variable's narrow
 * format and then single-quoted for POSIX `sh` by `quoteShellArg` (server/ssh/quote.ts). Nothing
 * else is substituted: there are no conditionals, filters or raw (unquoted) insertions, so a value
 * can never become code, whatever it contains.
 *
 * Which variables a step may use depends on its target (see `variablesForTarget`): node variables
 * are the target node's own, the load balancer has none of them.
 */
import { HEALTH_PATH_RE, isValidHost, NAME_RE } from "@/server/inventory/schema";
import { quoteShellArg } from "@/server/ssh/quote";

export type StepTarget = "old_primary" | "new_primary" | "lb" | "member";

type Validator = (value: string) => string | null;

const isInt = (min: number, max: number): Validator => {
  return (v) => {
    if (!/^(0|[1-9][0-9]{0,15})$/.test(v)) return "must be a non-negative integer";
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) return `must be between ${min} and ${max}`;
    return null;
  };
};

const isName: Validator = (v) =>
  NAME_RE.test(v) ? null : "must be lowercase letters, digits and dashes (at most 63), starting alphanumeric";
const isHost: Validator = (v) => (isValidHost(v) ? null : "must be an IPv4/IPv6 address or a DNS name");
const isPort = isInt(1, 65_535);
const isHealthPath: Validator = (v) =>
  HEALTH_PATH_RE.test(v) && !v.includes("..") ? null : "must be an absolute URL path of [A-Za-z0-9._~/-]";
const isAbsolutePath: Validator = (v) =>
  /^\/[A-Za-z0-9._/+-]*$/.test(v) && !v.split("/").includes("..") && v.length <= 1024
    ? null
    : "must be an absolute path of [A-Za-z0-9._/+-] without '..'";
const isOptionalAbsolutePath: Validator = (v) => (v === "" ? null : isAbsolutePath(v));
const isUuid: Validator = (v) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v) ? null : "must be a UUID";
const isHttpUrl: Validator = (v) => {
  if (v.length > 2048 || /[\s\0]/.test(v)) return "must be an http(s) URL without whitespace";
  try {
    const u = new URL(v);
    if (u.protocol !== "http:" && u.protocol !== "https:") return "must be an http(s) URL";
    if (u.username || u.password) return "must not carry credentials";
    return null;
  } catch {
    return "must be an http(s) URL";
  }
};
/** A generated nginx include file: printable text and newlines, bounded. */
const isConfigText: Validator = (v) => {
  if (v.length > 64 * 1024) return "must be at most 64 KiB";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\0-\x08\x0b-\x1f\x7f]/.test(v))
    return "must not contain control characters other than newline and tab";
  return null;
};

export const TEMPLATE_VARIABLES = {
  cluster_name: { scope: "switchover", validate: isName, description: "the cluster's name" },
  epoch: {
    scope: "switchover",
    validate: isInt(0, Number.MAX_SAFE_INTEGER),
    description: "the epoch this switchover establishes; every command carries it",
  },
  switchover_id: { scope: "switchover", validate: isUuid, description: "the switchover's id" },
  node_name: { scope: "node", validate: isName, description: "the target node's name" },
  node_host: { scope: "node", validate: isHost, description: "the target node's address" },
  node_port: { scope: "node", validate: isPort, description: "the target node's service port" },
  health_path: { scope: "node", validate: isHealthPath, description: "the target node's health path" },
  old_primary_name: { scope: "switchover", validate: isName, description: "the primary being replaced" },
  old_primary_host: { scope: "switchover", validate: isHost, description: "its address" },
  old_primary_port: { scope: "switchover", validate: isPort, description: "its service port" },
  new_primary_name: { scope: "switchover", validate: isName, description: "the node taking over" },
  new_primary_host: { scope: "switchover", validate: isHost, description: "its address" },
  new_primary_port: { scope: "switchover", validate: isPort, description: "its service port" },
  lb_endpoint_url: {
    scope: "switchover",
    validate: isHttpUrl,
    description: "the endpoint clients use, through the load balancer",
  },
  upstream_path: {
    scope: "lb",
    validate: isAbsolutePath,
    description: "the nginx upstream include file Switchyard owns",
  },
  upstream_config: {
    scope: "lb",
    validate: isConfigText,
    description: "the generated upstream file's content for this step",
  },
  nginx_bin: { scope: "lb", validate: isAbsolutePathOrWord(), description: "the nginx binary" },
  nginx_conf: {
    scope: "lb",
    validate: isOptionalAbsolutePath,
    description: "nginx's main config file (-c), empty for nginx's default",
  },
  verify_deadline_ms: {
    scope: "switchover",
    validate: isInt(100, 600_000),
    description: "how long verify may wait, in milliseconds",
  },
} as const satisfies Record<
  string,
  { scope: "switchover" | "node" | "lb"; validate: Validator; description: string }
>;

function isAbsolutePathOrWord(): Validator {
  return (v) => (/^[A-Za-z0-9._+-]+$/.test(v) && !v.startsWith("-") ? null : isAbsolutePath(v));
}

export type VariableName = keyof typeof TEMPLATE_VARIABLES;
export type TemplateValues = Partial<Record<VariableName, string | number>>;

export function isVariableName(name: string): name is VariableName {
  return Object.hasOwn(TEMPLATE_VARIABLES, name);
}

/** The variables a step aimed at `target` may reference. */
export function variablesForTarget(target: StepTarget): VariableName[] {
  return (Object.keys(TEMPLATE_VARIABLES) as VariableName[]).filter((name) => {
    const scope = TEMPLATE_VARIABLES[name].scope;
    if (scope === "switchover") return true;
    if (scope === "node") return target !== "lb";
    return target === "lb";
  });
}

export class TemplateError extends Error {
  override name = "TemplateError";
  constructor(
    message: string,
    readonly variable: string | null,
    /** Offset in the template where the problem is. */
    readonly offset: number,
  ) {
    super(message);
  }
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

type Part = { literal: string } | { variable: string; offset: number };

/** Splits a template into literal text and placeholders; a stray `{{` or `}}` is an error. */
function parse(template: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    const literal = template.slice(last, m.index);
    checkLiteral(literal, last);
    if (literal) parts.push({ literal });
    parts.push({ variable: m[1] ?? "", offset: m.index });
    last = m.index + m[0].length;
  }
  const tail = template.slice(last);
  checkLiteral(tail, last);
  if (tail) parts.push({ literal: tail });
  return parts;
}

function checkLiteral(text: string, base: number): void {
  const open = text.indexOf("{{");
  if (open >= 0) throw new TemplateError("unclosed '{{' (write variables as {{name}})", null, base + open);
  const close = text.indexOf("}}");
  if (close >= 0) throw new TemplateError("'}}' without a matching '{{'", null, base + close);
  if (text.includes("\0")) throw new TemplateError("a command cannot contain NUL bytes", null, base);
}

/**
 * Checks a template without values: syntax, and that every variable exists and is available to a
 * step aimed at `target`. Returns the variables it references.
 */
export function checkTemplate(template: string, target: StepTarget): VariableName[] {
  const allowed = new Set(variablesForTarget(target));
  const used: VariableName[] = [];
  for (const part of parse(template)) {
    if (!("variable" in part)) continue;
    const name = part.variable;
    if (!isVariableName(name)) {
      throw new TemplateError(
        `unknown variable {{${name}}}; known: ${Object.keys(TEMPLATE_VARIABLES).join(", ")}`,
        name,
        part.offset,
      );
    }
    if (!allowed.has(name)) {
      throw new TemplateError(`{{${name}}} is not available to a step aimed at ${target}`, name, part.offset);
    }
    if (!used.includes(name)) used.push(name);
  }
  return used;
}

/**
 * Renders a command: each placeholder becomes its value, validated and single-quoted. A missing
 * or invalid value throws TemplateError naming the variable; nothing is rendered partially.
 */
export function renderCommand(template: string, values: TemplateValues): string {
  let out = "";
  for (const part of parse(template)) {
    if ("literal" in part) {
      out += part.literal;
      continue;
    }
    const name = part.variable;
    if (!isVariableName(name)) throw new TemplateError(`unknown variable {{${name}}}`, name, part.offset);
    const raw = values[name];
    if (raw === undefined || raw === null) {
      throw new TemplateError(`no value for {{${name}}} in this step`, name, part.offset);
    }
    const text = typeof raw === "number" ? (Number.isFinite(raw) ? String(raw) : "NaN") : raw;
    const problem = TEMPLATE_VARIABLES[name].validate(text);
    if (problem) {
      throw new TemplateError(
        `invalid value for {{${name}}}: ${problem} (got ${JSON.stringify(text.slice(0, 80))})`,
        name,
        part.offset,
      );
    }
    out += text === "" ? "''" : quoteShellArg(text);
  }
  return out;
}
