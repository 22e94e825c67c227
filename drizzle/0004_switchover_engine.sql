ALTER TYPE "public"."switchover_kind" ADD VALUE 'eject';--> statement-breakpoint
ALTER TYPE "public"."switchover_kind" ADD VALUE 'readmit';--> statement-breakpoint
ALTER TYPE "public"."switchover_kind" ADD VALUE 'drain';--> statement-breakpoint
ALTER TABLE "load_balancers" ADD COLUMN "nginx_bin" text DEFAULT 'nginx' NOT NULL;--> statement-breakpoint
ALTER TABLE "load_balancers" ADD COLUMN "nginx_conf_path" text;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "lb_status" text DEFAULT 'in' NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_lb_status_ck" CHECK ("nodes"."lb_status" in ('in', 'ejected', 'drained'));