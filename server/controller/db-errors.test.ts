import { describe, expect, it } from "vitest";
import { isPermanentDbError } from "./controller";

describe("which failed writes the controller drops instead of retrying", () => {
  it.each([
    ["a check constraint (23514)", { code: "23514" }, true],
    ["a foreign key (23503) wrapped by drizzle", { message: "Failed query", cause: { code: "23503" } }, true],
    ["invalid input syntax (22P02)", { cause: { code: "22P02" } }, true],
    ["an undefined column (42703)", { code: "42703" }, true],
    ["the server shutting down (57P01)", { code: "57P01" }, false],
    ["a connection refused", { code: "ECONNREFUSED" }, false],
    ["a closed connection (postgres-js)", { code: "CONNECTION_CLOSED" }, false],
    ["a serialization failure (40001)", { code: "40001" }, false],
    ["a plain error", new Error("boom"), false],
  ])("%s → permanent: %s", (_name, err, permanent) => {
    expect(isPermanentDbError(err)).toBe(permanent);
  });
});
