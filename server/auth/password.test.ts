// Password hashing and the password rules: no database needed.
import { describe, expect, it } from "vitest";
import { dummyHash, hashPassword, MIN_PASSWORD_LENGTH, passwordProblem, verifyPassword } from "./password";

const ARGON2ID = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/;

describe("password hashing (argon2id)", () => {
  it("produces an argon2id PHC string with OWASP's minimum parameters and a random salt", async () => {
    const a = await hashPassword("correct horse battery staple");
    const b = await hashPassword("correct horse battery staple");
    expect(a).toMatch(ARGON2ID);
    expect(b).toMatch(ARGON2ID);
    expect(a).not.toBe(b);
    expect(a).not.toContain("correct horse");
  });

  it("verifies the right password and refuses a wrong one", async () => {
    const stored = await hashPassword("correct horse battery staple");
    expect(await verifyPassword(stored, "correct horse battery staple")).toBe(true);
    expect(await verifyPassword(stored, "correct horse battery stapler")).toBe(false);
    expect(await verifyPassword(stored, "Correct horse battery staple")).toBe(false);
    expect(await verifyPassword(stored, "")).toBe(false);
  });

  it("answers false, never throws, for a malformed hash or an over-long password", async () => {
    const stored = await hashPassword("correct horse battery staple");
    expect(await verifyPassword("not-a-hash", "correct horse battery staple")).toBe(false);
    expect(await verifyPassword("", "correct horse battery staple")).toBe(false);
    expect(await verifyPassword(stored.slice(0, -4), "correct horse battery staple")).toBe(false);
    const long = `${"x".repeat(300)}abcde`;
    expect(await verifyPassword(await hashPassword(long.slice(0, 256)), long)).toBe(false);
  });

  it("keeps one dummy hash (argon2id) to spend the same work on unknown users", async () => {
    const d = await dummyHash();
    expect(d).toMatch(ARGON2ID);
    expect(await dummyHash()).toBe(d);
  });
});

describe("password rules", () => {
  it.each([
    ["a 12-character password with 5 distinct characters", "abcdeabcdeab", undefined, null],
    ["a long passphrase", "correct horse battery staple", "alice", null],
    ["11 characters", "abcdefghijk", undefined, `at least ${MIN_PASSWORD_LENGTH} characters`],
    ["empty", "", undefined, `at least ${MIN_PASSWORD_LENGTH} characters`],
    ["257 characters", `${"abcdefghij".repeat(25)}abcdefg`, undefined, "at most 256 characters"],
    ["exactly 256 characters", `${"abcdefghij".repeat(25)}abcdef`, undefined, null],
    ["only 4 distinct characters", "abcdabcdabcd", undefined, "too repetitive"],
    ["one character repeated", "aaaaaaaaaaaaaaaaaaaa", undefined, "too repetitive"],
    ["the user name inside", "my-alice-password-2024", "alice", "must not contain the user name"],
    ["the user name in other case", "xxALICExx-1234567", "alice", "must not contain the user name"],
  ])("%s", (_name, password, username, problem) => {
    expect(passwordProblem(password, username)).toBe(problem);
  });
});
