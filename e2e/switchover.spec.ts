import { expect, test } from "@playwright/test";

// The e2e stack fronts gte-pro-search with a real nginx on this port (scripts/demo.ts, profile e2e).
const ENDPOINT = process.env.SWITCHYARD_E2E_GTE_ENDPOINT ?? "http://127.0.0.1:18080";

async function servedBy(): Promise<string> {
  const res = await fetch(`${ENDPOINT}/api/v1/search?q=gpu`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { node: string }).node;
}

const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

test("one click fails gte-pro-search over: preflight, a confirm that names the move, the live timeline, the history", async ({
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

  // The preflight panel: cluster checks, then the standby's, each ok / warn / block.
  await card.getByTestId("switchover-open").click();
  const dialog = page.getByRole("dialog", { name: "Switch over gte-pro-search" });
  await expect(dialog).toBeVisible();
  const checks = dialog.getByTestId("preflight-checks");
  await expect(checks.locator("[data-check='in_flight']")).toHaveAttribute("data-level", "ok");
  await expect(checks.locator("[data-check='in_flight']")).toContainText("No switchover in flight");
  await expect(checks.locator("[data-check='load_balancer']")).toContainText("nginx on");
  await expect(checks.locator("[data-check='cooldown']")).toBeVisible();
  const target = dialog.getByTestId(`preflight-standby-${other}`);
  await expect(target.locator("[data-check='healthy']")).toHaveAttribute("data-level", "ok");
  await expect(target.locator("[data-check='role']")).toContainText("Reports standby");
  await expect(target.locator("[data-check='telemetry']")).toContainText("GPU telemetry");
  await expect(target.locator("[data-check='maintenance']")).toHaveAttribute("data-level", "ok");

  // The confirm button says exactly what will happen.
  await card.getByLabel(/Reason/).fill("e2e: GPU driver upgrade");
  const confirm = card.getByTestId("switchover-confirm");
  const move = new RegExp(
    `^Move gte-pro-search from ${re(primary)} to ${re(other)} now \\(epoch (\\d+) → (\\d+)\\): degrade ${re(primary)}, switch nginx, activate ${re(other)}$`,
  );
  await expect(confirm).toHaveText(move);
  const [, before, after] = move.exec((await confirm.textContent()) ?? "") ?? [];
  expect(Number(after)).toBe(Number(before) + 1);
  await confirm.click();

  await expect(page).toHaveURL(/\/switchovers\/[0-9a-f-]{36}$/);
  const id = page.url().split("/").pop() as string;
  await expect(page.getByRole("heading", { name: `gte-pro-search: ${primary} → ${other}` })).toBeVisible();
  await expect(page.getByTestId("switchover-state")).toHaveText("completed", { timeout: 20_000 });
  const headline = page.getByTestId("switchover-headline");
  await expect(headline).toContainText(`Completed in`);
  await expect(headline).toContainText(`${other} is the primary`);
  await expect(headline).toContainText("requested by admin");
  await expect(page.locator("dt:has-text('Epoch') + dd")).toHaveText(after as string);

  // The timeline: one row and one bar per step, each with its duration; output on demand.
  const steps = page.getByTestId("switchover-steps").locator("li");
  await expect(steps).toHaveCount(7);
  await expect(page.getByTestId("switchover-steps").getByTestId("step-bar")).toHaveCount(7);
  const bars = await page
    .getByTestId("step-bar")
    .evaluateAll((els) =>
      els.map((el) => ({ state: el.getAttribute("data-state"), width: el.getBoundingClientRect().width })),
    );
  for (const bar of bars) {
    expect(bar.state).toBe("succeeded");
    expect(bar.width).toBeGreaterThan(0);
  }
  const traffic = steps.filter({ hasText: "switching traffic" });
  await expect(traffic).toContainText("succeeded");
  await expect(traffic).toContainText(/\d+(\.\d+)? (ms|s)/);
  const toggle = traffic.getByRole("button", { name: /output/i });
  await expect(toggle).toHaveAttribute("aria-expanded", "false");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  await expect(traffic.getByRole("heading", { name: "Command" })).toBeVisible();
  await expect(traffic.locator("pre").first()).not.toBeEmpty();

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

  // The history lists it, linked to this page.
  await page.getByRole("link", { name: "Switchovers", exact: true }).first().click();
  await expect(page).toHaveURL(/\/switchovers$/);
  const row = page.locator(`[data-testid='switchover-row'][data-id='${id}']`);
  await expect(row).toContainText("Manual");
  await expect(row).toContainText("admin");
  await expect(row).toContainText(`${primary} → ${other}`);
  await expect(row).toContainText("completed");
  await row.getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`/switchovers/${id}$`));

  await page.getByRole("link", { name: "Fleet" }).first().click();
  await expect(card.locator("dt:has-text('Primary') + dd")).toHaveText(other, { timeout: 10_000 });
});

test("the dialog closes with Escape and gives focus back; a request without a reason is refused by the server", async ({
  page,
}) => {
  await page.goto("/");
  const card = page.getByRole("region", { name: "gte-pro-search" });
  const open = card.getByTestId("switchover-open");
  await open.click();
  const dialog = page.getByRole("dialog", { name: "Switch over gte-pro-search" });
  await expect(dialog).toBeVisible();
  await expect(card.getByLabel(/Reason/)).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(open).toBeFocused();

  await open.click();
  // Tab stays inside the dialog.
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  await expect(card.getByTestId("switchover-confirm")).toBeEnabled({ timeout: 20_000 });
  // Whitespace passes the browser's `required`, not the server's validation.
  await card.getByLabel(/Reason/).fill("   ");
  await card.getByTestId("switchover-confirm").click();
  await expect(card.getByRole("alert")).toContainText("reason is required");
  await expect(page).toHaveURL(/\/$/);
});

test("with several standbys, the dialog proposes the best by priority and the confirm follows the pick", async ({
  page,
}) => {
  await page.goto("/");
  await page.getByRole("region", { name: "llm-chat" }).getByTestId("switchover-open").click();
  const dialog = page.getByRole("dialog", { name: "Switch over llm-chat" });
  const radios = dialog.getByRole("radio");
  await expect(radios).toHaveCount(2);
  const picked = dialog.locator("[data-selected='true']");
  await expect(picked).toHaveCount(1);
  await expect(picked.getByText("best", { exact: true })).toBeVisible();
  const confirm = dialog.getByTestId("switchover-confirm");
  const name = async (target: typeof picked) =>
    (await target.locator("strong").first().textContent())?.trim();
  const best = await name(picked);
  await expect(confirm).toContainText(` to ${best} now`);
  const other = dialog.locator("[data-selected='false']");
  const otherName = await name(other);
  await other.getByRole("radio").check();
  await expect(confirm).toContainText(` to ${otherName} now`);
  await expect(confirm).toContainText(`activate ${otherName}`);
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
});
