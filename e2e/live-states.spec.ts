import { expect, test } from "@playwright/test";

// The e2e stack's simulator control endpoint (scripts/demo.ts, profile e2e).
const SIM_CONTROL = process.env.SWITCHYARD_E2E_SIM_CONTROL ?? "http://127.0.0.1:17070";

async function fault(node: string, f: string) {
  const res = await fetch(`${SIM_CONTROL}/nodes/${node}/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ fault: f }),
  });
  expect(res.ok, `fault ${f} on ${node}: ${res.status}`).toBe(true);
}

test("overview states are live: a crashed node turns Failed, then Healthy", async ({ page }) => {
  await page.goto("/");
  const row = page.getByTestId("node-llm-3");
  // The controller probes every node each second; the page refreshes on its own.
  await expect(row.getByText("Healthy")).toBeVisible({ timeout: 20_000 });
  await fault("llm-3", "crash");
  try {
    await expect(row.getByText("Failed")).toBeVisible({ timeout: 20_000 });
    await expect(page.getByRole("region", { name: "llm-chat" }).getByText("Degraded")).toBeVisible();
  } finally {
    await fault("llm-3", "recover");
  }
  await expect(row.getByText("Healthy")).toBeVisible({ timeout: 20_000 });
});
