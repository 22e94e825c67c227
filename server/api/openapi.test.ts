// The OpenAPI document against the code: every `app/api/v1/**/route.ts` method is documented with
// the permission its withAuth checks (or is deliberately public), nothing else is documented, and
// the document is internally sound (references resolve, path parameters are declared).
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import { SESSION_COOKIE } from "@/server/auth/sessions";
import type { FleetOverviewDetail } from "@/server/fleet/queries";
import type { SwitchoverDetail, SwitchoverView } from "@/server/switchover/queries";
import { buildOpenApiDocument } from "./openapi";
import type { FleetOverviewSchema, SwitchoverDetailSchema, SwitchoverSchema } from "./schemas";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const API_DIR = path.join(ROOT, "app", "api", "v1");
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;

function walk(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((entry) => {
      const full = path.join(dir, entry);
      return statSync(full).isDirectory() ? walk(full) : entry === "route.ts" ? [full] : [];
    })
    .sort();
}

/** `app/api/v1/switchovers/[id]/report/route.ts` → `/switchovers/{id}/report` */
function templateOf(file: string): string {
  const dir = path.relative(API_DIR, path.dirname(file)).split(path.sep).join("/");
  return `/${dir}`.replaceAll(/\[(\w+)\]/g, "{$1}");
}

type Module = Record<string, unknown> & { PUBLIC?: unknown };
type Op = {
  operationId: string;
  security?: unknown[];
  "x-permission"?: string;
  parameters?: Array<{ name: string; in: string; required: boolean }>;
  responses: Record<string, unknown>;
};

async function routes() {
  const out: Array<{ key: string; template: string; method: string; permission: unknown; mod: Module }> = [];
  for (const file of walk(API_DIR)) {
    const mod = (await import(file)) as Module;
    for (const method of METHODS) {
      const handler = mod[method] as (((...args: never[]) => unknown) & { permission?: unknown }) | undefined;
      if (typeof handler !== "function") continue;
      const template = templateOf(file);
      out.push({ key: `${method} ${template}`, template, method, permission: handler.permission, mod });
    }
  }
  return out;
}

const doc = buildOpenApiDocument();
const operations = Object.entries(doc.paths).flatMap(([template, item]) =>
  Object.entries(item).map(([method, op]) => ({
    key: `${method.toUpperCase()} ${template}`,
    template,
    op: op as Op,
  })),
);

describe("the OpenAPI document", () => {
  it("documents every /api/v1 route file's path and method, and nothing else", async () => {
    const found = await routes();
    expect(found.length).toBeGreaterThanOrEqual(12);
    expect(operations.map((o) => o.key).sort()).toEqual(found.map((r) => r.key).sort());
    // The endpoints this API promises, by name: a deleted route file fails here, not in a user's CLI.
    for (const key of [
      "GET /status",
      "GET /clusters",
      "GET /clusters/{id}",
      "GET /nodes",
      "GET /availability",
      "GET /switchovers",
      "POST /switchovers",
      "GET /switchovers/{id}",
      "GET /switchovers/{id}/report",
      "GET /openapi.json",
    ]) {
      expect(found.map((r) => r.key)).toContain(key);
    }
  });

  it("gives each operation the permission its handler checks; public ones are marked on both sides", async () => {
    for (const route of await routes()) {
      const op = operations.find((o) => o.key === route.key)?.op;
      if (!op) throw new Error(`${route.key} is not documented`);
      if (route.permission) {
        expect(op["x-permission"], route.key).toBe(route.permission);
        expect(op.security, `${route.key} inherits the document's security`).toBeUndefined();
        expect(Object.keys(op.responses), route.key).toEqual(expect.arrayContaining(["401", "403"]));
      } else {
        expect(route.mod.PUBLIC, `${route.key} has no withAuth and no PUBLIC marker`).toBe(true);
        expect(op.security, `${route.key} is public in the document`).toEqual([]);
        expect(op["x-permission"]).toBeUndefined();
      }
    }
  });

  it("declares bearer (syd_ tokens) and cookie authentication", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.security).toEqual([{ bearerAuth: [] }, { cookieAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(String(doc.components.securitySchemes.bearerAuth?.bearerFormat)).toMatch(/^syd_/);
    expect(doc.components.securitySchemes.cookieAuth).toMatchObject({
      type: "apiKey",
      in: "cookie",
      name: SESSION_COOKIE,
    });
  });

  it("is sound: unique operation ids, declared path parameters, resolvable references", () => {
    const ids = operations.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { key, template, op } of operations) {
      const inPath = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p) => p.in === "path");
      expect(
        declared.map((p) => p.name),
        key,
      ).toEqual(inPath);
      expect(declared.every((p) => p.required)).toBe(true);
      expect(
        Object.keys(op.responses).some((s) => s.startsWith("2")),
        `${key} has a success response`,
      ).toBe(true);
    }
    const refs = new Set<string>();
    const collect = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === "object") {
        for (const [k, x] of Object.entries(v)) {
          if (k === "$ref" && typeof x === "string") refs.add(x);
          else collect(x);
        }
      }
    };
    collect(doc);
    expect(refs.size).toBeGreaterThan(10);
    for (const ref of refs) {
      const m = /^#\/components\/schemas\/(\w+)$/.exec(ref);
      expect(m, ref).not.toBeNull();
      expect(doc.components.schemas[m?.[1] ?? ""], ref).toBeDefined();
    }
    // Survives a JSON round trip unchanged (no functions, no undefined, no Dates).
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it("describes the error shape every failure uses", () => {
    expect(doc.components.schemas.Error).toMatchObject({
      type: "object",
      required: ["error", "message"],
      properties: { error: { type: "string" }, message: { type: "string" }, issues: { type: "array" } },
    });
  });

  it("has schemas that are the types the existing read models return", () => {
    expectTypeOf<z.infer<typeof SwitchoverSchema>>().toEqualTypeOf<SwitchoverView>();
    // zod infers an `unknown` field as optional; the read model always sets it (maybe to null).
    expectTypeOf<Omit<z.infer<typeof SwitchoverDetailSchema>, "evidence">>().toEqualTypeOf<
      Omit<SwitchoverDetail, "evidence">
    >();
    expectTypeOf<z.infer<typeof FleetOverviewSchema>>().toEqualTypeOf<FleetOverviewDetail>();
  });
});
