/**
 * POSIX `sh` quoting for every value that is interpolated into a remote command. Remote commands
 * are strings executed by the far side's shell, so a node name or path containing `$(...)`, `;` or
 * a quote would otherwise run as code (the Dokploy CVE class). Build commands with the `sh`
 * template tag and every `${value}` is single-quoted; literal text stays as written.
 */
import { SshConfigError } from "./errors";

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one argument for POSIX sh. Plain words pass through unchanged so commands stay readable. */
export function quoteShellArg(value: string | number): string {
  const text = typeof value === "number" ? numberToArg(value) : value;
  if (text.includes("\0")) {
    // A shell argument cannot carry NUL; silently truncating would change what runs.
    throw new SshConfigError("Shell arguments cannot contain NUL bytes");
  }
  if (SAFE_WORD.test(text)) return text;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function numberToArg(value: number): string {
  if (!Number.isFinite(value)) throw new SshConfigError(`Not a finite number: ${value}`);
  return String(value);
}

type ShellValue = string | number | readonly (string | number)[];

/**
 * Template tag: sh`nvidia-smi --query-gpu=${fields} -lms ${ms}` quotes each value; an array value
 * becomes several quoted words.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += Array.isArray(value)
      ? (value as readonly (string | number)[]).map(quoteShellArg).join(" ")
      : quoteShellArg(value as string | number);
    out += strings[i + 1] ?? "";
  });
  return out;
}
