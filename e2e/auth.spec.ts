import { expect, test } from "@playwright/test";

const STATE = (role: string) => `.switchyard/e2e/e2e-${role}.json`;

test.describe("signed out", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("every page sends you to sign in; the API answers 401", async ({ page, request }) => {
    await page.goto("/");
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByRole("heading", { name: /Switchyard/ })).toBeVisible();
    const api = await request.get("/api/v1/fleet");
    expect(api.status()).toBe(401);
    const html = await (await request.get("/")).text();
    expect(html).not.toContain("gte-pro-search");
  });

  test("a wrong password is refused with a message and no session", async ({ page }) => {
    await page.goto("/login");
    // Not a real account: failures count against an account (5 per 15 min) and an address.
    await page.getByLabel("User name").fill("e2e-nobody");
    await page.getByLabel("Password").fill("definitely-not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "Wrong" })).toHaveText(
      "Wrong user name or password.",
    );
    await expect(page).toHaveURL(/\/login$/);
  });
});

test.describe("as a viewer", () => {
  test.use({ storageState: STATE("viewer") });

  test("sees the fleet but no switch-over control, and the API refuses a switchover with 403", async ({
    page,
  }) => {
    await page.goto("/");
    await expect(page.getByTestId("whoami")).toHaveText(/e2e-viewer · viewer/);
    await expect(page.getByRole("region", { name: "gte-pro-search" })).toBeVisible();
    await expect(page.getByTestId("switchover-open")).toHaveCount(0);
    const res = await page.request.post("/api/v1/switchovers", {
      data: { cluster: "gte-pro-search", reason: "viewer tries" },
    });
    expect(res.status()).toBe(403);
  });
});

test.describe("as an operator", () => {
  test.use({ storageState: STATE("operator") });

  test("a reason with markup is shown as text, never run", async ({ page }) => {
    await page.goto("/");
    const payload = `<img src=x onerror="window.__xss=1">"'><script>window.__xss=2</script>`;
    const card = page.getByRole("region", { name: "llm-chat" });
    await card.getByTestId("switchover-open").click();
    await card.getByLabel(/Reason/).fill(payload);
    await card.getByTestId("switchover-confirm").click();
    await expect(page).toHaveURL(/\/switchovers\//);
    await expect(page.getByText(payload)).toBeVisible();
    await expect(page.getByTestId("switchover-state")).toHaveText(/completed|rolled back|failed/, {
      timeout: 30_000,
    });
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await expect(page.locator("img[src=x]")).toHaveCount(0);
  });

  test("signing out ends the session: the old cookie no longer works", async ({ browser }) => {
    // Its own session (global-setup), so the shared operator session stays valid for other specs.
    const context = await browser.newContext({ storageState: STATE("operator-signout") });
    const page = await context.newPage();
    await page.goto("/");
    const cookies = await page.context().cookies();
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/login$/);
    const replay = await browser.newContext({ storageState: { cookies, origins: [] } });
    const res = await replay.request.get("/api/v1/fleet");
    expect(res.status()).toBe(401);
    await replay.close();
    await context.close();
  });
});
