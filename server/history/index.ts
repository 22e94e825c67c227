// History: what the controller remembers (DESIGN.md "Data flow" 6). Raw heartbeats and GPU samples
// go into hourly partitions (kept for hours, dropped by partition), are rolled up to 1-minute and
// 1-hour tables (kept for months) for charts, and cluster availability is computed from recorded
// state intervals. Every function takes the database or a transaction first.
export * from "./availability";
export * from "./ingest";
export * from "./partitions";
export * from "./retention";
export * from "./rollups";
export * from "./series";
export * from "./storage";
export { DAY_MS, HOUR_MS, InvalidTimeError, MINUTE_MS } from "./time";
