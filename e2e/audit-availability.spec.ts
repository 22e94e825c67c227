import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";

const STATE = (role: string) => `.switchyard/e2e/e2e-${role}.json`;
const DEMO = ["gte-pro-search", "llm-chat", "ollama-bridge"];

/** CSV records (RFC 4180), enough for the exports' own output. */
function csvRecords(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  return rows;
}

test.describe("audit log", () => {
  test("shows the sign-ins, verifies its chain, filters by action, expands a row and exports CSV", async ({
    page,
  }) => {
    await page.goto("/audit");
    await expect(page.getByRole("heading", { name: "Audit log", level: 1 })).toBeVisible();
    await expect(page.getByTestId("audit-chain")).toContainText(/Verifies: [\d,]+ rows/);
    await expect(page.getByTestId("audit-chain")).toContainText("checked");
    await expect(page.getByTestId("audit-row").first()).toBeVisible();

    // Filter by an action prefix: the e2e users signed in (global setup), so there are logins.
    await page.getByLabel("Action starts with").fill("auth.login");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect(page).toHaveURL(/[?&]action=auth\.login(&|$)/);
    await expect
      .poll(async () => {
        const actions = await page
          .getByTestId("audit-row")
          .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action") ?? ""));
        return actions.length > 0 && actions.every((a) => a.startsWith("auth.login"));
      })
      .toBe(true);
    const viewerLogin = page
      .getByTestId("audit-row")
      .filter({ hasText: "e2e-viewer" })
      .filter({ has: page.getByRole("rowheader", { name: "auth.login", exact: true }) })
      .first();
    await expect(viewerLogin).toBeVisible();

    // The filter survives a reload (it lives in the URL).
    await page.reload();
    await expect(page.getByLabel("Action starts with")).toHaveValue("auth.login");
    await expect(viewerLogin).toBeVisible();

    // Expand a row with the keyboard: its before/after and hashes appear.
    const details = viewerLogin.getByRole("button", { name: /^Details/ });
    await details.focus();
    await page.keyboard.press("Enter");
    await expect(viewerLogin.getByRole("button", { name: /^Hide/ })).toHaveAttribute("aria-expanded", "true");
    await expect(page.getByRole("region", { name: /^After, entry/ }).first()).toBeVisible();
    await expect(page.getByText("Previous hash").first()).toBeVisible();

    // Export the current filter.
    const downloading = page.waitForEvent("download");
    await page.getByRole("link", { name: "Export CSV" }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/^switchyard-audit-[\w-]+\.csv$/);
    const file = await download.path();
    const [header, ...records] = csvRecords(readFileSync(file, "utf8"));
    expect(header?.slice(0, 6)).toEqual(["id", "at", "actor", "actor_role", "address", "action"]);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r[5]?.startsWith("auth.login"))).toBe(true);
    expect(records.some((r) => r[2] === "e2e-viewer" && r[5] === "auth.login")).toBe(true);

    // A filter that matches nothing says so.
    await page.getByLabel("Actor").fill(`nobody-${Date.now().toString(36)}`);
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect(page.getByRole("heading", { name: "No entries match" })).toBeVisible();
    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect(page.getByTestId("audit-row").first()).toBeVisible();
    await expect(page).toHaveURL(/\/audit$/);
  });

  test.describe("as a viewer", () => {
    test.use({ storageState: STATE("viewer") });
    test("reads the log and the chain's status", async ({ page }) => {
      await page.goto("/audit?actor=e2e-viewer");
      await expect(page.getByTestId("whoami")).toContainText("viewer");
      await expect(page.getByTestId("audit-row").first()).toContainText("e2e-viewer");
      await expect(page.getByTestId("audit-chain")).toContainText(/Verifies/);
    });
  });
});

test.describe("availability", () => {
  test("shows the figures and the daily chart for the three demo clusters", async ({ page }) => {
    await page.goto("/availability");
    await expect(page.getByRole("heading", { name: "Availability", level: 1 })).toBeVisible();
    const overview = page.getByRole("region", { name: "All clusters" });
    for (const name of DEMO) {
      await expect(overview.getByRole("rowheader", { name })).toBeVisible();
      const section = page
        .getByTestId("availability-cluster")
        .filter({ has: page.getByRole("heading", { name }) });
      await expect(section).toBeVisible();
      // The controller has been recording since the e2e stack started: a number, not "no data yet".
      const week = section.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "7 days" }) });
      await expect(week.getByTestId("availability-pct")).toHaveText(/^(100|\d{1,2}\.\d{3})%$/);
      for (const window of ["30 days", "90 days"]) {
        await expect(section.getByRole("rowheader", { name: window })).toBeVisible();
      }
      await expect(section.getByText("SLA target")).toBeVisible();
      const chart = section.getByRole("img", {
        name: new RegExp(`^Daily availability of ${name}, last 90 days`),
      });
      await expect(chart).toBeVisible();
      await expect(chart.locator("[data-day]")).toHaveCount(90);
      await expect(chart.locator("[data-day]").last()).toHaveAttribute("title", /\(UTC\): /);
    }
  });

  test("exports CSV and prints without the navigation and buttons", async ({ page }) => {
    await page.goto("/availability");
    const downloading = page.waitForEvent("download");
    await page.getByRole("link", { name: "Summary CSV" }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/^switchyard-availability-summary-\d{4}-\d\d-\d\d\.csv$/);
    const [header, ...records] = csvRecords(readFileSync(await download.path(), "utf8"));
    expect(header?.slice(0, 3)).toEqual(["cluster", "sla_target_pct", "window_days"]);
    for (const name of DEMO) {
      expect(records.filter((r) => r[0] === name).map((r) => r[2])).toEqual(["7", "30", "90"]);
    }

    await page.emulateMedia({ media: "print" });
    await expect(page.getByRole("navigation", { name: "Main" })).toBeHidden();
    await expect(page.getByRole("button", { name: "Print" })).toBeHidden();
    await expect(page.getByRole("link", { name: "Summary CSV" })).toBeHidden();
    await expect(page.getByRole("img", { name: /^Daily availability of gte-pro-search/ })).toBeVisible();
  });
});
