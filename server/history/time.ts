// Time arithmetic shared by the history modules. Every bucket is aligned to the Unix epoch in UTC,
// which is what Postgres' `date_bin(step, t, timestamptz '1970-01-01 00:00:00+00')` does, so a
// bucket computed here and one computed in SQL are always the same instant whatever the session or
// server time zone is (date_trunc would follow the session time zone, e.g. +05:30).
import { sql } from "drizzle-orm";

export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The origin for every `date_bin` in the history SQL. */
export const EPOCH_ORIGIN = sql.raw("timestamptz '1970-01-01 00:00:00+00'");

export class InvalidTimeError extends Error {
  readonly code = "invalid_time" as const;
}

/** Throws on an Invalid Date; returns epoch milliseconds. */
export function ms(d: Date, what = "time"): number {
  const t = d instanceof Date ? d.getTime() : Number.NaN;
  if (!Number.isFinite(t)) throw new InvalidTimeError(`${what} is not a valid date`);
  return t;
}

export function floorTo(t: number, stepMs: number): number {
  return Math.floor(t / stepMs) * stepMs;
}

/** A query parameter for a timestamptz. ISO text with an explicit cast, because the drizzle
 * postgres-js driver passes timestamps through untouched. */
export function tsParam(t: number | Date) {
  const iso = new Date(typeof t === "number" ? t : ms(t)).toISOString();
  return sql`${iso}::timestamptz`;
}

/** A `date_bin` step as an interval parameter. */
export function intervalParam(stepMs: number) {
  return sql`(${stepMs}::bigint * interval '1 millisecond')`;
}
