import Link from "next/link";
import { gateSettingsPage } from "@/components/settings/page-gate";
import styles from "@/components/settings/settings.module.css";
import { SETTINGS_SECTIONS, SettingsNav } from "@/components/settings/settings-nav";
import { can } from "@/server/auth/roles";

export const dynamic = "force-dynamic";
export const metadata = { title: "Settings" };

export default async function SettingsPage() {
  const gate = await gateSettingsPage("maintenance.set", "Settings", "open the settings");
  if (!gate.ok) return gate.page;
  const { role } = gate.actor;
  return (
    <div className={styles.page}>
      <SettingsNav role={role} current="/settings" />
      <div className="page-head">
        <div>
          <h1>Settings</h1>
          <p className="muted">
            Every change here is checked against your role on the server, validated with the same rules as the
            inventory file, written to the audit log in the same transaction, and picked up by the controllers
            at once.
          </p>
        </div>
      </div>
      <div className={styles.sections}>
        {SETTINGS_SECTIONS.map((s) =>
          can(role, s.permission) ? (
            <Link key={s.href} href={s.href} className={`panel ${styles.sectionLink}`}>
              <h2>{s.title}</h2>
              <p className="muted">{s.blurb}</p>
            </Link>
          ) : (
            <div key={s.href} className="panel" aria-disabled="true">
              <h2>{s.title}</h2>
              <p className="muted">{s.blurb}</p>
              <p className="small muted">Admins only.</p>
            </div>
          ),
        )}
      </div>
    </div>
  );
}
