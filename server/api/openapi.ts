// The OpenAPI 3.1 document for `/api/v1`, served at `GET /api/v1/openapi.json`. Operations are
// written here by hand (paths, parameters, which permission each needs, which errors it answers);
// every body schema is derived from the zod contract in schemas.ts, which the handlers and tests
// use too. A test (openapi.test.ts) checks that every route file's path and method is documented,
// with the permission its `withAuth` checks, and that nothing else is.
import { z } from "zod";
import { AuditQuerySchema } from "@/server/audit/queries";
import { PERMISSIONS, type Permission } from "@/server/auth/roles";
import { SESSION_COOKIE } from "@/server/auth/sessions";
import { AvailabilityReportQuerySchema } from "@/server/availability/schemas";
import { ClusterEventsQuerySchema, ClusterSeriesQuerySchema } from "@/server/cluster/schemas";
import { ClusterPreflightSchema } from "@/server/switchover/preflight";
import { AvailabilityQuerySchema, apiRegistry, NodesQuerySchema } from "./schemas";

type JsonSchema = Record<string, unknown>;
type Parameter = {
  name: string;
  in: "query" | "path";
  required: boolean;
  description?: string;
  schema: JsonSchema;
};
type Operation = {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Array<Record<string, string[]>>;
  "x-permission"?: Permission;
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<
    string,
    { description: string; headers?: JsonSchema; content?: Record<string, { schema: JsonSchema }> }
  >;
};
export type OpenApiDocument = {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string; description?: string }>;
  security: Array<Record<string, string[]>>;
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, Partial<Record<"get" | "post" | "put" | "patch" | "delete", Operation>>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
};

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/** zod's JSON Schema, trimmed for readers: a `format` says enough without zod's regex for it,
 * integer bounds are JavaScript's, and response objects stay open (new fields are not breaking). */
const trim = (ctx: { jsonSchema: JsonSchema }) => {
  const s = ctx.jsonSchema;
  if (typeof s.format === "string") delete s.pattern;
  if (s.minimum === -SAFE_INT) delete s.minimum;
  if (s.maximum === SAFE_INT) delete s.maximum;
  if (s.additionalProperties === false) delete s.additionalProperties;
};

function componentSchemas(): Record<string, JsonSchema> {
  const out = z.toJSONSchema(apiRegistry, {
    target: "draft-2020-12",
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: "any",
    override: trim,
  }).schemas;
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(out)) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    schemas[id] = rest;
  }
  return schemas;
}

function queryParameters(schema: z.ZodObject): Parameter[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const json = z.toJSONSchema(field as z.ZodType, {
      target: "draft-2020-12",
      io: "input",
      unrepresentable: "any",
      override: trim,
    }) as JsonSchema;
    const { $schema: _s, description, ...rest } = json;
    return {
      name,
      in: "query" as const,
      required: !(field as z.ZodType).safeParse(undefined).success,
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
/** The component id a schema registered under (schemas registered outside schemas.ts, too). */
const idOf = (schema: z.ZodType): string => {
  const id = apiRegistry.get(schema)?.id;
  if (!id) throw new Error("schema is not registered in apiRegistry");
  return id;
};
const json = (id: string) => ({ "application/json": { schema: ref(id) } });
const error = (description: string) => ({ description, content: json("Error") });

const ERRORS = {
  400: error("Invalid query parameters (see `issues`)."),
  401: {
    ...error("No valid credentials: missing, unknown, expired or revoked token, or no session."),
    headers: { "WWW-Authenticate": { schema: { type: "string" }, description: "`Bearer`" } },
  },
  403: error("The credentials' role lacks the permission (see `x-permission`)."),
  404: error("No such resource."),
} as const;

/** An authenticated operation: its permission, the role that has it, and 401/403. */
function authed(
  permission: Permission,
  op: Omit<Operation, "x-permission" | "responses"> & { responses: Operation["responses"] },
): Operation {
  return {
    ...op,
    description: `${op.description ? `${op.description}\n\n` : ""}Requires \`${permission}\` (role ${PERMISSIONS[permission]} or above).`,
    "x-permission": permission,
    responses: { ...op.responses, 401: ERRORS[401], 403: ERRORS[403] },
  };
}

const idParam = (description: string): Parameter => ({
  name: "id",
  in: "path",
  required: true,
  description,
  schema: { type: "string" },
});

export function buildOpenApiDocument(): OpenApiDocument {
  const paths: OpenApiDocument["paths"] = {
    "/status": {
      get: authed("fleet.read", {
        operationId: "getStatus",
        summary: "Fleet status at a glance",
        description:
          "Each cluster's status and primary, the switchovers in flight, open alerts and the controller leader: what `switchyard status` prints.",
        tags: ["fleet"],
        responses: { 200: { description: "The summary.", content: json("Status") } },
      }),
    },
    "/clusters": {
      get: authed("fleet.read", {
        operationId: "listClusters",
        summary: "List clusters",
        tags: ["fleet"],
        responses: { 200: { description: "Every cluster, by name.", content: json("ClusterList") } },
      }),
    },
    "/clusters/{id}": {
      get: authed("fleet.read", {
        operationId: "getCluster",
        summary: "One cluster with its nodes, policy and load balancer",
        description: "Never credentials or key material: host-key fingerprints are public.",
        tags: ["fleet"],
        parameters: [idParam("The cluster's id or name.")],
        responses: {
          200: { description: "The cluster.", content: json("ClusterDetail") },
          400: ERRORS[400],
          404: ERRORS[404],
        },
      }),
    },
    "/clusters/{id}/preflight": {
      get: authed("fleet.read", {
        operationId: "getClusterPreflight",
        summary: "Preflight checks before a manual switchover",
        description:
          "Per standby: healthy, reports standby, GPU telemetry fresh (a sample under 30 s old) or lost, maintenance. For the cluster: a switchover in flight, the primary, cooldown / freeze (they hold back automatic failover only; a manual switchover is not blocked, and the check says so), maintenance, the load balancer. Each check is `ok`, `warn` or `block`; `blockers` lists why no switchover can be requested now, and `recommendedTargetId` is the standby a request without a target would take.",
        tags: ["switchovers"],
        parameters: [idParam("The cluster's id or name.")],
        responses: {
          200: { description: "The checks.", content: json(idOf(ClusterPreflightSchema)) },
          400: ERRORS[400],
          404: ERRORS[404],
        },
      }),
    },
    "/clusters/{id}/series": {
      get: authed("fleet.read", {
        operationId: "getClusterSeries",
        summary: "A cluster's health latency and GPU series, per node",
        description:
          "For each node over the range (ending now): HTTP /health latency (median per bin), GPU utilisation, temperature, memory used and power (mean per bin, with the bin's maximum), downsampled on the server to at most `maxPoints` (500) points per series — raw rows for 15m and 1h, 1-minute rollups for 24h and 7d. Each node also carries its latest probe and GPU readings (the topology's signals).",
        tags: ["history"],
        parameters: [idParam("The cluster's id or name."), ...queryParameters(ClusterSeriesQuerySchema)],
        responses: {
          200: { description: "The series.", content: json("ClusterSeries") },
          400: ERRORS[400],
          404: ERRORS[404],
        },
      }),
    },
    "/clusters/{id}/events": {
      get: authed("fleet.read", {
        operationId: "listClusterEvents",
        summary: "A cluster's latest events",
        description:
          "Node state changes, switchover progress, alerts and controller notes about this cluster, newest first.",
        tags: ["history"],
        parameters: [idParam("The cluster's id or name."), ...queryParameters(ClusterEventsQuerySchema)],
        responses: {
          200: { description: "The events, newest first.", content: json("ClusterEventList") },
          400: ERRORS[400],
          404: ERRORS[404],
        },
      }),
    },
    "/nodes": {
      get: authed("fleet.read", {
        operationId: "listNodes",
        summary: "List nodes",
        tags: ["fleet"],
        parameters: queryParameters(NodesQuerySchema),
        responses: {
          200: { description: "Nodes by cluster, then priority.", content: json("NodeList") },
          400: ERRORS[400],
          404: error("The `cluster` filter names no cluster."),
        },
      }),
    },
    "/availability": {
      get: authed("fleet.read", {
        operationId: "getAvailability",
        summary: "Availability against the SLA",
        description:
          "Per cluster: the share of the window the endpoint had a healthy active node (from recorded state intervals), downtime, the SLA's error budget and incidents.",
        tags: ["history"],
        parameters: queryParameters(AvailabilityQuerySchema),
        responses: {
          200: { description: "One entry per cluster.", content: json("Availability") },
          400: ERRORS[400],
          404: error("The `cluster` filter names no cluster."),
        },
      }),
    },
    "/availability/report": {
      get: authed("fleet.read", {
        operationId: "getAvailabilityReport",
        summary: "The availability report (7, 30 and 90 days)",
        description:
          "Per cluster: availability, error budget and what is left of it, outages with MTTR and MTBF over the last 7, 30 and 90 days; one entry per UTC day for the last 90 days; switchovers by kind. A window with no recorded state has `availabilityPct: null` (no data yet), never 100. With `format=csv`, one table as a download.",
        tags: ["history"],
        parameters: queryParameters(AvailabilityReportQuerySchema),
        responses: {
          200: {
            description: "The report (or the CSV table).",
            content: {
              ...json("AvailabilityReport"),
              "text/csv": { schema: { type: "string" } },
            },
          },
          400: ERRORS[400],
          404: error("The `cluster` filter names no cluster."),
        },
      }),
    },
    "/audit": {
      get: authed("audit.read", {
        operationId: "listAuditLog",
        summary: "The audit log, filtered",
        description:
          "Newest first, a page at a time (keyset on id: follow `older` with `before`, `newer` with `after`). With `format=csv`, every matching row up to the cap, streamed as a download: `X-Truncated: true` says the filter matched more; text cells that a spreadsheet would evaluate start with a single quote.",
        tags: ["audit"],
        parameters: queryParameters(AuditQuerySchema),
        responses: {
          200: {
            description: "A page of entries (or the CSV).",
            content: {
              ...json("AuditPage"),
              "text/csv": { schema: { type: "string" } },
            },
          },
          400: ERRORS[400],
          404: error("The `cluster` filter names no cluster."),
        },
      }),
    },
    "/audit/chain": {
      get: authed("audit.read", {
        operationId: "getAuditChainStatus",
        summary: "Whether the audit log's hash chain verifies",
        description:
          "Walks the chain as `npm run audit:verify` does, at most once a minute per web process (`checkedAt` says when).",
        tags: ["audit"],
        responses: { 200: { description: "The chain's status.", content: json("AuditChainStatus") } },
      }),
    },
    "/fleet": {
      get: authed("fleet.read", {
        operationId: "getFleetOverview",
        summary: "The dashboard's fleet overview",
        description: "Clusters with their nodes, as the dashboard renders them.",
        tags: ["fleet"],
        responses: { 200: { description: "The overview.", content: json("FleetOverview") } },
      }),
    },
    "/switchovers": {
      get: authed("fleet.read", {
        operationId: "listSwitchovers",
        summary: "Recent switchovers, newest first",
        tags: ["switchovers"],
        parameters: [
          {
            name: "cluster",
            in: "query",
            required: false,
            description: "Only this cluster's (id).",
            schema: { type: "string", format: "uuid" },
          },
          {
            name: "limit",
            in: "query",
            required: false,
            description: "At most this many (1–500).",
            schema: { type: "integer", minimum: 1, maximum: 500, default: 50 },
          },
        ],
        responses: { 200: { description: "The switchovers.", content: json("SwitchoverList") } },
      }),
      post: authed("switchover.request", {
        operationId: "requestSwitchover",
        summary: "Request a switchover (or a drill)",
        description:
          "Answers at once with the new switchover's id; follow it at `GET /switchovers/{id}`. Audited with the reason.",
        tags: ["switchovers"],
        requestBody: {
          required: true,
          content: json("SwitchoverRequest"),
        },
        responses: {
          202: {
            description: "Accepted.",
            content: json("SwitchoverAccepted"),
          },
          404: error("No such cluster or target node."),
          409: {
            description: "A switchover is already in flight for the cluster, or it is not allowed now.",
            content: json("SwitchoverConflict"),
          },
          422: error("Invalid request body (see `issues`)."),
        },
      }),
    },
    "/switchovers/{id}": {
      get: authed("fleet.read", {
        operationId: "getSwitchover",
        summary: "One switchover with its steps",
        tags: ["switchovers"],
        parameters: [idParam("The switchover's id (uuid).")],
        responses: {
          200: { description: "The switchover.", content: json("SwitchoverDetail") },
          404: ERRORS[404],
        },
      }),
    },
    "/switchovers/{id}/report": {
      get: authed("fleet.read", {
        operationId: "getSwitchoverReport",
        summary: "A finished switchover's JSON report (download)",
        tags: ["switchovers"],
        parameters: [idParam("The switchover's id (uuid).")],
        responses: {
          200: { description: "The report, as an attachment.", content: json("SwitchoverReport") },
          404: error("No such switchover, or it has not finished."),
        },
      }),
    },
    "/tokens": {
      get: authed("token.manage", {
        operationId: "listApiTokens",
        summary: "List API tokens",
        description:
          "Names, prefixes, roles and last use; never a token or its hash. Create and revoke tokens in Settings → API tokens.",
        tags: ["admin"],
        responses: { 200: { description: "Newest first.", content: json("ApiTokenList") } },
      }),
    },
    "/openapi.json": {
      get: {
        operationId: "getOpenApiDocument",
        summary: "This document",
        description: "Public: it describes the API and contains no data.",
        tags: ["meta"],
        security: [],
        responses: {
          200: {
            description: "The OpenAPI 3.1 document.",
            content: { "application/json": { schema: { type: "object" } } },
          },
        },
      },
    },
  };

  return {
    openapi: "3.1.0",
    info: {
      title: "Switchyard API",
      version: "1.0.0",
      description: [
        "REST API of Switchyard, the failover control plane for GPU inference fleets: for CLIs and automation.",
        "",
        "Authenticate with an API token (`Authorization: Bearer syd_…`, created by an admin in Settings → API tokens; each token carries a role) or, from the dashboard, the session cookie.",
        "Every error answers `{ error, message, issues? }` with the HTTP status. Times are ISO 8601 in UTC. Clients must ignore fields they do not know.",
      ].join("\n"),
    },
    servers: [{ url: "/api/v1", description: "This Switchyard" }],
    security: [{ bearerAuth: [] }, { cookieAuth: [] }],
    tags: [
      { name: "fleet", description: "Clusters, nodes and their live state." },
      { name: "history", description: "Availability and SLA." },
      { name: "switchovers", description: "Requesting and following switchovers." },
      { name: "audit", description: "The append-only, hash-chained audit log." },
      { name: "admin", description: "Administration (admin role)." },
      { name: "meta", description: "About the API." },
    ],
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "syd_<prefix>_<secret>",
          description:
            "An API token, shown once when an admin creates it. It acts with its role (viewer, operator or admin) until it expires or is revoked.",
        },
        cookieAuth: {
          type: "apiKey",
          in: "cookie",
          name: SESSION_COOKIE,
          description: "The dashboard's session (set by signing in).",
        },
      },
    },
  };
}
