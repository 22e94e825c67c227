/**
 * "Above a threshold continuously for N seconds", from irregular samples, in O(1) per sample.
 *
 * Continuity needs evidence: the streak starts at the first sample above the threshold and breaks
 * on a sample at or below it, on a missing value, or on a gap between samples wider than `maxGapMs`
 * (the stream stalled; we do not know what happened in between). A clock that steps backwards also
 * restarts the streak rather than producing a negative or inflated duration. When asked at `now`,
 * a streak whose latest sample is older than `maxGapMs` no longer holds: not knowing is not "above".
 */
export class SustainedCondition {
  /** Time of the first sample of the current streak, or null when there is no streak. */
  since: number | null = null;
  /** Time of the latest sample, above or not. */
  lastAt: number | null = null;

  record(at: number, above: boolean, maxGapMs: number): void {
    const lastAt = this.lastAt;
    this.lastAt = at;
    if (!above) {
      this.since = null;
      return;
    }
    if (this.since === null || lastAt === null || at < lastAt || at - lastAt > maxGapMs) {
      this.since = at;
    }
  }

  /** Marks that a reading was impossible (telemetry lost): the streak, if any, is broken. */
  interrupt(at: number): void {
    this.since = null;
    this.lastAt = at;
  }

  /** How long the condition has held as of `now`, or 0 when it does not hold (or is stale). */
  heldFor(now: number, maxGapMs: number): number {
    const since = this.since;
    const lastAt = this.lastAt;
    if (since === null || lastAt === null) return 0;
    // `now` may be a little before the latest sample (a probe stamped just before a GPU line
    // arrived); that is fine. Only a latest sample that is too old breaks the streak.
    if (now - lastAt > maxGapMs) return 0;
    return now > since ? now - since : 0;
  }

  reset(): void {
    this.since = null;
    this.lastAt = null;
  }
}
