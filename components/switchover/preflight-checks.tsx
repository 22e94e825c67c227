"use client";
// One list of preflight checks: each with its level as a word and a colour (never colour alone).
import type { CheckLevel, PreflightCheck } from "@/server/switchover/preflight";
import styles from "./switchover-dialog.module.css";

const LEVEL: Record<CheckLevel, { text: string; badge: string }> = {
  ok: { text: "ok", badge: "badge-ok" },
  warn: { text: "warn", badge: "badge-warn" },
  block: { text: "block", badge: "badge-bad" },
};

export function LevelBadge({ level }: { level: CheckLevel }) {
  return <span className={`badge ${LEVEL[level].badge} ${styles.level}`}>{LEVEL[level].text}</span>;
}

export function PreflightChecks({ checks, testId }: { checks: PreflightCheck[]; testId?: string }) {
  return (
    <ul className={styles.checks} data-testid={testId}>
      {checks.map((c) => (
        <li key={c.key} className={styles.check} data-level={c.level} data-check={c.key}>
          <LevelBadge level={c.level} />
          <span>
            <strong>{c.label}</strong> <span className={styles.detail}>{c.detail}</span>
          </span>
        </li>
      ))}
    </ul>
  );
}
