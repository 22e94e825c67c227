// Tests use the same local-nginx runner as the demo and the benchmark.
export * from "@/server/lb/nginx-process";
