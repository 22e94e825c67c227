// Reading the private keys an inventory file points at. Paths are relative to the inventory file
// (or start with `~/`). Like ssh, a key file that its group or others can access is refused: the
// key is as good as leaked, and storing it sealed would only hide that. Keys stay in memory; no
// message here ever includes key material.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describePrivateKey } from "@/server/credentials/store";
import { formatPath, type InventoryFile, type InventoryIssue } from "./schema";

const MAX_KEY_FILE_BYTES = 64 * 1024;

export function resolveKeyPath(file: string, baseDir: string): string {
  if (file === "~") return os.homedir();
  if (file.startsWith("~/")) return path.join(os.homedir(), file.slice(2));
  return path.resolve(baseDir, file);
}

/** Reads every `credentials[].privateKeyFile`; returns the keys by credential name and, for the
 * files that could not be used, issues naming the path in the inventory file. */
export async function readPrivateKeyFiles(
  file: Pick<InventoryFile, "credentials">,
  baseDir: string,
): Promise<{ keys: Map<string, string>; issues: InventoryIssue[] }> {
  const keys = new Map<string, string>();
  const issues: InventoryIssue[] = [];
  for (const [i, cred] of (file.credentials ?? []).entries()) {
    const at = formatPath(["credentials", i, "privateKeyFile"]);
    const full = resolveKeyPath(cred.privateKeyFile, baseDir);
    const fail = (message: string) => issues.push({ path: at, message });
    let stat: Awaited<ReturnType<typeof fs.stat>>;
    try {
      stat = await fs.stat(full);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      fail(
        code === "ENOENT"
          ? `${full} does not exist`
          : code === "EACCES"
            ? `${full} is not readable by this user`
            : `${full} cannot be read (${code ?? "error"})`,
      );
      continue;
    }
    if (!stat.isFile()) {
      fail(`${full} is not a regular file`);
      continue;
    }
    if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
      fail(
        `permissions ${mode} for ${full} are too open: a private key must not be accessible by group or others ` +
          `(run: chmod 600 ${full})`,
      );
      continue;
    }
    if (stat.size > MAX_KEY_FILE_BYTES) {
      fail(`${full} is ${stat.size} bytes; that is not a private key`);
      continue;
    }
    let text: string;
    try {
      text = await fs.readFile(full, "utf8");
    } catch (err) {
      fail(`${full} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
      continue;
    }
    try {
      describePrivateKey(text);
    } catch {
      fail(
        `${full} is not an unencrypted OpenSSH or PEM private key (a passphrase-protected key must be ` +
          "decrypted first: the control plane has no one to ask for the passphrase)",
      );
      continue;
    }
    keys.set(cred.name, text);
  }
  return { keys, issues };
}
