import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { Suspense } from "react";
import { getQueryClient } from "@/app/get-query-client";
import { InventorySettingsView } from "@/components/settings/inventory-settings";
import { gateSettingsPage } from "@/components/settings/page-gate";
import { SettingsNav } from "@/components/settings/settings-nav";
import { settingsKeys } from "@/components/settings/settings-query";
import { getDb } from "@/db/client";
import { listInventorySettings } from "@/server/settings/inventory";

export const dynamic = "force-dynamic";
export const metadata = { title: "Clusters, nodes and load balancers" };

// Operators reach this page for the maintenance toggles; the editing controls are an admin's.
export default async function ClusterSettingsPage() {
  const gate = await gateSettingsPage(
    "maintenance.set",
    "Clusters, nodes and load balancers",
    "change clusters, nodes, load balancers or maintenance",
  );
  if (!gate.ok) return gate.page;
  const queryClient = getQueryClient();
  await queryClient.prefetchQuery({
    queryKey: settingsKeys.inventory,
    queryFn: () => listInventorySettings(getDb()),
  });
  return (
    <>
      <SettingsNav role={gate.actor.role} current="/settings/clusters" />
      <HydrationBoundary state={dehydrate(queryClient)}>
        <Suspense fallback={<p className="muted">Loading the inventory…</p>}>
          <InventorySettingsView />
        </Suspense>
      </HydrationBoundary>
    </>
  );
}
