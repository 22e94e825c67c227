import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { gateSettingsPage } from "@/components/settings/page-gate";
import { PlaybookEditorView } from "@/components/settings/playbook-editor";
import { SettingsNav } from "@/components/settings/settings-nav";
import { settingsKeys } from "@/components/settings/settings-query";
import { getDb } from "@/db/client";
import { listPlaybookSettings } from "@/server/settings/playbooks";

export const dynamic = "force-dynamic";
export const metadata = { title: "Playbooks" };

export default async function PlaybookSettingsPage() {
  const gate = await gateSettingsPage("playbook.write", "Playbooks", "see and edit playbooks");
  if (!gate.ok) return gate.page;
  const queryClient = getQueryClient();
  await queryClient.prefetchQuery({
    queryKey: settingsKeys.playbooks,
    queryFn: () => listPlaybookSettings(getDb()),
  });
  return (
    <>
      <SettingsNav role={gate.actor.role} current="/settings/playbooks" />
      <HydrationBoundary state={dehydrate(queryClient)}>
        <Suspense fallback={<p className="muted">Loading playbooks…</p>}>
          <PlaybookEditorView />
        </Suspense>
      </HydrationBoundary>
    </>
  );
}
