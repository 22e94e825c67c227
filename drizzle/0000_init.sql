CREATE TYPE "public"."signal_requirement" AS ENUM('any', 'tcp_and_http', 'all');--> statement-breakpoint
CREATE TYPE "public"."credential_kind" AS ENUM('ssh_private_key');--> statement-breakpoint
CREATE TYPE "public"."cluster_mode" AS ENUM('active_standby', 'active_active');--> statement-breakpoint
CREATE TYPE "public"."node_role" AS ENUM('primary', 'standby', 'member');--> statement-breakpoint
CREATE TYPE "public"."node_state" AS ENUM('unknown', 'healthy', 'suspect', 'failed', 'recovering');--> statement-breakpoint
CREATE TYPE "public"."severity" AS ENUM('info', 'warning', 'critical');--> statement-breakpoint
CREATE TYPE "public"."user_role" AS ENUM('viewer', 'operator', 'admin');--> statement-breakpoint
CREATE TYPE "public"."playbook_kind" AS ENUM('preflight', 'degrade', 'switch_traffic', 'activate', 'verify', 'rollback', 'drain', 'readmit');--> statement-breakpoint
CREATE TYPE "public"."step_state" AS ENUM('pending', 'running', 'succeeded', 'failed', 'skipped');--> statement-breakpoint
CREATE TYPE "public"."switchover_kind" AS ENUM('manual', 'auto', 'drill', 'rollback');--> statement-breakpoint
CREATE TYPE "public"."switchover_state" AS ENUM('requested', 'preflight', 'fencing', 'switching_traffic', 'activating', 'verifying', 'completed', 'rolling_back', 'rolled_back', 'failed', 'aborted');--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"severity" "severity" NOT NULL,
	"cluster_id" uuid,
	"node_id" uuid,
	"message" text NOT NULL,
	"data" jsonb,
	"fired_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	"acknowledged_at" timestamp with time zone,
	"acknowledged_by" uuid
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_user_id" uuid,
	"actor_label" text NOT NULL,
	"actor_role" text NOT NULL,
	"address" text,
	"action" text NOT NULL,
	"target_type" text NOT NULL,
	"target_id" text,
	"cluster_id" uuid,
	"reason" text,
	"before" jsonb,
	"after" jsonb,
	"epoch" bigint,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"role" "user_role" NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "login_attempts" (
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"username" text NOT NULL,
	"address" text,
	"succeeded" boolean NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	"address" text,
	"user_agent" text
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"username" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" "user_role" NOT NULL,
	"disabled" boolean DEFAULT false NOT NULL,
	"password_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "clusters" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"mode" "cluster_mode" NOT NULL,
	"sla_target_pct" double precision DEFAULT 99.9 NOT NULL,
	"primary_node_id" uuid,
	"epoch" bigint DEFAULT 0 NOT NULL,
	"load_balancer_id" uuid,
	"maintenance" boolean DEFAULT false NOT NULL,
	"frozen_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "clusters_sla_ck" CHECK ("clusters"."sla_target_pct" > 0 and "clusters"."sla_target_pct" < 100),
	CONSTRAINT "clusters_epoch_ck" CHECK ("clusters"."epoch" >= 0)
);
--> statement-breakpoint
CREATE TABLE "load_balancers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"host" text NOT NULL,
	"ssh_port" integer DEFAULT 22 NOT NULL,
	"ssh_user" text DEFAULT 'switchyard' NOT NULL,
	"credential_id" uuid,
	"host_key_fingerprint" text,
	"upstream_config_path" text NOT NULL,
	"endpoint_url" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "load_balancers_ssh_port_ck" CHECK ("load_balancers"."ssh_port" between 1 and 65535)
);
--> statement-breakpoint
CREATE TABLE "policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cluster_id" uuid NOT NULL,
	"preset" text DEFAULT 'default' NOT NULL,
	"probe_interval_ms" integer DEFAULT 1000 NOT NULL,
	"tcp_timeout_ms" integer DEFAULT 500 NOT NULL,
	"http_timeout_ms" integer DEFAULT 1000 NOT NULL,
	"latency_threshold_ms" integer DEFAULT 500 NOT NULL,
	"failures_to_fail" integer DEFAULT 3 NOT NULL,
	"successes_to_recover" integer DEFAULT 3 NOT NULL,
	"signals_required" "signal_requirement" DEFAULT 'any' NOT NULL,
	"gpu_temp_alert_c" integer DEFAULT 85 NOT NULL,
	"gpu_memory_alert_pct" integer DEFAULT 95 NOT NULL,
	"gpu_util_saturation_pct" integer DEFAULT 98 NOT NULL,
	"gpu_saturation_sustain_s" integer DEFAULT 10 NOT NULL,
	"auto_failover" boolean DEFAULT true NOT NULL,
	"cooldown_s" integer DEFAULT 300 NOT NULL,
	"freeze_after_failovers_per_hour" integer DEFAULT 2 NOT NULL,
	"verify_deadline_ms" integer DEFAULT 10000 NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "policies_probe_interval_ck" CHECK ("policies"."probe_interval_ms" between 100 and 600000),
	CONSTRAINT "policies_timeouts_ck" CHECK ("policies"."tcp_timeout_ms" > 0 and "policies"."http_timeout_ms" > 0),
	CONSTRAINT "policies_counts_ck" CHECK ("policies"."failures_to_fail" between 1 and 100 and "policies"."successes_to_recover" between 1 and 100),
	CONSTRAINT "policies_verify_deadline_ck" CHECK ("policies"."verify_deadline_ms" between 1000 and 600000)
);
--> statement-breakpoint
CREATE TABLE "controller_lease" (
	"name" text PRIMARY KEY NOT NULL,
	"holder_id" text NOT NULL,
	"epoch" bigint NOT NULL,
	"acquired_at" timestamp with time zone DEFAULT now() NOT NULL,
	"renewed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "credentials" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" "credential_kind" DEFAULT 'ssh_private_key' NOT NULL,
	"ciphertext" "bytea" NOT NULL,
	"nonce" "bytea" NOT NULL,
	"auth_tag" "bytea" NOT NULL,
	"key_version" integer DEFAULT 1 NOT NULL,
	"public_key" text,
	"fingerprint" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"rotated_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"severity" "severity" DEFAULT 'info' NOT NULL,
	"cluster_id" uuid,
	"node_id" uuid,
	"switchover_id" uuid,
	"message" text NOT NULL,
	"data" jsonb
);
--> statement-breakpoint
CREATE TABLE "node_state_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"node_id" uuid NOT NULL,
	"cluster_id" uuid NOT NULL,
	"from_state" "node_state" NOT NULL,
	"to_state" "node_state" NOT NULL,
	"reason" text NOT NULL,
	"controller_epoch" bigint,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cluster_id" uuid NOT NULL,
	"name" text NOT NULL,
	"host" text NOT NULL,
	"ssh_port" integer DEFAULT 22 NOT NULL,
	"ssh_user" text DEFAULT 'switchyard' NOT NULL,
	"credential_id" uuid,
	"host_key_fingerprint" text,
	"service_port" integer DEFAULT 8000 NOT NULL,
	"health_path" text DEFAULT '/health' NOT NULL,
	"priority" integer DEFAULT 100 NOT NULL,
	"weight" integer DEFAULT 1 NOT NULL,
	"role" "node_role" NOT NULL,
	"state" "node_state" DEFAULT 'unknown' NOT NULL,
	"reported_role" text,
	"maintenance" boolean DEFAULT false NOT NULL,
	"state_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "nodes_ports_ck" CHECK ("nodes"."ssh_port" between 1 and 65535 and "nodes"."service_port" between 1 and 65535),
	CONSTRAINT "nodes_weight_ck" CHECK ("nodes"."weight" between 0 and 1000),
	CONSTRAINT "nodes_priority_ck" CHECK ("nodes"."priority" between 0 and 10000),
	CONSTRAINT "nodes_health_path_ck" CHECK ("nodes"."health_path" ~ '^/[A-Za-z0-9._~/-]*$')
);
--> statement-breakpoint
CREATE TABLE "playbooks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" "playbook_kind" NOT NULL,
	"version" integer NOT NULL,
	"steps" jsonb NOT NULL,
	"built_in" boolean DEFAULT false NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "switchover_steps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"switchover_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"phase" "switchover_state" NOT NULL,
	"name" text NOT NULL,
	"target" text NOT NULL,
	"node_id" uuid,
	"command" text NOT NULL,
	"state" "step_state" DEFAULT 'pending' NOT NULL,
	"exit_code" integer,
	"stdout" text DEFAULT '' NOT NULL,
	"stderr" text DEFAULT '' NOT NULL,
	"output_truncated" boolean DEFAULT false NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"duration_ms" integer
);
--> statement-breakpoint
CREATE TABLE "switchovers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cluster_id" uuid NOT NULL,
	"kind" "switchover_kind" NOT NULL,
	"state" "switchover_state" DEFAULT 'requested' NOT NULL,
	"from_node_id" uuid,
	"to_node_id" uuid,
	"epoch" bigint,
	"controller_epoch" bigint,
	"requested_by" uuid,
	"requested_by_label" text NOT NULL,
	"reason" text NOT NULL,
	"evidence" jsonb,
	"report" jsonb,
	"error" text,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gpu_samples" (
	"time" timestamp with time zone NOT NULL,
	"node_id" uuid NOT NULL,
	"gpu_index" smallint NOT NULL,
	"utilization_pct" double precision,
	"memory_used_mib" double precision,
	"memory_total_mib" double precision,
	"temperature_c" double precision,
	"power_w" double precision,
	"error" text,
	CONSTRAINT "gpu_samples_finite_ck" CHECK ("gpu_samples"."utilization_pct" <> 'NaN' and "gpu_samples"."memory_used_mib" <> 'NaN' and "gpu_samples"."temperature_c" <> 'NaN' and "gpu_samples"."power_w" <> 'NaN')
);
--> statement-breakpoint
CREATE TABLE "heartbeats" (
	"time" timestamp with time zone NOT NULL,
	"node_id" uuid NOT NULL,
	"tcp_ok" boolean NOT NULL,
	"tcp_ms" double precision,
	"http_ok" boolean NOT NULL,
	"http_status" smallint,
	"http_ms" double precision,
	"reported_role" text,
	"error" text
);
--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_node_id_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_acknowledged_by_users_id_fk" FOREIGN KEY ("acknowledged_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "clusters" ADD CONSTRAINT "clusters_primary_node_id_nodes_id_fk" FOREIGN KEY ("primary_node_id") REFERENCES "public"."nodes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "clusters" ADD CONSTRAINT "clusters_load_balancer_id_load_balancers_id_fk" FOREIGN KEY ("load_balancer_id") REFERENCES "public"."load_balancers"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "load_balancers" ADD CONSTRAINT "load_balancers_credential_id_credentials_id_fk" FOREIGN KEY ("credential_id") REFERENCES "public"."credentials"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "policies" ADD CONSTRAINT "policies_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_node_id_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "node_state_changes" ADD CONSTRAINT "node_state_changes_node_id_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "node_state_changes" ADD CONSTRAINT "node_state_changes_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_credential_id_credentials_id_fk" FOREIGN KEY ("credential_id") REFERENCES "public"."credentials"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbooks" ADD CONSTRAINT "playbooks_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "switchover_steps" ADD CONSTRAINT "switchover_steps_switchover_id_switchovers_id_fk" FOREIGN KEY ("switchover_id") REFERENCES "public"."switchovers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "switchover_steps" ADD CONSTRAINT "switchover_steps_node_id_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "switchovers" ADD CONSTRAINT "switchovers_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "switchovers" ADD CONSTRAINT "switchovers_from_node_id_nodes_id_fk" FOREIGN KEY ("from_node_id") REFERENCES "public"."nodes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "switchovers" ADD CONSTRAINT "switchovers_to_node_id_nodes_id_fk" FOREIGN KEY ("to_node_id") REFERENCES "public"."nodes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "switchovers" ADD CONSTRAINT "switchovers_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_open_uq" ON "alerts" USING btree ("kind",coalesce("cluster_id", '00000000-0000-0000-0000-000000000000'::uuid),coalesce("node_id", '00000000-0000-0000-0000-000000000000'::uuid)) WHERE "alerts"."resolved_at" is null;--> statement-breakpoint
CREATE INDEX "alerts_fired_at_idx" ON "alerts" USING btree ("fired_at");--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_log_actor_idx" ON "audit_log" USING btree ("actor_label","at");--> statement-breakpoint
CREATE INDEX "audit_log_cluster_idx" ON "audit_log" USING btree ("cluster_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash_uq" ON "api_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "login_attempts_user_at_idx" ON "login_attempts" USING btree ("username","at");--> statement-breakpoint
CREATE INDEX "login_attempts_addr_at_idx" ON "login_attempts" USING btree ("address","at");--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_username_uq" ON "users" USING btree (lower("username"));--> statement-breakpoint
CREATE UNIQUE INDEX "clusters_name_uq" ON "clusters" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "load_balancers_name_uq" ON "load_balancers" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "policies_cluster_uq" ON "policies" USING btree ("cluster_id");--> statement-breakpoint
CREATE UNIQUE INDEX "credentials_name_uq" ON "credentials" USING btree ("name");--> statement-breakpoint
CREATE INDEX "events_cluster_at_idx" ON "events" USING btree ("cluster_id","at");--> statement-breakpoint
CREATE INDEX "events_at_idx" ON "events" USING btree ("at");--> statement-breakpoint
CREATE INDEX "node_state_changes_node_at_idx" ON "node_state_changes" USING btree ("node_id","at");--> statement-breakpoint
CREATE INDEX "node_state_changes_cluster_at_idx" ON "node_state_changes" USING btree ("cluster_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "nodes_name_uq" ON "nodes" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "nodes_endpoint_uq" ON "nodes" USING btree ("host","service_port");--> statement-breakpoint
CREATE INDEX "nodes_cluster_idx" ON "nodes" USING btree ("cluster_id");--> statement-breakpoint
CREATE UNIQUE INDEX "playbooks_name_version_uq" ON "playbooks" USING btree ("name","version");--> statement-breakpoint
CREATE UNIQUE INDEX "switchover_steps_seq_uq" ON "switchover_steps" USING btree ("switchover_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "switchovers_one_in_flight_uq" ON "switchovers" USING btree ("cluster_id") WHERE "switchovers"."state" not in ('completed', 'rolled_back', 'failed', 'aborted');--> statement-breakpoint
CREATE INDEX "switchovers_cluster_requested_idx" ON "switchovers" USING btree ("cluster_id","requested_at");--> statement-breakpoint
CREATE INDEX "gpu_samples_time_brin" ON "gpu_samples" USING brin ("time");--> statement-breakpoint
CREATE INDEX "gpu_samples_node_time_idx" ON "gpu_samples" USING btree ("node_id","time" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "heartbeats_time_brin" ON "heartbeats" USING brin ("time");--> statement-breakpoint
CREATE INDEX "heartbeats_node_time_idx" ON "heartbeats" USING btree ("node_id","time" DESC NULLS LAST);