import { expect, type Locator, type Page, test } from "@playwright/test";

// Settings, signed in as the admin (the default storage state). Nothing here saves: the e2e stack is
// shared with the other specs, and every case is about what is refused or only rendered.

const STATE = (role: string) => `.switchyard/e2e/e2e-${role}.json`;

/** The message rendered right after an input, tied to it as its description. */
const messageAfter = (input: Locator) => input.locator("xpath=following-sibling::p[1]");

async function openAddNode(page: Page, cluster: string) {
  await page.goto("/settings/clusters");
  const card = page.getByTestId(`cluster-${cluster}`);
  await expect(card.getByRole("heading", { name: cluster, level: 2 })).toBeVisible();
  await card.getByRole("button", { name: `Add a node to ${cluster}` }).click();
  return { card, form: page.getByRole("form", { name: `Add a node to ${cluster}` }) };
}

test("bad input in the node form shows each message next to its field and saves nothing", async ({
  page,
}) => {
  const { card, form } = await openAddNode(page, "gte-pro-search");
  const rows = card.getByRole("table", { name: "Nodes of gte-pro-search" }).locator("tbody > tr");
  const before = await rows.count();

  const cases = [
    { label: "Name", value: "Bad Node!", message: /^Name must be 1-63 lowercase letters, digits or '-'/ },
    { label: "Host", value: "not a host!", message: /^Host must be an IPv4\/IPv6 address or a DNS name$/ },
    { label: "SSH port", value: "99999", message: /^SSH port must be between 1 and 65535$/ },
    { label: "Service port", value: "eighty", message: /^Service port must be a number$/ },
    { label: "Health path", value: "health", message: /^Health path must be a URL path starting with '\/'/ },
  ];
  for (const c of cases) await form.getByLabel(c.label, { exact: true }).fill(c.value);
  await form.getByRole("button", { name: "Add node" }).click();

  await expect(form.getByRole("alert")).toHaveText(`${cases.length} fields need fixing; nothing was saved.`);
  for (const c of cases) {
    const input = form.getByLabel(c.label, { exact: true });
    await expect(input, c.label).toHaveAttribute("aria-invalid", "true");
    await expect(messageAfter(input), c.label).toHaveText(c.message);
    await expect(input, c.label).toHaveAccessibleDescription(c.message);
  }
  // Fields that were fine carry no message.
  await expect(form.getByLabel("SSH user", { exact: true })).not.toHaveAttribute("aria-invalid", "true");

  // What only the database can tell lands next to its field too: an endpoint another node has.
  const service = (await card.getByTestId("node-gte-a").locator("td").first().textContent()) ?? "";
  const [, host, port] = /^([\d.]+):(\d+)/.exec(service) ?? [];
  expect(host, `endpoint of gte-a in "${service}"`).toBeTruthy();
  await form.getByLabel("Name", { exact: true }).fill(`e2e-dup-${Date.now().toString(36)}`);
  await form.getByLabel("Host", { exact: true }).fill(host ?? "");
  await form.getByLabel("SSH port", { exact: true }).fill("22");
  await form.getByLabel("Service port", { exact: true }).fill(port ?? "");
  await form.getByLabel("Health path", { exact: true }).fill("/health");
  await form.getByLabel("Role", { exact: true }).selectOption("standby");
  await form.getByRole("button", { name: "Add node" }).click();
  const hostInput = form.getByLabel("Host", { exact: true });
  await expect(messageAfter(hostInput)).toHaveText(
    new RegExp(`^${host?.replaceAll(".", "\\.")}:${port} is already node gte-a \\(cluster gte-pro-search\\)`),
  );
  await expect(form.getByLabel("Name", { exact: true })).not.toHaveAttribute("aria-invalid", "true");

  // Nothing was saved: the same nodes, also after a reload.
  await expect(rows).toHaveCount(before);
  await page.reload();
  await expect(page.getByTestId("cluster-gte-pro-search").locator("tbody > tr")).toHaveCount(before);
  await expect(page.getByText("Bad Node!")).toHaveCount(0);
});

test("the playbook editor's dry run shows every rendered command and runs nothing", async ({ page }) => {
  await page.goto("/settings/playbooks");
  await expect(page.getByRole("heading", { name: "Playbooks", level: 1 })).toBeVisible();
  await page.getByRole("button", { name: "Preflight", exact: true }).click();
  await page.getByLabel("Dry run on").selectOption({ label: "gte-pro-search" });
  await page.getByRole("button", { name: "Dry run", exact: true }).click();

  const dry = page.getByTestId("dry-run");
  await expect(dry.getByRole("heading", { level: 2 })).toHaveText("Dry run: Preflight on gte-pro-search");
  await expect(dry).toContainText("Nothing ran.");
  const commands = dry.getByTestId("rendered-command");
  await expect(commands).toHaveCount(2);
  // The standby's address and port, filled in and quoted where needed; no placeholder left.
  await expect(commands.nth(0)).toContainText(/^h=127\.0\.0\.\d+; case "\$h" in/);
  await expect(commands.nth(0)).toContainText(/curl -fsS -g --max-time 2 "\$u"\/health$/);
  await expect(commands.nth(1)).toContainText(/^p=\/\S+\.conf; dir=\$\(dirname -- "\$p"\)/);
  for (const text of await commands.allTextContents()) expect(text).not.toContain("{{");

  // The traffic switch renders the upstream file it would write, at the next epoch.
  await page.getByRole("button", { name: "Switch traffic", exact: true }).click();
  await page.getByRole("button", { name: "Dry run", exact: true }).click();
  await expect(dry.getByRole("heading", { level: 2 })).toHaveText(
    "Dry run: Switch traffic on gte-pro-search",
  );
  await expect(dry.getByTestId("rendered-command")).toContainText("new='# switchyard-epoch: ");
  await expect(dry.getByTestId("rendered-command")).toContainText("upstream switchyard_gte_pro_search {");
});

test("an invalid playbook shows the line and column of each problem, and is not saved", async ({ page }) => {
  await page.goto("/settings/playbooks");
  const editor = page.getByLabel(/^default-preflight — /);
  const label = await page.locator(`label[for="${await editor.getAttribute("id")}"]`).textContent();
  const original = await editor.inputValue();

  const broken = original.replace("{{health_path}}", "{{health_pth}}");
  const lines = broken.split("\n");
  const line = lines.findIndex((l) => l.includes("{{health_pth}}")) + 1;
  const column = (lines[line - 1]?.indexOf("{{health_pth}}") ?? -1) + 1;
  const cases = [
    {
      text: broken,
      where: `Line ${line}, column ${column}`,
      message: /steps\[0\]\.command: unknown variable \{\{health_pth\}\}; known: /,
    },
    {
      text: original.replace(/\n}\s*$/, ",\n}\n"),
      where: `Line ${original.trimEnd().split("\n").length}, column 1`,
      message: /trailing comma before '}'/,
    },
  ];
  const problems = page.getByTestId("problems");
  for (const c of cases) {
    await editor.fill(c.text);
    await page.getByRole("button", { name: "Validate" }).click();
    await expect(problems.getByRole("listitem")).toHaveCount(1);
    await expect(problems.getByRole("button")).toHaveText(c.where);
    await expect(problems).toContainText(c.message);
    await expect(editor).toHaveAttribute("aria-invalid", "true");
  }

  // Clicking a problem puts the caret there.
  await editor.fill(broken);
  await page.getByRole("button", { name: "Validate" }).click();
  await problems.getByRole("button", { name: `Line ${line}, column ${column}` }).click();
  const offset = lines.slice(0, line - 1).join("\n").length + 1 + column - 1;
  await expect.poll(() => editor.evaluate((el) => (el as HTMLTextAreaElement).selectionStart)).toBe(offset);

  // Saving checks it again and refuses, naming the place; the stored version is unchanged.
  await page.getByRole("button", { name: /^Save as version \d+…$/ }).click();
  await page.getByRole("button", { name: /^Save version \d+$/ }).click();
  await expect(page.getByRole("alert").filter({ hasText: "nothing was saved" }).first()).toContainText(
    `The playbook has 1 problem (the first at line ${line}, column ${column}); nothing was saved.`,
  );
  await page.reload();
  await expect(
    page.locator(`label[for="${await page.getByLabel(/^default-preflight — /).getAttribute("id")}"]`),
  ).toHaveText(label ?? "");
  await expect(page.getByLabel(/^default-preflight — /)).toHaveValue(original);
});

test("the triple-check preset shows its warning before anything is saved", async ({ page }) => {
  await page.goto("/settings/policies");
  await page.getByLabel("Cluster", { exact: true }).selectOption({ label: "gte-pro-search" });
  const form = page.getByRole("form", { name: "Policy of gte-pro-search" });
  const stored = await form.getByLabel("Preset", { exact: true }).inputValue();
  expect(stored).not.toBe("triple_check");
  await form.getByLabel("Preset", { exact: true }).selectOption("triple_check");
  await expect(form.getByTestId("preset-warning")).toHaveText(
    "A crashed process leaves its GPU idle (0 %), so this check never fires on the most common failure.",
  );
  await expect(form.getByLabel("Signals required")).toHaveValue("all");
  // A bad value is refused next to its field, and the policy is not saved.
  const interval = form.getByLabel(/^Probe interval/);
  await interval.fill("50");
  await form.getByRole("button", { name: "Save policy" }).click();
  await expect(messageAfter(interval)).toHaveText("Probe interval must be at least 100 ms");
  await page.reload();
  await page.getByLabel("Cluster", { exact: true }).selectOption({ label: "gte-pro-search" });
  await expect(form.getByLabel("Preset", { exact: true })).toHaveValue(stored);
});

test.describe("as an operator", () => {
  test.use({ storageState: STATE("operator") });

  test("sees maintenance toggles but no editing controls, and no admin sections", async ({ page }) => {
    await page.goto("/settings/clusters");
    const card = page.getByTestId("cluster-gte-pro-search");
    await expect(
      card
        .getByRole("button", { name: "Start maintenance for gte-pro-search" })
        .or(card.getByRole("button", { name: "End maintenance for gte-pro-search" })),
    ).toBeVisible();
    await expect(card.getByRole("button", { name: /^Add a node/ })).toHaveCount(0);
    await expect(card.getByRole("button", { name: /^Remove/ })).toHaveCount(0);
    await page.goto("/settings/playbooks");
    await expect(
      page.getByRole("alert").filter({ hasText: "Only an admin can see and edit playbooks." }),
    ).toBeVisible();
  });
});

test.describe("as a viewer", () => {
  test.use({ storageState: STATE("viewer") });

  test("is told settings are not for them", async ({ page }) => {
    await page.goto("/settings");
    await expect(
      page.getByRole("alert").filter({ hasText: "Only an operator can open the settings." }),
    ).toBeVisible();
  });
});
