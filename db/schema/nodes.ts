// GPU nodes: where a service instance runs, how to reach it (HTTP for probes, SSH for telemetry
// and playbooks, with the host key pinned), and the detector's latest verdict.
import { relations, sql } from "drizzle-orm";
import {
  boolean,
  check,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { clusters } from "./clusters";
import { credentials } from "./credentials";
import { nodeRole, nodeState } from "./enums";

export const nodes = pgTable(
  "nodes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clusterId: uuid("cluster_id")
      .notNull()
      .references(() => clusters.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    host: text("host").notNull(),
    sshPort: integer("ssh_port").notNull().default(22),
    sshUser: text("ssh_user").notNull().default("switchyard"),
    credentialId: uuid("credential_id").references(() => credentials.id, { onDelete: "restrict" }),
    /** OpenSSH-style `SHA256:…`; null until an operator trusts the key explicitly. */
    hostKeyFingerprint: text("host_key_fingerprint"),
    servicePort: integer("service_port").notNull().default(8000),
    healthPath: text("health_path").notNull().default("/health"),
    /** Lower number = preferred standby. */
    priority: integer("priority").notNull().default(100),
    /** nginx upstream weight (active-active pools). */
    weight: integer("weight").notNull().default(1),
    role: nodeRole("role").notNull(),
    state: nodeState("state").notNull().default("unknown"),
    /** What the node itself last said on /health ("master" | "standby"), if anything. */
    reportedRole: text("reported_role"),
    maintenance: boolean("maintenance").notNull().default(false),
    /** Pool members only: whether the load balancer sends it traffic (in), or it was ejected by
     * the controller (failed) or drained by an operator. */
    lbStatus: text("lb_status").notNull().default("in"),
    stateChangedAt: timestamp("state_changed_at", { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("nodes_name_uq").on(t.name),
    uniqueIndex("nodes_endpoint_uq").on(t.host, t.servicePort),
    index("nodes_cluster_idx").on(t.clusterId),
    check("nodes_ports_ck", sql`${t.sshPort} between 1 and 65535 and ${t.servicePort} between 1 and 65535`),
    check("nodes_weight_ck", sql`${t.weight} between 0 and 1000`),
    check("nodes_priority_ck", sql`${t.priority} between 0 and 10000`),
    check("nodes_lb_status_ck", sql`${t.lbStatus} in ('in', 'ejected', 'drained')`),
    check("nodes_health_path_ck", sql`${t.healthPath} ~ '^/[A-Za-z0-9._~/-]*$'`),
  ],
);

export const nodesRelations = relations(nodes, ({ one }) => ({
  cluster: one(clusters, { fields: [nodes.clusterId], references: [clusters.id] }),
  credential: one(credentials, { fields: [nodes.credentialId], references: [credentials.id] }),
}));
