// The `/api/v1` contract, written once as zod schemas: the read models return these types, the
// route handlers validate their input with them, the OpenAPI document (openapi.ts) is derived from
// them, and the tests parse real responses with them — so the document cannot drift from what the
// API answers. Shapes are plain JSON (ISO 8601 strings in UTC) and carry no secrets: no credential
// ids, private keys, token or session hashes. Adding a field is not a breaking change; clients must
// ignore fields they do not know.
import { z } from "zod";
import { clusterMode, nodeRole, nodeState, signalRequirement, userRole } from "@/db/schema";
import { switchoverKind, switchoverState } from "@/db/schema/switchovers";

/** Schemas with an id become `#/components/schemas/<id>` in the OpenAPI document. */
export const apiRegistry = z.registry<{ id: string; description?: string }>();

const isoTime = z.iso.datetime();
const uuid = z.uuid();

export const ErrorSchema = z
  .object({
    error: z.string().describe("A stable machine-readable code, e.g. `not_found`, `invalid_query`."),
    message: z.string().describe("A human-readable explanation."),
    issues: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe("Validation problems, one per bad field."),
  })
  .register(apiRegistry, { id: "Error", description: "Every error answer has this shape." });

export const ClusterModeSchema = z.enum(clusterMode.enumValues);
export const NodeRoleSchema = z.enum(nodeRole.enumValues);
export const NodeStateSchema = z.enum(nodeState.enumValues);
export const RoleSchema = z.enum(userRole.enumValues);

export const ClusterStatusSchema = z
  .enum(["healthy", "degraded", "down", "maintenance", "unprobed", "no_nodes"])
  .register(apiRegistry, {
    id: "ClusterStatus",
    description:
      "down: every active node (the primary, or every pool member) failed; degraded: some node is not healthy; unprobed: no node has been probed yet.",
  });

// --- nodes ---------------------------------------------------------------------------------------

export const NodeSchema = z
  .object({
    id: uuid,
    name: z.string(),
    clusterId: uuid,
    clusterName: z.string(),
    host: z.string(),
    sshPort: z.number().int(),
    servicePort: z.number().int(),
    healthPath: z.string(),
    role: NodeRoleSchema.describe("The role the control plane wants the node to have (target state)."),
    isPrimary: z.boolean().describe("The cluster's target primary (active-standby clusters only)."),
    state: NodeStateSchema.describe("The detector's verdict."),
    reportedRole: z.string().nullable().describe("What the node last said on its health endpoint."),
    priority: z.number().int().describe("Lower = preferred standby."),
    weight: z.number().int().describe("Load-balancer weight (pools)."),
    maintenance: z.boolean(),
    lbStatus: z.enum(["in", "ejected", "drained"]).describe("Pool members: whether the LB sends traffic."),
    hostKeyFingerprint: z.string().nullable().describe("Pinned SSH host key (public), `SHA256:…`."),
    stateChangedAt: isoTime,
    lastSeenAt: isoTime.nullable(),
  })
  .register(apiRegistry, { id: "Node" });
export type NodeView = z.infer<typeof NodeSchema>;

export const NodeListSchema = z
  .object({ items: z.array(NodeSchema), generatedAt: isoTime })
  .register(apiRegistry, { id: "NodeList" });
export type NodeList = z.infer<typeof NodeListSchema>;

export const NodesQuerySchema = z.object({
  cluster: z.string().min(1).max(200).optional().describe("Only this cluster's nodes (id or name)."),
  state: NodeStateSchema.optional().describe("Only nodes in this state."),
});

// --- clusters ------------------------------------------------------------------------------------

export const ClusterSummarySchema = z
  .object({
    id: uuid,
    name: z.string(),
    description: z.string(),
    mode: ClusterModeSchema,
    slaTargetPct: z.number().describe("e.g. 99.99"),
    primaryNodeId: uuid.nullable(),
    primary: z.string().nullable().describe("The target primary's node name; null for pools."),
    epoch: z.number().int().describe("Fencing epoch: grows with every switchover."),
    maintenance: z.boolean(),
    frozenUntil: isoTime.nullable().describe("Automatic failover is frozen until then (anti-flap)."),
    nodeCount: z.number().int(),
    healthyNodes: z.number().int(),
    status: ClusterStatusSchema,
  })
  .register(apiRegistry, { id: "ClusterSummary" });
export type ClusterSummary = z.infer<typeof ClusterSummarySchema>;

export const ClusterListSchema = z
  .object({ items: z.array(ClusterSummarySchema), generatedAt: isoTime })
  .register(apiRegistry, { id: "ClusterList" });
export type ClusterList = z.infer<typeof ClusterListSchema>;

export const PolicySchema = z
  .object({
    preset: z.string(),
    probeIntervalMs: z.number().int(),
    tcpTimeoutMs: z.number().int(),
    httpTimeoutMs: z.number().int(),
    latencyThresholdMs: z.number().int(),
    failuresToFail: z.number().int(),
    successesToRecover: z.number().int(),
    signalsRequired: z.enum(signalRequirement.enumValues),
    gpuTempAlertC: z.number().int(),
    gpuMemoryAlertPct: z.number().int(),
    gpuUtilSaturationPct: z.number().int(),
    gpuSaturationSustainS: z.number().int(),
    autoFailover: z.boolean(),
    cooldownS: z.number().int(),
    freezeAfterFailoversPerHour: z.number().int(),
    verifyDeadlineMs: z.number().int(),
    version: z.number().int(),
    updatedAt: isoTime,
  })
  .register(apiRegistry, { id: "Policy" });

export const LoadBalancerSchema = z
  .object({
    id: uuid,
    name: z.string(),
    host: z.string(),
    endpointUrl: z.string().describe("The endpoint clients use."),
    hostKeyFingerprint: z.string().nullable(),
  })
  .register(apiRegistry, { id: "LoadBalancer" });

export const SwitchoverRefSchema = z
  .object({
    id: uuid,
    kind: z.enum(switchoverKind.enumValues),
    state: z.enum(switchoverState.enumValues),
    requestedAt: isoTime,
  })
  .register(apiRegistry, { id: "SwitchoverRef" });

export const ClusterDetailSchema = ClusterSummarySchema.extend({
  createdAt: isoTime,
  updatedAt: isoTime,
  nodes: z.array(NodeSchema),
  policy: PolicySchema.nullable(),
  loadBalancer: LoadBalancerSchema.nullable(),
  inFlightSwitchover: SwitchoverRefSchema.nullable(),
}).register(apiRegistry, { id: "ClusterDetail" });
export type ClusterDetail = z.infer<typeof ClusterDetailSchema>;

// --- status --------------------------------------------------------------------------------------

export const InFlightSwitchoverSchema = z
  .object({
    id: uuid,
    clusterId: uuid,
    clusterName: z.string(),
    kind: z.enum(switchoverKind.enumValues),
    state: z.enum(switchoverState.enumValues),
    from: z.string().nullable(),
    to: z.string().nullable(),
    requestedBy: z.string(),
    requestedAt: isoTime,
  })
  .register(apiRegistry, { id: "InFlightSwitchover" });

export const StatusSchema = z
  .object({
    generatedAt: isoTime,
    clusters: z.array(
      z.object({
        id: uuid,
        name: z.string(),
        mode: ClusterModeSchema,
        status: ClusterStatusSchema,
        primary: z.string().nullable(),
        epoch: z.number().int(),
        maintenance: z.boolean(),
        nodes: z.object({ total: z.number().int(), healthy: z.number().int() }),
      }),
    ),
    switchoversInFlight: z.array(InFlightSwitchoverSchema),
    alerts: z.object({
      open: z.number().int(),
      unacknowledged: z.number().int(),
      critical: z.number().int().describe("Open alerts with severity critical."),
    }),
    controller: z
      .object({
        leader: z.string().nullable().describe("The lease holder, null when no live leader."),
        epoch: z.number().int().nullable(),
        leaseExpiresAt: isoTime.nullable(),
      })
      .describe("Controller leadership, from the lease row."),
  })
  .register(apiRegistry, { id: "Status", description: "What `switchyard status` prints." });
export type FleetStatus = z.infer<typeof StatusSchema>;

// --- availability --------------------------------------------------------------------------------

export const AVAILABILITY_DAYS = ["7", "30", "90"] as const;

export const AvailabilityQuerySchema = z.object({
  days: z
    .enum(AVAILABILITY_DAYS, { error: "days must be 7, 30 or 90" })
    .default("30")
    .transform(Number)
    .describe("The window: the last 7, 30 or 90 days up to now."),
  cluster: z.string().min(1).max(200).optional().describe("Only this cluster (id or name)."),
});

export const ClusterAvailabilitySchema = z
  .object({
    id: uuid,
    name: z.string(),
    slaTargetPct: z.number(),
    availabilityPct: z
      .number()
      .nullable()
      .describe("Over the known part of the window; null when nothing in it is known."),
    meetsSla: z.boolean().nullable(),
    downtimeMinutes: z.number(),
    unknownMinutes: z.number().describe("Time before the first recorded state: not counted."),
    errorBudgetMinutes: z.number().describe("Downtime the SLA allows over the known time."),
    errorBudgetRemainingMinutes: z.number().describe("Negative when the budget is spent."),
    incidents: z.number().int(),
    mttrMinutes: z.number().nullable(),
  })
  .register(apiRegistry, { id: "ClusterAvailability" });

export const AvailabilitySchema = z
  .object({
    days: z.number().int(),
    from: isoTime,
    to: isoTime,
    clusters: z.array(ClusterAvailabilitySchema),
  })
  .register(apiRegistry, { id: "Availability" });
export type AvailabilityView = z.infer<typeof AvailabilitySchema>;

// --- switchovers (routes in app/api/v1/switchovers, shapes from server/switchover/queries.ts) ----

export const SwitchoverSchema = z
  .object({
    id: uuid,
    clusterId: uuid,
    clusterName: z.string(),
    kind: z.string(),
    state: z.string(),
    from: z.string().nullable(),
    to: z.string().nullable(),
    epoch: z.number().int().nullable(),
    reason: z.string(),
    requestedBy: z.string(),
    error: z.string().nullable(),
    requestedAt: isoTime,
    startedAt: isoTime.nullable(),
    finishedAt: isoTime.nullable(),
    hasReport: z.boolean(),
  })
  .register(apiRegistry, { id: "Switchover" });

export const SwitchoverStepSchema = z
  .object({
    seq: z.number().int(),
    phase: z.string(),
    name: z.string(),
    target: z.string(),
    state: z.string(),
    command: z.string(),
    exitCode: z.number().int().nullable(),
    stdout: z.string(),
    stderr: z.string(),
    outputTruncated: z.boolean(),
    startedAt: isoTime.nullable(),
    finishedAt: isoTime.nullable(),
    durationMs: z.number().nullable(),
  })
  .register(apiRegistry, { id: "SwitchoverStep" });

export const SwitchoverDetailSchema = SwitchoverSchema.extend({
  evidence: z.unknown().describe("What the controller saw when it decided (automatic failovers)."),
  steps: z.array(SwitchoverStepSchema),
}).register(apiRegistry, { id: "SwitchoverDetail" });

export const SwitchoverListSchema = z
  .object({ items: z.array(SwitchoverSchema) })
  .register(apiRegistry, { id: "SwitchoverList" });

export const SwitchoverRequestSchema = z
  .object({
    cluster: z.string().min(1).max(200).describe("Cluster id or name."),
    target: z.string().min(1).max(200).optional().describe("Node id or name; default: the best standby."),
    reason: z.string().min(1).max(500).describe("Kept in the audit log."),
    drill: z.boolean().optional().describe("Switch back afterwards."),
  })
  .register(apiRegistry, { id: "SwitchoverRequest" });

export const SwitchoverAcceptedSchema = z
  .object({ id: uuid, status: z.string().describe("Where to follow it.") })
  .register(apiRegistry, { id: "SwitchoverAccepted" });

export const SwitchoverConflictSchema = ErrorSchema.extend({
  inFlight: uuid.nullable().optional().describe("The switchover already in flight, if any."),
}).register(apiRegistry, { id: "SwitchoverConflict" });

export const SwitchoverReportSchema = z
  .looseObject({
    format: z.literal("switchyard.switchover-report/v1"),
    id: uuid,
    cluster: z.object({ id: uuid, name: z.string() }).nullable(),
    kind: z.string(),
    state: z.string(),
    epoch: z.number().int().nullable(),
    reason: z.string(),
    requestedBy: z.string(),
    from: z.string().nullable(),
    to: z.string().nullable(),
    error: z.string().nullable(),
    requestedAt: isoTime,
    startedAt: isoTime.nullable(),
    finishedAt: isoTime.nullable(),
    totalMs: z.number().nullable(),
    executionMs: z.number().nullable(),
    phases: z.array(z.object({ phase: z.string(), ms: z.number(), steps: z.number().int() })),
    steps: z.array(z.looseObject({ seq: z.number().int(), phase: z.string(), name: z.string() })),
    evidence: z.unknown(),
    gpuSnapshot: z.unknown(),
    generatedAt: isoTime,
  })
  .register(apiRegistry, { id: "SwitchoverReport", description: "The finished switchover's report." });

// --- fleet overview (the dashboard's own read model, app/api/v1/fleet) ---------------------------

export const FleetOverviewSchema = z
  .object({
    generatedAt: isoTime,
    clusters: z.array(
      z.object({
        id: uuid,
        name: z.string(),
        description: z.string(),
        mode: ClusterModeSchema,
        slaTargetPct: z.number(),
        epoch: z.number().int(),
        maintenance: z.boolean(),
        frozenUntil: isoTime
          .nullable()
          .describe("Automatic failover is frozen until then (set by an admin)."),
        frozen: z
          .boolean()
          .describe("In maintenance or frozenUntil is in the future: automatic failover will not act."),
        primaryNodeId: uuid.nullable(),
        status: z
          .enum(["healthy", "degraded", "down", "failing_over", "frozen", "unknown"])
          .describe(
            "failing_over: a switchover is in flight; down: no active node serves; frozen: maintenance or a freeze; degraded: some node is not healthy; unknown: no nodes, or none probed yet.",
          ),
        inFlightSwitchoverId: uuid.nullable(),
        availability: z.object({
          pct: z
            .number()
            .nullable()
            .describe("Over the known part of the window; null when nothing is known yet."),
          targetPct: z.number(),
          windowDays: z.number().int(),
          knownMs: z.number().describe("Time in the window with a recorded state."),
          downtimeMs: z.number(),
        }),
        alerts: z.object({
          firing: z.number().int().describe("Unresolved alerts on the cluster or its nodes."),
          worst: z
            .object({
              severity: z.enum(["info", "warning", "critical"]),
              message: z.string(),
              firedAt: isoTime,
            })
            .nullable(),
        }),
        recentSwitchovers: z
          .array(
            z.object({
              id: uuid,
              kind: z.enum(switchoverKind.enumValues),
              state: z.enum(switchoverState.enumValues),
              from: z.string().nullable(),
              to: z.string().nullable(),
              requestedAt: isoTime,
              finishedAt: isoTime.nullable(),
            }),
          )
          .describe("The latest three, newest first."),
        nodes: z.array(
          z.object({
            id: uuid,
            name: z.string(),
            host: z.string(),
            servicePort: z.number().int(),
            role: NodeRoleSchema,
            state: NodeStateSchema,
            reportedRole: z.string().nullable(),
            priority: z.number().int(),
            weight: z.number().int(),
            maintenance: z.boolean(),
            hostKeyPinned: z.boolean(),
            stateChangedAt: isoTime,
            lastSeenAt: isoTime.nullable(),
          }),
        ),
      }),
    ),
  })
  .register(apiRegistry, { id: "FleetOverview", description: "The dashboard's fleet view." });

// --- API tokens (admin) --------------------------------------------------------------------------

export const TokenSchema = z
  .object({
    id: uuid,
    name: z.string(),
    prefix: z.string().describe("The token starts with `syd_<prefix>_`; shown so tokens can be told apart."),
    role: RoleSchema,
    createdBy: z.string().nullable(),
    createdAt: isoTime,
    lastUsedAt: isoTime.nullable(),
    expiresAt: isoTime.nullable(),
    revokedAt: isoTime.nullable(),
    status: z.enum(["active", "expired", "revoked"]),
  })
  .register(apiRegistry, { id: "ApiToken", description: "An API token; never the token or its hash." });
export type TokenView = z.infer<typeof TokenSchema>;

export const TokenListSchema = z
  .object({ items: z.array(TokenSchema) })
  .register(apiRegistry, { id: "ApiTokenList" });
export type TokenList = z.infer<typeof TokenListSchema>;
