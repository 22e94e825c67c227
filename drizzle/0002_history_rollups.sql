CREATE TABLE "cluster_availability_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"cluster_id" uuid NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"available" boolean NOT NULL,
	"reason" text NOT NULL,
	"controller_epoch" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gpu_rollup_1h" (
	"node_id" uuid NOT NULL,
	"gpu_index" smallint NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"samples" integer NOT NULL,
	"lost" integer NOT NULL,
	"util_avg" double precision,
	"util_max" double precision,
	"temp_avg" double precision,
	"temp_max" double precision,
	"mem_used_avg" double precision,
	"mem_used_max" double precision,
	"power_avg" double precision,
	"power_max" double precision,
	CONSTRAINT "gpu_rollup_1h_pk" PRIMARY KEY("node_id","gpu_index","bucket")
);
--> statement-breakpoint
CREATE TABLE "gpu_rollup_1m" (
	"node_id" uuid NOT NULL,
	"gpu_index" smallint NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"samples" integer NOT NULL,
	"lost" integer NOT NULL,
	"util_avg" double precision,
	"util_max" double precision,
	"temp_avg" double precision,
	"temp_max" double precision,
	"mem_used_avg" double precision,
	"mem_used_max" double precision,
	"power_avg" double precision,
	"power_max" double precision,
	CONSTRAINT "gpu_rollup_1m_pk" PRIMARY KEY("node_id","gpu_index","bucket")
);
--> statement-breakpoint
CREATE TABLE "heartbeat_rollup_1h" (
	"node_id" uuid NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"probes" integer NOT NULL,
	"probes_ok" integer NOT NULL,
	"tcp_ok" integer NOT NULL,
	"http_ok" integer NOT NULL,
	"latency_p50_ms" double precision,
	"latency_p95_ms" double precision,
	"latency_max_ms" double precision,
	CONSTRAINT "heartbeat_rollup_1h_pk" PRIMARY KEY("node_id","bucket"),
	CONSTRAINT "heartbeat_rollup_1h_counts_ck" CHECK ("heartbeat_rollup_1h"."probes_ok" between 0 and "heartbeat_rollup_1h"."probes")
);
--> statement-breakpoint
CREATE TABLE "heartbeat_rollup_1m" (
	"node_id" uuid NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"probes" integer NOT NULL,
	"probes_ok" integer NOT NULL,
	"tcp_ok" integer NOT NULL,
	"http_ok" integer NOT NULL,
	"latency_p50_ms" double precision,
	"latency_p95_ms" double precision,
	"latency_max_ms" double precision,
	CONSTRAINT "heartbeat_rollup_1m_pk" PRIMARY KEY("node_id","bucket"),
	CONSTRAINT "heartbeat_rollup_1m_counts_ck" CHECK ("heartbeat_rollup_1m"."probes_ok" between 0 and "heartbeat_rollup_1m"."probes")
);
--> statement-breakpoint
ALTER TABLE "gpu_samples" DROP CONSTRAINT "gpu_samples_finite_ck";--> statement-breakpoint
ALTER TABLE "cluster_availability_changes" ADD CONSTRAINT "cluster_availability_changes_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "cluster_availability_changes_cluster_at_idx" ON "cluster_availability_changes" USING btree ("cluster_id","at");--> statement-breakpoint
CREATE INDEX "gpu_rollup_1h_bucket_idx" ON "gpu_rollup_1h" USING btree ("bucket");--> statement-breakpoint
CREATE INDEX "gpu_rollup_1m_bucket_idx" ON "gpu_rollup_1m" USING btree ("bucket");--> statement-breakpoint
CREATE INDEX "heartbeat_rollup_1h_bucket_idx" ON "heartbeat_rollup_1h" USING btree ("bucket");--> statement-breakpoint
CREATE INDEX "heartbeat_rollup_1m_bucket_idx" ON "heartbeat_rollup_1m" USING btree ("bucket");--> statement-breakpoint
ALTER TABLE "gpu_samples" ADD CONSTRAINT "gpu_samples_finite_ck" CHECK (abs("gpu_samples"."utilization_pct") < 'Infinity' and abs("gpu_samples"."memory_used_mib") < 'Infinity' and abs("gpu_samples"."memory_total_mib") < 'Infinity' and abs("gpu_samples"."temperature_c") < 'Infinity' and abs("gpu_samples"."power_w") < 'Infinity');--> statement-breakpoint
ALTER TABLE "heartbeats" ADD CONSTRAINT "heartbeats_finite_ck" CHECK (abs("heartbeats"."tcp_ms") < 'Infinity' and abs("heartbeats"."http_ms") < 'Infinity');