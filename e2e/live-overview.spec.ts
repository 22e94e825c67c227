import { expect, type Page, test } from "@playwright/test";

// The e2e stack's simulator control endpoint (scripts/demo.ts, profile e2e).
const SIM_CONTROL = process.env.SWITCHYARD_E2E_SIM_CONTROL ?? "http://127.0.0.1:17070";
const CLUSTER = "llm-chat";
const NODES = ["llm-1", "llm-2", "llm-3"];

async function fault(node: string, f: string) {
  const res = await fetch(`${SIM_CONTROL}/nodes/${node}/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ fault: f }),
  });
  expect(res.ok, `fault ${f} on ${node}: ${res.status}`).toBe(true);
}

type LiveCounters = { opens: number; events: number; resyncs: number };

declare global {
  interface Window {
    __live: LiveCounters;
    __notReloaded?: boolean;
  }
}

/** Counts what the page's EventSource receives, so fetches can be matched to the events behind them. */
async function countLiveEvents(page: Page) {
  await page.addInitScript(() => {
    window.__live = { opens: 0, events: 0, resyncs: 0 };
    const Original = window.EventSource;
    window.EventSource = class extends Original {
      constructor(url: string | URL, init?: EventSourceInit) {
        super(url, init);
        this.addEventListener("open", () => window.__live.opens++);
        this.addEventListener("live", () => window.__live.events++);
        this.addEventListener("resync", () => window.__live.resyncs++);
      }
    };
  });
}

test("the overview is live: a crashed primary turns Failed and its automatic failover shows up without a reload", async ({
  page,
}) => {
  test.setTimeout(120_000);
  await countLiveEvents(page);
  const fleetFetches: number[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/api/v1/fleet") fleetFetches.push(Date.now());
  });

  await page.goto("/");
  const card = page.getByRole("region", { name: CLUSTER });
  await expect(card).toBeVisible();
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-status", "live", {
    timeout: 15_000,
  });
  // A fresh stack starts with unprobed nodes: they turn Healthy through live events, not polling.
  for (const n of NODES) {
    await expect(page.getByTestId(`node-${n}`).getByText("Healthy")).toBeVisible({ timeout: 30_000 });
  }

  // Idle: no fetch of the overview on a timer. Every fetch in the window must have an event (or a
  // reconnect) behind it; the old 5 s polling would show up here with none.
  await page.waitForTimeout(1_000);
  const before = await page.evaluate(() => ({ ...window.__live }));
  const windowStart = Date.now();
  await page.waitForTimeout(6_500);
  const after = await page.evaluate(() => ({ ...window.__live }));
  const fetchesInWindow = fleetFetches.filter((t) => t >= windowStart).length;
  const causes =
    after.events - before.events + (after.opens - before.opens) + (after.resyncs - before.resyncs);
  expect(
    fetchesInWindow,
    `${fetchesInWindow} overview fetches in 6.5 s idle, ${causes} live events/reconnects`,
  ).toBeLessThanOrEqual(causes);

  const primary = (await card.locator("dt:has-text('Primary') + dd").textContent())?.trim() ?? "";
  expect(NODES).toContain(primary);
  const known = await card
    .getByTestId("recent-switchover")
    .evaluateAll((items) => items.map((i) => i.getAttribute("data-id")));
  await page.evaluate(() => {
    window.__notReloaded = true;
  });

  await fault(primary, "crash");
  try {
    await expect(page.getByTestId(`node-${primary}`).getByText("Failed")).toBeVisible({ timeout: 15_000 });
    // The controller fails over on its own; the new switchover appears in the card's latest ones.
    const autoIds = () =>
      card
        .locator(`[data-testid="recent-switchover"][data-kind="auto"]`)
        .filter({ hasText: `${primary} →` })
        .evaluateAll((items) => items.map((i) => i.getAttribute("data-id") ?? ""));
    let failover = "";
    await expect
      .poll(
        async () => {
          failover = (await autoIds()).find((id) => !known.includes(id)) ?? "";
          return failover;
        },
        {
          timeout: 20_000,
          message: `an automatic switchover away from ${primary} (cooldown: 5 min per controller)`,
        },
      )
      .not.toBe("");
    const item = card.locator(`[data-testid="recent-switchover"][data-id="${failover}"]`);
    await expect(item.getByRole("link")).toHaveAttribute("href", `/switchovers/${failover}`);
    await expect(item).toHaveAttribute("data-state", "completed", { timeout: 20_000 });
    await expect(card.locator("dt:has-text('Primary') + dd")).not.toHaveText(primary);
    expect(await page.evaluate(() => window.__notReloaded)).toBe(true);
  } finally {
    await fault(primary, "recover");
  }
  // The old primary comes back as a standby, again without a reload.
  await expect(page.getByTestId(`node-${primary}`).getByText("Healthy")).toBeVisible({ timeout: 30_000 });
  expect(await page.evaluate(() => window.__notReloaded)).toBe(true);
});
