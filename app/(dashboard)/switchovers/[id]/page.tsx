import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { notFound } from "next/navigation";
import { getQueryClient } from "@/app/get-query-client";
import { switchoverKey } from "@/components/switchover/query";
import { SwitchoverDetailView } from "@/components/switchover/switchover-detail";
import { getDb } from "@/db/client";
import { requirePageActor } from "@/server/auth/guard";
import { getSwitchover } from "@/server/switchover/queries";

export const dynamic = "force-dynamic";
export const metadata = { title: "Switchover" };

export default async function SwitchoverPage({ params }: { params: Promise<{ id: string }> }) {
  await requirePageActor("fleet.read");
  const { id } = await params;
  const detail = await getSwitchover(getDb(), id);
  if (!detail) notFound();
  const queryClient = getQueryClient();
  queryClient.setQueryData(switchoverKey(id), detail);
  return (
    <HydrationBoundary state={dehydrate(queryClient)}>
      <SwitchoverDetailView id={id} />
    </HydrationBoundary>
  );
}
