import { expect, test } from "@playwright/test";

const STATE = (role: string) => `.switchyard/e2e/e2e-${role}.json`;
const TOKEN_RE = /^syd_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/;

test("an admin creates an API token, sees it once, uses it, and revoking it locks it out", async ({
  page,
  playwright,
  baseURL,
}) => {
  // The e2e data directory survives runs: a fresh name each time.
  const name = `e2e-cli-${Date.now().toString(36)}`;
  await page.goto("/settings/tokens");
  await expect(page.getByRole("heading", { name: "API tokens", level: 1 })).toBeVisible();

  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Role", { exact: true }).selectOption("viewer");
  await page.getByLabel("Expires", { exact: true }).selectOption({ label: "in 30 days" });
  await page.getByRole("button", { name: "Create token" }).click();

  const secret = page.getByTestId("new-token");
  await expect(secret).toHaveValue(TOKEN_RE);
  const token = await secret.inputValue();
  await expect(page.getByTestId("token-created")).toContainText("shown only this once");
  await expect(page.getByRole("button", { name: "Copy" })).toBeVisible();

  // Listed by name and prefix only; after a reload the secret is gone for good.
  const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name, exact: true }) });
  await expect(row).toContainText(`${token.slice(0, 13)}…`);
  await expect(row).toContainText("viewer");
  await expect(row).toContainText("active");
  await page.reload();
  await expect(page.getByTestId("new-token")).toHaveCount(0);
  await expect(row).toBeVisible();
  expect(await page.content()).not.toContain(token);

  // A client with no cookies: the token alone authenticates it, with the viewer role.
  const api = await playwright.request.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  try {
    const headers = { authorization: `Bearer ${token}` };
    const status = await api.get("/api/v1/status", { headers });
    expect(status.status()).toBe(200);
    expect((await status.json()).clusters.length).toBeGreaterThan(0);
    expect((await api.get("/api/v1/status")).status()).toBe(401);
    const switchover = await api.post("/api/v1/switchovers", {
      headers,
      data: { cluster: "gte-pro-search", reason: "a viewer token tries" },
    });
    expect(switchover.status()).toBe(403);

    // Its use shows up in the list.
    await page.reload();
    await expect(row.locator("td").nth(3)).not.toHaveText("never");

    await row.getByRole("button", { name: `Revoke ${name}` }).click();
    await expect(row).toContainText("Anything using it gets 401");
    await row.getByRole("button", { name: "Revoke token" }).click();
    await expect(row.locator(".badge")).toHaveText(/^revoked/);
    await expect(row.getByRole("button", { name: `Revoke ${name}` })).toHaveCount(0);

    const after = await api.get("/api/v1/status", { headers });
    expect(after.status()).toBe(401);
    expect(await after.json()).toMatchObject({ error: "unauthenticated" });
  } finally {
    await api.dispose();
  }
});

test("the OpenAPI document is public and describes the token scheme", async ({ playwright, baseURL }) => {
  const api = await playwright.request.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  try {
    const res = await api.get("/api/v1/openapi.json");
    expect(res.status()).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes.bearerAuth.scheme).toBe("bearer");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/status", "/clusters/{id}", "/switchovers"]),
    );
  } finally {
    await api.dispose();
  }
});

test.describe("as an operator", () => {
  test.use({ storageState: STATE("operator") });

  test("cannot see or manage API tokens, on the page or through the API", async ({ page }) => {
    await page.goto("/settings/tokens");
    // Filtered: Next.js's route announcer is an alert too.
    await expect(page.getByRole("alert").filter({ hasText: "Only an admin" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Create token" })).toHaveCount(0);
    expect((await page.request.get("/api/v1/tokens")).status()).toBe(403);
  });
});
