// Takes screenshots of the main pages of a running Switchyard (default http://localhost:3000)
// into docs/, for the README. `npm run docs:screenshots` with the demo running.
// It also shows a switchover: the newest one, or — with --switchover — it requests one on
// gte-pro-search first (a real switchover of the demo fleet, recorded and audited like any other).
import { readFileSync } from "node:fs";
import path from "node:path";
import { chromium } from "@playwright/test";

const args = process.argv.slice(2);
const dataDir = path.resolve(import.meta.dirname, "..", process.env.SWITCHYARD_DATA_DIR ?? ".switchyard");
const base = args.find((a) => !a.startsWith("--")) ?? "http://localhost:3000";
const doSwitch = args.includes("--switchover");
const out = (file: string) => path.resolve(import.meta.dirname, "..", "docs", file);

const browser = await chromium.launch({
  executablePath: process.env.SWITCHYARD_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Sign in as the demo's admin (the password the demo generated and printed).
  await page.goto(new URL("/login", base).toString());
  await page.screenshot({ path: out("login.png") });
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(readFileSync(path.join(dataDir, "admin-password"), "utf8").trim());
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("whoami").waitFor();
  await page.goto(new URL("/", base).toString(), { waitUntil: "networkidle" });
  await page.screenshot({ path: out("fleet-overview.png"), fullPage: true });
  console.log(`wrote ${out("fleet-overview.png")}`);

  if (doSwitch) {
    const card = page.getByTestId("cluster-card").filter({ hasText: "gte-pro-search" });
    await card.getByTestId("switchover-open").click();
    await card.getByLabel(/Reason/).fill("GPU driver upgrade on the primary");
    await page.screenshot({ path: out("switchover-request.png") });
    console.log(`wrote ${out("switchover-request.png")}`);
    await card.getByTestId("switchover-confirm").click();
    await page.waitForURL(/\/switchovers\//);
  } else {
    const res = await page.request.get(new URL("/api/v1/switchovers?limit=1", base).toString());
    const { items } = (await res.json()) as { items: Array<{ id: string }> };
    if (!items[0]) throw new Error("no switchover yet: run with --switchover to request one");
    await page.goto(new URL(`/switchovers/${items[0].id}`, base).toString());
  }
  await page
    .getByTestId("switchover-state")
    .filter({ hasText: /completed|rolled back|failed|aborted/ })
    .waitFor({ timeout: 30_000 });
  await page.getByText("command and output").nth(3).click();
  await page.screenshot({ path: out("switchover.png"), fullPage: true });
  console.log(`wrote ${out("switchover.png")}`);
} finally {
  await browser.close();
}
