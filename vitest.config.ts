import path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "e2e/**", ".next/**", ".switchyard/**"],
    // Integration tests start real Postgres, SSH servers and nginx: give them room, and run
    // files one at a time on a 2-core machine so timings stay honest.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    globalSetup: ["./test/global-setup.ts"],
  },
});
