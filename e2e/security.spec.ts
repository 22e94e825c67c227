// Security checks against the running stack, signed in as the admin: server actions refuse a
// request from another origin (Next.js compares Origin with Host before running an action), and no
// secret from the data directory or the session ever reaches a page or an API response.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, type Page, type Request, test } from "@playwright/test";

const DATA_DIR = path.resolve(
  import.meta.dirname,
  "..",
  process.env.SWITCHYARD_E2E_DATA_DIR ?? ".switchyard/e2e",
);
const CLUSTER = "llm-chat";

type Switchover = { id: string };

async function switchoverIds(page: Page): Promise<string[]> {
  const res = await page.request.get("/api/v1/switchovers?limit=500");
  expect(res.status()).toBe(200);
  return ((await res.json()) as { items: Switchover[] }).items.map((s) => s.id);
}

/**
 * Makes the real "Switch over…" form submit once, with a whitespace reason the server refuses
 * (so nothing moves), and returns the request it made: the action id and body format to replay.
 */
async function captureSwitchoverAction(page: Page) {
  await page.goto("/");
  const card = page.getByRole("region", { name: CLUSTER });
  await card.getByTestId("switchover-open").click();
  await card.getByLabel(/Reason/).fill("   ");
  const posted = page.waitForRequest(
    (r: Request) => r.method() === "POST" && r.headers()["next-action"] !== undefined,
  );
  await card.getByTestId("switchover-confirm").click();
  const request = await posted;
  // The browser's own request ran the action: the server's validation answered.
  await expect(card.getByRole("alert")).toContainText("reason is required");
  const headers = await request.allHeaders();
  const id = headers["next-action"];
  expect(id, "server action id").toMatch(/^[0-9a-f]{16,}$/i);
  const body = request.postData() ?? "";
  const args = JSON.parse(body) as [Record<string, unknown>];
  expect(args[0]).toMatchObject({ reason: "   " });
  return {
    url: new URL(request.url()).pathname,
    args,
    headers: {
      "next-action": id as string,
      "content-type": headers["content-type"] ?? "text/plain;charset=UTF-8",
      accept: headers.accept ?? "text/x-component",
      ...(headers["next-router-state-tree"]
        ? { "next-router-state-tree": headers["next-router-state-tree"] }
        : {}),
    },
  };
}

test.describe("server actions from another origin", () => {
  test("are refused before they run, and start no switchover", async ({ page, baseURL }) => {
    const action = await captureSwitchoverAction(page);
    const replay = (origin: string, reason: string) =>
      page.request.post(action.url, {
        headers: { ...action.headers, origin },
        data: JSON.stringify([{ ...action.args[0], reason }]),
        failOnStatusCode: false,
        maxRedirects: 0,
      });

    // Control: the same replay from the app's own origin reaches the action (validation answers),
    // so a refusal below is the origin check and not a malformed request.
    const own = await replay(new URL(baseURL ?? "http://127.0.0.1:3100").origin, "   ");
    expect(own.status()).toBe(200);
    expect(await own.text()).toContain("reason is required");

    const before = await switchoverIds(page);
    for (const origin of [
      "http://evil.example",
      "null",
      "http://127.0.0.1.evil.example",
      "http://127.0.0.1:3999",
      "http://localhost:3100",
    ]) {
      const probe = await replay(origin, "   ");
      expect(probe.ok(), `${origin}: refused`).toBe(false);
      expect(await probe.text(), `${origin}: the action did not run`).not.toContain("reason is required");

      const real = await replay(origin, `e2e: cross-site request from ${origin}`);
      expect(real.ok(), `${origin}: refused`).toBe(false);
    }
    expect(await switchoverIds(page)).toEqual(before);
  });
});

test.describe("secrets never reach a page", () => {
  test("pages and API responses contain no key, password, or session value", async ({ page }) => {
    const read = (file: string) => readFileSync(path.join(DATA_DIR, file), "utf8").trim();
    const session = (await page.context().cookies()).find((c) => c.name === "switchyard_session");
    expect(session?.value, "signed in as admin").toBeTruthy();
    const sessionValue = session?.value ?? "";
    const clientKey = read("sim/client_ed25519");
    // The longest line of the SSH private key's body: unmistakable if it ever leaks.
    const keyBody = clientKey
      .split("\n")
      .filter((l) => !l.startsWith("-----"))
      .sort((a, b) => b.length - a.length)[0];
    expect(keyBody?.length).toBeGreaterThan(40);
    const secrets: Record<string, string> = {
      "an SSH private key": "PRIVATE KEY",
      "an OpenSSH key": "BEGIN OPENSSH",
      "the encryption key (secret.key)": read("secret.key"),
      "the admin password": read("admin-password"),
      "the SSH client key's body": keyBody ?? "",
      "the session cookie": sessionValue,
      "the session's stored hash": createHash("sha256").update(sessionValue).digest("hex"),
      "a password hash": "$argon2",
    };
    if (existsSync(path.join(DATA_DIR, "pg-password")))
      secrets["the database password"] = read("pg-password");
    for (const [name, value] of Object.entries(secrets)) expect(value.length, name).toBeGreaterThan(5);

    let ids = await switchoverIds(page);
    if (ids.length === 0) {
      // A fresh data directory: make one, so its page and report are checked too.
      const res = await page.request.post("/api/v1/switchovers", {
        data: { cluster: CLUSTER, reason: "e2e: security spec needs a switchover page", drill: true },
      });
      expect(res.status()).toBe(202);
      ids = await switchoverIds(page);
    }
    const latest = ids[0];
    expect(latest).toBeTruthy();

    const urls = [
      "/",
      `/switchovers/${latest}`,
      "/api/v1/fleet",
      "/api/v1/switchovers",
      `/api/v1/switchovers/${latest}`,
      "/api/v1/clusters",
      "/api/v1/nodes",
      "/api/v1/status",
      "/api/v1/tokens",
    ];
    for (const url of urls) {
      const res = await page.request.get(url);
      expect(res.status(), url).toBe(200);
      const text = await res.text();
      expect(text.length, url).toBeGreaterThan(1);
      for (const [name, value] of Object.entries(secrets)) {
        expect(text.includes(value), `${url} contains ${name}`).toBe(false);
      }
    }
    // The report is a download once the switchover has finished (404 while it runs).
    const report = await page.request.get(`/api/v1/switchovers/${latest}/report`);
    expect([200, 404]).toContain(report.status());
    const reportText = await report.text();
    for (const [name, value] of Object.entries(secrets)) {
      expect(reportText.includes(value), `the report contains ${name}`).toBe(false);
    }
  });
});
