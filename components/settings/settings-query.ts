// Query keys and fetchers for the settings pages, shared by each page's server prefetch and its
// client components (the same cache entries). The client re-reads through the settings actions,
// which check the caller's role like every other action.
import { loadPlaybooksAction } from "@/server/actions/playbooks";
import {
  loadCredentialsAction,
  loadInventorySettingsAction,
  loadPolicySettingsAction,
} from "@/server/actions/settings";
import type { ActionResult } from "@/server/auth/guard";
import type { CredentialView } from "@/server/settings/credentials";
import type { InventorySettings } from "@/server/settings/inventory";
import type { PlaybookSettings } from "@/server/settings/playbooks";
import type { PolicySettingsView } from "@/server/settings/policy";

export const settingsKeys = {
  inventory: ["settings", "inventory"] as const,
  credentials: ["settings", "credentials"] as const,
  policies: ["settings", "policies"] as const,
  playbooks: ["settings", "playbooks"] as const,
};

function unwrap<T>(res: ActionResult<T>): T {
  if (!res.ok) throw new Error(res.error);
  return res.data;
}

export async function fetchInventorySettings(): Promise<InventorySettings> {
  return unwrap(await loadInventorySettingsAction({}));
}

export async function fetchCredentials(): Promise<CredentialView[]> {
  return unwrap(await loadCredentialsAction({}));
}

export async function fetchPolicySettings(): Promise<PolicySettingsView[]> {
  return unwrap(await loadPolicySettingsAction({}));
}

export async function fetchPlaybookSettings(): Promise<PlaybookSettings> {
  return unwrap(await loadPlaybooksAction({}));
}
