"use client";
import type { ClusterDetail } from "@/server/api/schemas";
// The failover policy in words (server/cluster/policy-words.ts), with the long form one click away.
import { summarizePolicy } from "@/server/cluster/policy-words";
import { DEFAULT_POLICY, describePolicy } from "@/server/policy/presets";
import styles from "./cluster.module.css";

export function PolicySummary({ policy }: { policy: ClusterDetail["policy"] }) {
  const summary = summarizePolicy(policy);
  return (
    <section
      className={`panel ${styles.policy}`}
      aria-labelledby="cluster-policy-title"
      data-testid="policy-summary"
    >
      <header className={styles.sectionHead}>
        <h2 id="cluster-policy-title">Failover policy</h2>
        <span className="badge badge-idle">{summary.presetLabel}</span>
      </header>
      {summary.isDefault && (
        <p className="muted small">
          This cluster has no policy of its own: the controller applies the defaults.
        </p>
      )}
      <p className={styles.policyText}>{summary.sentences.join(" ")}</p>
      <p className="muted small">A crash is detected within about {summary.worstCaseDetection} at worst.</p>
      {summary.warning && (
        <p className={styles.warning} role="note">
          <strong>Blind spot:</strong> {summary.warning}
        </p>
      )}
      <details className={styles.details}>
        <summary>The policy in full</summary>
        <ul>
          {describePolicy(policy ?? DEFAULT_POLICY).map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      </details>
    </section>
  );
}
