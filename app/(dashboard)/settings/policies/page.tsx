import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { gateSettingsPage } from "@/components/settings/page-gate";
import { PolicyEditorView } from "@/components/settings/policy-editor";
import { SettingsNav } from "@/components/settings/settings-nav";
import { settingsKeys } from "@/components/settings/settings-query";
import { getDb } from "@/db/client";
import { listPolicySettings } from "@/server/settings/policy";

export const dynamic = "force-dynamic";
export const metadata = { title: "Failover policy" };

export default async function PolicySettingsPage() {
  const gate = await gateSettingsPage("policy.write", "Failover policy", "change failover policies");
  if (!gate.ok) return gate.page;
  const queryClient = getQueryClient();
  await queryClient.prefetchQuery({
    queryKey: settingsKeys.policies,
    queryFn: () => listPolicySettings(getDb()),
  });
  return (
    <>
      <SettingsNav role={gate.actor.role} current="/settings/policies" />
      <HydrationBoundary state={dehydrate(queryClient)}>
        <Suspense fallback={<p className="muted">Loading policies…</p>}>
          <PolicyEditorView />
        </Suspense>
      </HydrationBoundary>
    </>
  );
}
