// Failover policy: presets and validation, the per-node detector, alerts and anti-flap guards.
// Everything here is pure (no I/O, no clocks); see each module's header for the why.
export * from "./alerts";
export * from "./detector";
export { formatDuration } from "./format";
export * from "./presets";
export * from "./types";
