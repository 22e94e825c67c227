// Passwords: argon2id (the @node-rs/argon2 defaults, OWASP's minimum: 19 MiB, t=2, p=1), verified in
// constant time by the library. A password must be long rather than "complex".
import { hash, verify } from "@node-rs/argon2";

/** Argon2id (the library's `Algorithm.Argon2id`, a const enum that cannot be imported here). */
const ARGON2ID = 2;

export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 256;

export function passwordProblem(password: string, username?: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `at most ${MAX_PASSWORD_LENGTH} characters`;
  if (username && password.toLowerCase().includes(username.toLowerCase()))
    return "must not contain the user name";
  if (new Set(password).size < 5) return "too repetitive";
  return null;
}

export async function hashPassword(password: string): Promise<string> {
  return await hash(password, { algorithm: ARGON2ID });
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** A hash of a random password, to spend the same time on unknown users as on known ones. */
let dummy: Promise<string> | null = null;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(`not-a-user-${Math.random()}`);
  return dummy;
}
