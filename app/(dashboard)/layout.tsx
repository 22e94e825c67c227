// Every dashboard page requires a signed-in user; the role decides what the pages offer, and the
// server checks it again on every action and API call (server/auth/guard.ts).
import Link from "next/link";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { ActorProvider } from "@/components/auth/actor";
import { LiveEvents, LiveIndicator } from "@/components/live/live-events";
import { logoutAction } from "@/server/actions/auth";
import { currentActor } from "@/server/auth/guard";
import { can } from "@/server/auth/roles";

export const dynamic = "force-dynamic";

export default async function DashboardLayout({ children }: { children: ReactNode }) {
  const actor = await currentActor();
  if (!actor) redirect("/login");
  return (
    <ActorProvider actor={{ label: actor.label, role: actor.role }}>
      <header className="topbar">
        <Link href="/" className="brand" aria-label="Switchyard home">
          <span className="brand-mark" aria-hidden="true">
            ⇄
          </span>
          Switchyard
        </Link>
        <nav aria-label="Main">
          <Link href="/">Fleet</Link>
          <Link href="/switchovers">Switchovers</Link>
          <Link href="/availability">Availability</Link>
          {can(actor.role, "audit.read") && <Link href="/audit">Audit log</Link>}
          {can(actor.role, "inventory.write") && <Link href="/settings">Settings</Link>}
          {can(actor.role, "token.manage") && <Link href="/settings/tokens">API tokens</Link>}
        </nav>
        <LiveIndicator />
        <form action={logoutAction} className="user-menu">
          <span className="muted small" data-testid="whoami">
            {actor.label} · {actor.role}
          </span>
          <button type="submit" className="button button-quiet">
            Sign out
          </button>
        </form>
      </header>
      <main className="page">{children}</main>
      <LiveEvents />
    </ActorProvider>
  );
}
