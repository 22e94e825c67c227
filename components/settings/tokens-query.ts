// Query key and fetcher for the API token list, shared by the settings page's server prefetch and
// its client components, so both use the same cache entry.
import type { TokenList } from "@/server/api/schemas";

export const apiTokensKey = ["settings", "api-tokens"] as const;

export async function fetchApiTokens(): Promise<TokenList> {
  const res = await fetch("/api/v1/tokens", { cache: "no-store" });
  if (!res.ok) throw new Error(`The tokens API answered ${res.status}`);
  return (await res.json()) as TokenList;
}
