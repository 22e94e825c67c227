// End-to-end tests drive Debian's Chromium (Playwright cannot download its own browser here)
// against a full stack started by the demo launcher in its own data directory and ports, so a
// running demo on :3000 is never touched.
import { defineConfig, devices } from "@playwright/test";

const PORT = Number(process.env.SWITCHYARD_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${PORT}`;

// Refuse to point browser tests at a non-local database: they create and change data.
if (process.env.DATABASE_URL) {
  const host = new URL(process.env.DATABASE_URL).hostname;
  if (!/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(host)) {
    throw new Error(`e2e tests refuse a non-local DATABASE_URL (host ${host})`);
  }
}

export default defineConfig({
  testDir: "e2e",
  globalSetup: "./e2e/global-setup.ts",
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [["list"]] : [["list"], ["html", { open: "never" }]],
  use: {
    baseURL,
    // Specs run signed in as the admin unless they pick another role (e2e/global-setup.ts).
    storageState: ".switchyard/e2e/e2e-admin.json",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        viewport: { width: 1280, height: 900 },
        launchOptions: {
          executablePath: process.env.SWITCHYARD_CHROMIUM ?? "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
          ],
        },
      },
    },
  ],
  webServer: {
    command: `npx tsx scripts/demo.ts --profile e2e --port ${PORT}`,
    url: `${baseURL}/api/health`,
    timeout: 240_000,
    reuseExistingServer: !process.env.CI,
    stdout: "pipe",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 30_000 },
  },
});
