// For the settings pages (server components): the signed-in actor with the page's permission, or a
// plain "only an admin can…" panel for a signed-in user without it. No session: requirePageActor
// redirects to sign in, and that must propagate.
import type { ReactNode } from "react";
import { type Actor, AuthError, requirePageActor } from "@/server/auth/guard";
import { PERMISSIONS, type Permission } from "@/server/auth/roles";

export async function gateSettingsPage(
  permission: Permission,
  title: string,
  what: string,
): Promise<{ ok: true; actor: Actor } | { ok: false; page: ReactNode }> {
  try {
    return { ok: true, actor: await requirePageActor(permission) };
  } catch (err) {
    if (err instanceof AuthError && err.status === 403) {
      const role = PERMISSIONS[permission];
      return {
        ok: false,
        page: (
          <div className="panel error-panel" role="alert">
            <h1>{title}</h1>
            <p>
              Only an {role} can {what}.
            </p>
          </div>
        ),
      };
    }
    throw err;
  }
}
