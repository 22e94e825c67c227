import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { CredentialsSettingsView } from "@/components/settings/credentials-settings";
import { gateSettingsPage } from "@/components/settings/page-gate";
import { SettingsNav } from "@/components/settings/settings-nav";
import { settingsKeys } from "@/components/settings/settings-query";
import { getDb } from "@/db/client";
import { listCredentials } from "@/server/settings/credentials";

export const dynamic = "force-dynamic";
export const metadata = { title: "SSH credentials" };

export default async function CredentialSettingsPage() {
  const gate = await gateSettingsPage(
    "credential.write",
    "SSH credentials",
    "see and manage SSH credentials",
  );
  if (!gate.ok) return gate.page;
  const queryClient = getQueryClient();
  await queryClient.prefetchQuery({
    queryKey: settingsKeys.credentials,
    queryFn: () => listCredentials(getDb()),
  });
  return (
    <>
      <SettingsNav role={gate.actor.role} current="/settings/credentials" />
      <HydrationBoundary state={dehydrate(queryClient)}>
        <Suspense fallback={<p className="muted">Loading credentials…</p>}>
          <CredentialsSettingsView />
        </Suspense>
      </HydrationBoundary>
    </>
  );
}
