import { expect, test } from "@playwright/test";

// The e2e stack fronts gte-pro-search with a real nginx on this port (scripts/demo.ts, profile e2e).
const ENDPOINT = process.env.SWITCHYARD_E2E_GTE_ENDPOINT ?? "http://127.0.0.1:18080";

async function servedBy(): Promise<string> {
  const res = await fetch(`${ENDPOINT}/api/v1/search?q=gpu`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { node: string }).node;
}

test("one click fails gte-pro-search over: traffic through nginx moves, the journal and report show it", async ({
  page,
}) => {
  await page.goto("/");
  const card = page.getByRole("region", { name: "gte-pro-search" });
  await expect(card.getByText("Healthy").first()).toBeVisible({ timeout: 20_000 });
  // The e2e data directory survives runs, so start from whichever node is primary now.
  const primary = (await card.locator("dt:has-text('Primary') + dd").textContent())?.trim() ?? "";
  const other = primary === "gte-a" ? "gte-b" : "gte-a";
  await expect.poll(servedBy, { timeout: 10_000 }).toBe(primary);
  await expect(page.getByTestId(`node-${other}`).getByText("Healthy")).toBeVisible({ timeout: 20_000 });

  await card.getByTestId("switchover-open").click();
  await card.getByLabel(/Reason/).fill("e2e: GPU driver upgrade");
  await card.getByTestId("switchover-confirm").click();

  await expect(page).toHaveURL(/\/switchovers\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { name: `gte-pro-search: ${primary} → ${other}` })).toBeVisible();
  await expect(page.getByTestId("switchover-state")).toHaveText("completed", { timeout: 20_000 });
  const steps = page.getByTestId("switchover-steps").locator("li");
  await expect(steps).toHaveCount(7);
  await expect(steps.filter({ hasText: "switching traffic" })).toContainText("succeeded");

  expect(await servedBy()).toBe(other);

  const href = await page.getByTestId("switchover-report").getAttribute("href");
  expect(href).toMatch(/\/report$/);
  const report = await (await page.request.get(href as string)).json();
  expect(report).toMatchObject({
    state: "completed",
    from: primary,
    to: other,
    reason: "e2e: GPU driver upgrade",
  });
  expect(report.steps).toHaveLength(7);

  await page.getByRole("link", { name: "Fleet" }).first().click();
  await expect(card.locator("dt:has-text('Primary') + dd")).toHaveText(other, { timeout: 10_000 });
});

test("a switchover request without a reason is refused by the server", async ({ page }) => {
  await page.goto("/");
  const card = page.getByRole("region", { name: "gte-pro-search" });
  await card.getByTestId("switchover-open").click();
  // Whitespace passes the browser's `required`, not the server's validation.
  await card.getByLabel(/Reason/).fill("   ");
  await card.getByTestId("switchover-confirm").click();
  await expect(card.getByRole("alert")).toContainText("reason is required");
  await expect(page).toHaveURL(/\/$/);
});
