/**
 * Form values → what the shared schemas expect. Browsers send text: "  10.0.0.5 " for a host, "22"
 * for a port, "" for a field left empty. This trims strings, drops empty ones (so an optional field
 * means its default and a required one gets "is required"), and turns numeric text into a number for
 * the named fields. Text that is not a number stays text, so the schema says "must be a number"
 * next to the field instead of a NaN slipping through. The rules themselves stay in the schemas.
 */

const NUMBER_RE = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function normalizeForm(
  input: unknown,
  opts: {
    numeric?: readonly string[];
    /** Fields where empty means "none" (null) rather than "the default". */
    nullable?: readonly string[];
    /** Fields kept exactly as typed (key text). */
    raw?: readonly string[];
  } = {},
): unknown {
  if (!isRecord(input)) return input;
  const numeric = new Set(opts.numeric ?? []);
  const nullable = new Set(opts.nullable ?? []);
  const raw = new Set(opts.raw ?? []);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (typeof value !== "string" || raw.has(key)) {
      if (value !== undefined) out[key] = value;
      continue;
    }
    const text = value.trim();
    if (text === "") {
      if (nullable.has(key)) out[key] = null;
      continue;
    }
    out[key] = numeric.has(key) && NUMBER_RE.test(text) ? Number(text) : text;
  }
  return out;
}
