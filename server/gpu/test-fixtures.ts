/**
 * Locates the real nvidia-smi captures. They live in the shared workspace next to the repo (not in
 * it) so that every checkout parses the same read-only bytes; nothing here may write to them.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

export const NVIDIA_SMI_FIXTURES_DIR = path.resolve(REPO_ROOT, "../shared/fixtures/nvidia-smi");

export function readNvidiaSmiFixture(name: string): string {
  return readFileSync(path.join(NVIDIA_SMI_FIXTURES_DIR, name), "utf8");
}

/** busy.txt holds several captures, each under a `### <title>` line; returns title → body text. */
export function busySections(): Map<string, string> {
  const sections = new Map<string, string>();
  let title: string | null = null;
  let body: string[] = [];
  for (const line of readNvidiaSmiFixture("busy.txt").split("\n")) {
    if (line.startsWith("### ")) {
      if (title !== null) sections.set(title, body.join("\n"));
      title = line.slice(4);
      body = [];
    } else if (title !== null) {
      body.push(line);
    }
  }
  if (title !== null) sections.set(title, body.join("\n"));
  return sections;
}

export function busySection(title: string): string {
  const s = busySections().get(title);
  if (s === undefined) throw new Error(`busy.txt has no section "### ${title}"`);
  return s;
}
