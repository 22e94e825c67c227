// Signs in once per role and saves each browser state, so specs start signed in:
// admin with the password the e2e demo generated (.switchyard/e2e/admin-password), and an operator
// and a viewer created (or re-passworded) through the same CLI an operator would use.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { chromium, type FullConfig } from "@playwright/test";

const ROOT = path.resolve(import.meta.dirname, "..");
const DATA_DIR = path.join(ROOT, process.env.SWITCHYARD_E2E_DATA_DIR ?? ".switchyard/e2e");
export const STATE = (role: string) => path.join(DATA_DIR, `e2e-${role}.json`);

function ensureUser(username: string, role: string): string {
  const password = randomBytes(18).toString("base64url");
  const env = { ...process.env, SWITCHYARD_DATA_DIR: DATA_DIR, SWITCHYARD_NEW_PASSWORD: password };
  const run = (args: string[]) =>
    execFileSync(process.execPath, ["--import", "tsx", "scripts/user.ts", ...args], {
      cwd: ROOT,
      env,
      stdio: "pipe",
    });
  try {
    run(["create", "--username", username, "--role", role]);
  } catch {
    run(["password", "--username", username]);
  }
  return password;
}

export default async function globalSetup(config: FullConfig) {
  const baseURL = config.projects[0]?.use.baseURL ?? "http://127.0.0.1:3100";
  const operatorPassword = ensureUser("e2e-operator", "operator");
  const users: Array<{ role: string; username: string; password: string }> = [
    {
      role: "admin",
      username: "admin",
      password: readFileSync(path.join(DATA_DIR, "admin-password"), "utf8").trim(),
    },
    { role: "operator", username: "e2e-operator", password: operatorPassword },
    // A second, separate session of the operator, for the spec that signs out (and so kills it).
    { role: "operator-signout", username: "e2e-operator", password: operatorPassword },
    { role: "viewer", username: "e2e-viewer", password: ensureUser("e2e-viewer", "viewer") },
  ];
  const browser = await chromium.launch({
    executablePath: process.env.SWITCHYARD_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    for (const u of users) {
      const context = await browser.newContext({ baseURL });
      const page = await context.newPage();
      await page.goto("/login");
      await page.getByLabel("User name").fill(u.username);
      await page.getByLabel("Password").fill(u.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByTestId("whoami").waitFor({ timeout: 30_000 });
      await context.storageState({ path: STATE(u.role) });
      await context.close();
    }
  } finally {
    await browser.close();
  }
}
