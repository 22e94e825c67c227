// Postgres enums shared by more than one domain. Values are stored as text labels, so a reader of
// the raw tables (psql at 3 a.m.) sees words, not numbers.
import { pgEnum } from "drizzle-orm/pg-core";

export const clusterMode = pgEnum("cluster_mode", ["active_standby", "active_active"]);
/** The role the control plane wants a node to have (target state), not what it reports. */
export const nodeRole = pgEnum("node_role", ["primary", "standby", "member"]);
/** Detector state machine: healthy → suspect → failed → recovering → healthy. */
export const nodeState = pgEnum("node_state", ["unknown", "healthy", "suspect", "failed", "recovering"]);
export const userRole = pgEnum("user_role", ["viewer", "operator", "admin"]);
export const severity = pgEnum("severity", ["info", "warning", "critical"]);
