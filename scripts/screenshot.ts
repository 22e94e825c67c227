// Takes screenshots of the main pages of a running Switchyard (default http://localhost:3000)
// into docs/, for the README. `npm run docs:screenshots` with the demo running.
import path from "node:path";
import { chromium } from "@playwright/test";

const base = process.argv[2] ?? "http://localhost:3000";
const PAGES: Array<{ path: string; file: string }> = [{ path: "/", file: "fleet-overview.png" }];

const browser = await chromium.launch({
  executablePath: process.env.SWITCHYARD_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  for (const p of PAGES) {
    await page.goto(new URL(p.path, base).toString(), { waitUntil: "networkidle" });
    const out = path.resolve(import.meta.dirname, "..", "docs", p.file);
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out}`);
  }
} finally {
  await browser.close();
}
