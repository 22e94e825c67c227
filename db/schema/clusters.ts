// Clusters, their load balancers and failover policies: the inventory an operator edits.
// A cluster keeps its *target* state (which node should be primary, at which epoch); nodes keep
// what they report. The epoch only grows: every switchover takes the next one, and nodes and the
// LB refuse commands carrying an older epoch (fencing).
import { relations, sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  doublePrecision,
  integer,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { credentials } from "./credentials";
import { clusterMode } from "./enums";
import { nodes } from "./nodes";

export const loadBalancers = pgTable(
  "load_balancers",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    host: text("host").notNull(),
    sshPort: integer("ssh_port").notNull().default(22),
    sshUser: text("ssh_user").notNull().default("switchyard"),
    credentialId: uuid("credential_id").references(() => credentials.id, { onDelete: "restrict" }),
    hostKeyFingerprint: text("host_key_fingerprint"),
    /** The nginx include file Switchyard owns and rewrites atomically (one upstream block). */
    upstreamConfigPath: text("upstream_config_path").notNull(),
    /** The endpoint clients use; verify checks it answers after a switch. */
    endpointUrl: text("endpoint_url").notNull(),
    /** nginx on the LB host: the binary and its main config (-c); null = nginx's default. */
    nginxBin: text("nginx_bin").notNull().default("nginx"),
    nginxConfPath: text("nginx_conf_path"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("load_balancers_name_uq").on(t.name),
    check("load_balancers_ssh_port_ck", sql`${t.sshPort} between 1 and 65535`),
  ],
);

export const signalRequirement = pgEnum("signal_requirement", ["any", "tcp_and_http", "all"]);

export const policies = pgTable(
  "policies",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clusterId: uuid("cluster_id")
      .notNull()
      .references((): AnyPgColumn => clusters.id, { onDelete: "cascade" }),
    preset: text("preset").notNull().default("default"),
    probeIntervalMs: integer("probe_interval_ms").notNull().default(1000),
    tcpTimeoutMs: integer("tcp_timeout_ms").notNull().default(500),
    httpTimeoutMs: integer("http_timeout_ms").notNull().default(1000),
    latencyThresholdMs: integer("latency_threshold_ms").notNull().default(500),
    failuresToFail: integer("failures_to_fail").notNull().default(3),
    successesToRecover: integer("successes_to_recover").notNull().default(3),
    /** Which signals must agree before a node is failed (see DESIGN.md "Policy"). */
    signalsRequired: signalRequirement("signals_required").notNull().default("any"),
    gpuTempAlertC: integer("gpu_temp_alert_c").notNull().default(85),
    gpuMemoryAlertPct: integer("gpu_memory_alert_pct").notNull().default(95),
    gpuUtilSaturationPct: integer("gpu_util_saturation_pct").notNull().default(98),
    gpuSaturationSustainS: integer("gpu_saturation_sustain_s").notNull().default(10),
    autoFailover: boolean("auto_failover").notNull().default(true),
    cooldownS: integer("cooldown_s").notNull().default(300),
    freezeAfterFailoversPerHour: integer("freeze_after_failovers_per_hour").notNull().default(2),
    verifyDeadlineMs: integer("verify_deadline_ms").notNull().default(10_000),
    version: integer("version").notNull().default(1),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("policies_cluster_uq").on(t.clusterId),
    check("policies_probe_interval_ck", sql`${t.probeIntervalMs} between 100 and 600000`),
    check("policies_timeouts_ck", sql`${t.tcpTimeoutMs} > 0 and ${t.httpTimeoutMs} > 0`),
    check(
      "policies_counts_ck",
      sql`${t.failuresToFail} between 1 and 100 and ${t.successesToRecover} between 1 and 100`,
    ),
    check("policies_verify_deadline_ck", sql`${t.verifyDeadlineMs} between 1000 and 600000`),
  ],
);

export const clusters = pgTable(
  "clusters",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    mode: clusterMode("mode").notNull(),
    /** e.g. 99.99 (percent of time the endpoint had a healthy active node). */
    slaTargetPct: doublePrecision("sla_target_pct").notNull().default(99.9),
    /** Target primary (active-standby only). */
    primaryNodeId: uuid("primary_node_id").references((): AnyPgColumn => nodes.id, { onDelete: "set null" }),
    epoch: bigint("epoch", { mode: "number" }).notNull().default(0),
    loadBalancerId: uuid("load_balancer_id").references(() => loadBalancers.id, { onDelete: "set null" }),
    maintenance: boolean("maintenance").notNull().default(false),
    frozenUntil: timestamp("frozen_until", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("clusters_name_uq").on(t.name),
    check("clusters_sla_ck", sql`${t.slaTargetPct} > 0 and ${t.slaTargetPct} < 100`),
    check("clusters_epoch_ck", sql`${t.epoch} >= 0`),
  ],
);

export const clustersRelations = relations(clusters, ({ many, one }) => ({
  nodes: many(nodes),
  policy: one(policies, { fields: [clusters.id], references: [policies.clusterId] }),
  loadBalancer: one(loadBalancers, { fields: [clusters.loadBalancerId], references: [loadBalancers.id] }),
}));
