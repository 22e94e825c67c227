// Screenshots of the main pages of a running Switchyard (default http://localhost:3000) into docs/,
// for the README: `npm run docs:screenshots` with the demo running (it signs in as the demo's admin
// with the password the demo generated). With --switchover it first requests a real switchover of
// gte-pro-search through the preflight dialog (recorded and audited like any other), so the
// dialog, the timeline and the history have something to show.
import { readFileSync } from "node:fs";
import path from "node:path";
import { chromium, type Page } from "@playwright/test";

const args = process.argv.slice(2);
const base = args.find((a) => !a.startsWith("--")) ?? "http://localhost:3000";
const doSwitch = args.includes("--switchover");
const dataDir = path.resolve(import.meta.dirname, "..", process.env.SWITCHYARD_DATA_DIR ?? ".switchyard");
const out = (file: string) => path.resolve(import.meta.dirname, "..", "docs", file);
const url = (p: string) => new URL(p, base).toString();

async function shot(page: Page, file: string, fullPage = true) {
  await page.screenshot({ path: out(file), fullPage });
  console.log(`wrote ${out(file)}`);
}

const browser = await chromium.launch({
  executablePath: process.env.SWITCHYARD_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(url("/login"));
  await shot(page, "login.png", false);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(readFileSync(path.join(dataDir, "admin-password"), "utf8").trim());
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("whoami").waitFor();

  await page.goto(url("/"), { waitUntil: "networkidle" });
  await shot(page, "fleet-overview.png");

  await page.goto(url("/clusters/gte-pro-search"), { waitUntil: "networkidle" });
  await page.waitForTimeout(1_500); // charts draw in the browser
  await shot(page, "cluster.png");

  if (doSwitch) {
    await page.goto(url("/"), { waitUntil: "networkidle" });
    const card = page.getByTestId("cluster-card").filter({ hasText: "gte-pro-search" });
    await card.getByTestId("switchover-open").click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel(/Reason/).fill("GPU driver upgrade on the primary");
    await page.waitForTimeout(800);
    await shot(page, "switchover-dialog.png", false);
    await dialog.getByTestId("switchover-confirm").click();
    await page.waitForURL(/\/switchovers\//);
  } else {
    const res = await page.request.get(url("/api/v1/switchovers?limit=1"));
    const { items } = (await res.json()) as { items: Array<{ id: string }> };
    if (!items[0]) throw new Error("no switchover yet: run with --switchover to request one");
    await page.goto(url(`/switchovers/${items[0].id}`));
  }
  await page
    .getByTestId("switchover-state")
    .filter({ hasText: /completed|rolled back|failed|aborted/ })
    .waitFor({ timeout: 30_000 });
  await page.waitForTimeout(500);
  await shot(page, "switchover.png");

  for (const [p, file] of [
    ["/switchovers", "switchover-history.png"],
    ["/audit", "audit.png"],
    ["/availability", "availability.png"],
    ["/settings/clusters", "settings.png"],
  ] as const) {
    await page.goto(url(p), { waitUntil: "networkidle" });
    await page.waitForTimeout(800);
    await shot(page, file);
  }
} finally {
  await browser.close();
}
