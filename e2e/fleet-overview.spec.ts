import { expect, test } from "@playwright/test";

const CLUSTERS = [
  { name: "gte-pro-search", nodes: ["gte-a", "gte-b"], mode: "Active–standby" },
  { name: "llm-chat", nodes: ["llm-1", "llm-2", "llm-3"], mode: "Active–standby" },
  { name: "ollama-bridge", nodes: ["ollama-1", "ollama-2", "ollama-3"], mode: "Active–active pool" },
];

test("the overview lists the three demo clusters and their nodes from the database", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Fleet", level: 1 })).toBeVisible();
  await expect(page.getByTestId("cluster-card")).toHaveCount(CLUSTERS.length);
  for (const c of CLUSTERS) {
    const card = page.getByRole("region", { name: c.name });
    await expect(card).toBeVisible();
    await expect(card.getByText(c.mode)).toBeVisible();
    for (const n of c.nodes) {
      await expect(card.getByTestId(`node-${n}`)).toBeVisible();
    }
  }
  // Active-standby clusters name their primary (gte-a as seeded; the e2e data directory survives
  // runs, and other specs switch it over).
  await expect(
    page.getByRole("region", { name: "gte-pro-search" }).locator("dt:has-text('Primary') + dd"),
  ).toHaveText(/^gte-[ab]$/);
  await expect(page.getByText("8 nodes")).toBeVisible();
});

test("the control plane reports its own health with the database status", async ({ request }) => {
  const res = await request.get("/api/health");
  expect(res.status()).toBe(200);
  const body = await res.json();
  expect(body.status).toBe("ok");
  expect(body.database.ok).toBe(true);
  expect(body.database.migrations).toBeGreaterThanOrEqual(2);
});
