// The small pieces every settings form leans on: form text normalised before the shared schemas see
// it, zod issues turned into one sentence per field, and failures mapped so the browser only ever
// gets messages we wrote.
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { DecryptionError } from "@/server/credentials/crypto";
import { inventoryNodeSchema } from "@/server/inventory/schema";
import { issuesFromZod, SettingsError, settle, toFailure } from "./errors";
import { normalizeForm } from "./form";

describe("normalizeForm", () => {
  it("trims, drops empty fields, turns numeric text into numbers only where asked", () => {
    expect(
      normalizeForm(
        {
          host: " 10.0.0.1 ",
          sshPort: " 22 ",
          weight: "1e1",
          priority: "ten",
          user: "",
          fp: "  ",
          keep: " x ",
        },
        { numeric: ["sshPort", "weight", "priority"], nullable: ["fp"], raw: ["keep"] },
      ),
    ).toEqual({ host: "10.0.0.1", sshPort: 22, weight: 10, priority: "ten", fp: null, keep: " x " });
  });

  it("leaves non-objects and non-strings alone (the schema judges them)", () => {
    expect(normalizeForm("nope")).toBe("nope");
    expect(normalizeForm({ a: 1, b: true, c: null, d: undefined })).toEqual({ a: 1, b: true, c: null });
  });
});

describe("issuesFromZod", () => {
  it("puts the field's label in front of the shared schemas' fragments, one issue per field", () => {
    const schema = z.object({
      sshPort: inventoryNodeSchema.shape.sshPort,
      host: inventoryNodeSchema.shape.host,
    });
    const parsed = schema.safeParse({ sshPort: 0 });
    if (parsed.success) throw new Error("expected failure");
    expect(issuesFromZod(parsed.error, { sshPort: "SSH port", host: "Host" })).toEqual([
      { field: "sshPort", message: "SSH port must be between 1 and 65535" },
      { field: "host", message: "Host is required" },
    ]);
  });
});

describe("toFailure", () => {
  it("returns our errors verbatim with their fields", () => {
    const err = new SettingsError("invalid", "2 fields need fixing", [
      { field: "name", message: "Name is required" },
      { field: "host", message: "Host is required" },
    ]);
    expect(toFailure(err)).toEqual({
      ok: false,
      error: "2 fields need fixing",
      status: 422,
      field: "name",
      issues: err.issues,
    });
  });

  it("maps a unique violation to the field its index guards", () => {
    const pg = Object.assign(new Error("duplicate key value violates unique constraint"), {
      cause: { code: "23505", constraint_name: "nodes_endpoint_uq" },
    });
    expect(toFailure(pg)).toMatchObject({ ok: false, status: 409, field: "host" });
  });

  it("never passes unknown error text to the browser", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const res = await settle(async () => {
        throw new Error("connection to 10.9.9.9 failed: password authentication failed for user x");
      });
      expect(res).toEqual({
        ok: false,
        error: "The server could not complete this; nothing was saved.",
        status: 500,
      });
      expect(spy).toHaveBeenCalledOnce();
    } finally {
      spy.mockRestore();
    }
    expect(toFailure(new DecryptionError())).toMatchObject({
      status: 503,
      error: expect.stringMatching(/SWITCHYARD_SECRET_KEY/),
    });
  });
});
