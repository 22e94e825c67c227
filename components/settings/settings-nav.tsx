// The settings sections, on every settings page (the API tokens page has its own header).
import Link from "next/link";
import { can, type Role } from "@/server/auth/roles";
import styles from "./settings.module.css";

export const SETTINGS_SECTIONS = [
  {
    href: "/settings/clusters",
    title: "Clusters, nodes and load balancers",
    blurb: "Enrol and edit the fleet, test SSH and pin host keys, maintenance.",
    permission: "maintenance.set",
  },
  {
    href: "/settings/credentials",
    title: "SSH credentials",
    blurb: "Store and rotate the keys Switchyard uses; write-only.",
    permission: "credential.write",
  },
  {
    href: "/settings/policies",
    title: "Failover policy",
    blurb: "Per cluster: probes, thresholds, which signals must agree, automatic failover.",
    permission: "policy.write",
  },
  {
    href: "/settings/playbooks",
    title: "Playbooks",
    blurb: "The commands each switchover phase runs; validate and dry-run before saving.",
    permission: "playbook.write",
  },
  {
    href: "/settings/tokens",
    title: "API tokens",
    blurb: "Tokens for the CLI, CI and dashboards, scoped by role.",
    permission: "token.manage",
  },
] as const;

export function SettingsNav({ role, current }: { role: Role; current?: string }) {
  return (
    <nav className={styles.nav} aria-label="Settings">
      <Link href="/settings" aria-current={current === "/settings" ? "page" : undefined}>
        Settings
      </Link>
      {SETTINGS_SECTIONS.filter((s) => can(role, s.permission)).map((s) => (
        <Link key={s.href} href={s.href} aria-current={current === s.href ? "page" : undefined}>
          {s.title}
        </Link>
      ))}
    </nav>
  );
}
