import { expect, type Page, test } from "@playwright/test";

// A drill through the switchover dialog ("switch over and back"), then the history: both legs are
// listed with their kind, trigger, move, duration and result, filters narrow the list and live in
// the URL, and each row leads to its timeline. The drill leaves the primary where it started.

async function primaryOf(page: Page): Promise<{ primary: string; other: string }> {
  const card = page.getByRole("region", { name: "gte-pro-search" });
  await expect(card.getByText("Healthy").first()).toBeVisible({ timeout: 20_000 });
  const primary = (await card.locator("dt:has-text('Primary') + dd").textContent())?.trim() ?? "";
  return { primary, other: primary === "gte-a" ? "gte-b" : "gte-a" };
}

test("a drill from the dialog appears in the history as two legs, filterable, each linked to its timeline", async ({
  page,
}) => {
  test.setTimeout(120_000);
  await page.goto("/");
  const { primary, other } = await primaryOf(page);
  await expect(page.getByTestId(`node-${other}`).getByText("Healthy")).toBeVisible({ timeout: 20_000 });

  const card = page.getByRole("region", { name: "gte-pro-search" });
  await card.getByTestId("switchover-open").click();
  await card.getByTestId("switchover-drill").check();
  await card.getByLabel(/Reason/).fill("e2e: quarterly failover drill");
  const confirm = card.getByTestId("switchover-confirm");
  await expect(confirm).toHaveText(
    new RegExp(
      `^Drill gte-pro-search: move from ${primary} to ${other} and back \\(epoch \\d+ → \\d+ → \\d+\\)`,
    ),
  );
  await confirm.click();

  await expect(page).toHaveURL(/\/switchovers\/[0-9a-f-]{36}$/);
  const firstLeg = page.url().split("/").pop() as string;
  await expect(page.getByRole("heading", { name: `gte-pro-search: ${primary} → ${other}` })).toBeVisible();
  await expect(page.getByTestId("switchover-state")).toHaveText("completed", { timeout: 30_000 });
  await expect(page.getByText("A drill: once this leg completes")).toBeVisible();

  // The history, filtered to this cluster's drills: the way back appears and completes.
  await page.getByRole("link", { name: "Follow both legs in the history" }).click();
  await expect(page).toHaveURL(/\/switchovers\?kind=drill&cluster=gte-pro-search$/);
  await expect(page.getByRole("heading", { name: "Switchovers", level: 1 })).toBeVisible();
  const rows = page.getByTestId("switchover-row");
  const first = page.locator(`[data-testid='switchover-row'][data-id='${firstLeg}']`);
  await expect(first).toContainText("Drill");
  await expect(first).toContainText("admin");
  await expect(first).toContainText(`${primary} → ${other}`);
  await expect(first).toContainText("completed");
  await expect(first).toContainText(/\d+(\.\d+)? (ms|s)/);
  // The controller requests the way back once the first leg completes: it becomes the newest row.
  await expect(async () => {
    await page.reload();
    const top = rows.first();
    await expect(top).not.toHaveAttribute("data-id", firstLeg, { timeout: 2_000 });
    await expect(top).toContainText(`${other} → ${primary}`, { timeout: 2_000 });
    await expect(top).toHaveAttribute("data-state", "completed", { timeout: 2_000 });
  }).toPass({ timeout: 45_000 });
  const backId = await rows.first().getAttribute("data-id");
  const back = page.locator(`[data-testid='switchover-row'][data-id='${backId}']`);
  await expect(back).toContainText("controller");
  for (const kind of await rows.locator("td:nth-child(3)").allTextContents()) expect(kind).toBe("Drill");

  // Filters change the URL and the rows without reloading the page.
  await page.getByLabel("Kind", { exact: true }).selectOption("manual");
  await expect(page).toHaveURL(/kind=manual/);
  await expect(first).toHaveCount(0);
  await page.getByLabel("Result", { exact: true }).selectOption("completed");
  await expect(page).toHaveURL(/result=completed/);
  for (const state of await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-state")))) {
    expect(state).toBe("completed");
  }
  await page.getByLabel("Kind", { exact: true }).selectOption("drill");
  await expect(first).toBeVisible();
  await page.getByLabel("Result", { exact: true }).selectOption("failed");
  await expect(first).toHaveCount(0);
  await page.getByRole("button", { name: "Clear filters" }).first().click();
  await expect(page).toHaveURL(/\/switchovers$/);
  await expect(first).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Pages" })).toContainText(/Page 1 of \d+/);

  // Each row leads to its timeline: the way back says what it is.
  await back.getByRole("link").click();
  await expect(page.getByRole("heading", { name: `gte-pro-search: ${other} → ${primary}` })).toBeVisible();
  await expect(page.getByTestId("switchover-state")).toHaveText("completed");
  await expect(page.getByText("The way back of a drill")).toBeVisible();
  await expect(page.getByTestId("switchover-steps").getByTestId("step-bar")).toHaveCount(7);

  // And the drill left the primary where it started.
  await page.goto("/");
  await expect(card.locator("dt:has-text('Primary') + dd")).toHaveText(primary, { timeout: 10_000 });
});

test("the history filters by a cluster with no switchovers, and says so", async ({ page }) => {
  await page.goto("/switchovers?cluster=ollama-bridge&kind=manual");
  await expect(page.getByTestId("switchovers-empty")).toContainText("No switchover matches these filters");
  await expect(page.getByLabel("Cluster", { exact: true })).toHaveValue("ollama-bridge");
  await page.getByTestId("switchovers-empty").getByRole("button", { name: "Clear filters" }).click();
  await expect(page).toHaveURL(/\/switchovers$/);
});
