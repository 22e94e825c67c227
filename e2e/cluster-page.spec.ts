import { expect, test } from "@playwright/test";

// The cluster page against the e2e stack's live controller and simulated fleet. The e2e data
// directory survives runs and other specs switch gte-pro-search over, so the primary is read from
// the page rather than assumed.
const METRICS = ["latency", "gpu_util", "gpu_temp", "gpu_mem", "gpu_power"] as const;

test("gte-pro-search: topology with the active path to the primary, charts per range, events, policy", async ({
  page,
}) => {
  await page.goto("/clusters/gte-pro-search");
  await expect(page.getByRole("heading", { name: "gte-pro-search", level: 1 })).toBeVisible();

  const topology = page.getByTestId("topology");
  const lb = topology.getByTestId("topology-lb");
  await expect(lb).toBeVisible();
  await expect(lb).toContainText("LOAD BALANCER");
  await expect(lb).not.toContainText("none configured");
  for (const n of ["gte-a", "gte-b"]) await expect(topology.getByTestId(`topology-node-${n}`)).toBeVisible();

  const primary = (await page.getByTestId("cluster-primary").textContent())?.trim() ?? "";
  expect(primary).toMatch(/^gte-[ab]$/);
  const standby = primary === "gte-a" ? "gte-b" : "gte-a";
  await expect(topology.getByTestId(`topology-link-${primary}`)).toHaveAttribute("data-active", "true");
  await expect(topology.getByTestId(`topology-link-${standby}`)).toHaveAttribute("data-active", "false");
  await expect(topology.getByTestId(`topology-link-${standby}`)).toHaveAttribute(
    "data-status",
    /backup|down/,
  );
  await expect(topology.getByTestId(`topology-node-${primary}`)).toHaveAttribute("data-role", "primary");
  await expect(page.getByTestId("topology-summary")).toContainText(`→ ${primary} (primary)`);
  // Live signals from the controller's probes and GPU stream (the page refreshes every 10 s).
  await expect(topology.getByTestId(`signal-tcp-${primary}`)).toHaveAttribute("data-tone", "ok", {
    timeout: 20_000,
  });
  await expect(topology.getByTestId(`signal-http-${primary}`)).toHaveAttribute("data-tone", /ok|warn/);
  await expect(topology.getByTestId(`sparkline-${primary}`)).toHaveAttribute("d", /^M/, { timeout: 20_000 });

  const charts = page.getByTestId("cluster-charts");
  await expect(charts).toHaveAttribute("data-range", "15m");
  await charts.getByRole("button", { name: "1 h" }).click();
  await expect(charts.getByRole("button", { name: "1 h" })).toHaveAttribute("aria-pressed", "true");
  await expect(charts).toHaveAttribute("data-range", "1h");
  await expect(charts).toHaveAttribute("aria-busy", "false");
  for (const m of METRICS) {
    const chart = charts.getByTestId(`chart-${m}`);
    await expect(chart).toHaveAttribute("data-empty", "false");
    // One drawn line per node with data: recharts renders each as an SVG path with a `d`.
    await expect(chart.locator("path.recharts-line-curve").first()).toHaveAttribute("d", /^M/);
  }
  await expect(charts).toContainText("one point per 10 s");

  const feed = page.getByTestId("event-feed");
  await expect(feed.getByRole("heading", { name: "Events" })).toBeVisible();
  const first = feed.getByTestId("event").first();
  // A fresh stack has its first events (unknown → healthy) within seconds; the feed refetches.
  await expect(first).toBeVisible({ timeout: 20_000 });
  await expect(first.locator("time")).toHaveAttribute("title", /UTC$/);

  await expect(page.getByTestId("policy-summary")).toContainText("Probes every");
  await expect(page.getByTestId("switchover-open")).toBeVisible();
});

test("on a tablet the diagram scales to the screen and both nodes stay readable", async ({ page }) => {
  await page.setViewportSize({ width: 820, height: 1180 });
  await page.goto("/clusters/gte-pro-search");
  const svg = page.getByTestId("topology").locator("svg");
  await expect(svg).toBeVisible();
  const box = await svg.boundingBox();
  expect(box?.width ?? 0).toBeLessThanOrEqual(820);
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  for (const n of ["gte-a", "gte-b"]) {
    const node = await page.getByTestId(`topology-node-${n}`).boundingBox();
    expect(node?.width ?? 0, `${n} is drawn at a readable size`).toBeGreaterThan(220);
  }
});

test("an unknown cluster is a 404 with a way back; a bad range is a 400", async ({ page, request }) => {
  const res = await page.goto("/clusters/no-such-cluster");
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "No such cluster" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Back to the fleet" })).toBeVisible();
  const bad = await request.get("/api/v1/clusters/gte-pro-search/series?range=2h");
  expect(bad.status()).toBe(400);
  expect((await bad.json()).error).toBe("invalid_query");
});
