-- Raw telemetry becomes time-partitioned: one partition per UTC hour, `<table>_pYYYYMMDDHH`.
-- Keeping hours of raw heartbeats and GPU samples for a 1,000-node fleet is tens of millions of rows
-- an hour; expiring them with DELETE would mean WAL for every row, dead tuples, vacuum debt and a
-- table that never shrinks. Dropping a whole partition is a catalog change that returns the disk at
-- once. Partitions are created ahead of time and dropped by server/history/partitions.ts.
--
-- Same columns, checks and indexes as before; indexes declared on the parent are created on every
-- partition. There is deliberately no DEFAULT partition: a row for an hour nobody created a
-- partition for fails loudly instead of piling up in a catch-all that cannot be dropped by hour.
--
-- The tables were empty in every deployment when this was written; any rows that do exist (a
-- developer's database) are carried over into partitions created for their hours.
CREATE TEMP TABLE "heartbeats_carry" AS SELECT * FROM "heartbeats";
--> statement-breakpoint
CREATE TEMP TABLE "gpu_samples_carry" AS SELECT * FROM "gpu_samples";
--> statement-breakpoint
DROP TABLE "heartbeats";
--> statement-breakpoint
DROP TABLE "gpu_samples";
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
	"error" text,
	CONSTRAINT "heartbeats_finite_ck" CHECK (abs("heartbeats"."tcp_ms") < 'Infinity' and abs("heartbeats"."http_ms") < 'Infinity')
) PARTITION BY RANGE ("time");
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
	CONSTRAINT "gpu_samples_finite_ck" CHECK (abs("gpu_samples"."utilization_pct") < 'Infinity' and abs("gpu_samples"."memory_used_mib") < 'Infinity' and abs("gpu_samples"."memory_total_mib") < 'Infinity' and abs("gpu_samples"."temperature_c") < 'Infinity' and abs("gpu_samples"."power_w") < 'Infinity')
) PARTITION BY RANGE ("time");
--> statement-breakpoint
CREATE INDEX "heartbeats_time_brin" ON "heartbeats" USING brin ("time");
--> statement-breakpoint
CREATE INDEX "heartbeats_node_time_idx" ON "heartbeats" USING btree ("node_id","time" DESC NULLS LAST);
--> statement-breakpoint
CREATE INDEX "gpu_samples_time_brin" ON "gpu_samples" USING brin ("time");
--> statement-breakpoint
CREATE INDEX "gpu_samples_node_time_idx" ON "gpu_samples" USING btree ("node_id","time" DESC NULLS LAST);
--> statement-breakpoint
-- One partition per UTC hour that carried rows have (none in a fresh or production database).
-- date_bin on timestamptz with a UTC origin is independent of the session time zone.
DO $$
DECLARE
  parent text;
  hour_start timestamptz;
BEGIN
  FOR parent, hour_start IN
    SELECT DISTINCT 'heartbeats', date_bin('1 hour', "time", timestamptz '1970-01-01 00:00:00+00') FROM "heartbeats_carry"
    UNION
    SELECT DISTINCT 'gpu_samples', date_bin('1 hour', "time", timestamptz '1970-01-01 00:00:00+00') FROM "gpu_samples_carry"
  LOOP
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
      parent || '_p' || to_char(hour_start AT TIME ZONE 'UTC', 'YYYYMMDDHH24'),
      parent,
      hour_start,
      hour_start + interval '1 hour'
    );
  END LOOP;
END
$$;
--> statement-breakpoint
INSERT INTO "heartbeats" ("time", "node_id", "tcp_ok", "tcp_ms", "http_ok", "http_status", "http_ms", "reported_role", "error")
SELECT "time", "node_id", "tcp_ok", "tcp_ms", "http_ok", "http_status", "http_ms", "reported_role", "error" FROM "heartbeats_carry";
--> statement-breakpoint
INSERT INTO "gpu_samples" ("time", "node_id", "gpu_index", "utilization_pct", "memory_used_mib", "memory_total_mib", "temperature_c", "power_w", "error")
SELECT "time", "node_id", "gpu_index", "utilization_pct", "memory_used_mib", "memory_total_mib", "temperature_c", "power_w", "error" FROM "gpu_samples_carry";
--> statement-breakpoint
DROP TABLE "heartbeats_carry";
--> statement-breakpoint
DROP TABLE "gpu_samples_carry";
