// Observation builders shared by the policy tests. Times are ms; probes are stamped when their
// verdict is known (start + how long it took).
import type { GpuObservation, ProbeObservation } from "./types";

export const probe = {
  ok: (at: number, httpMs = 20): ProbeObservation => ({
    at,
    tcpOk: true,
    tcpMs: 1,
    httpOk: true,
    httpStatus: 200,
    httpMs,
  }),
  /** Process crashed: the port refuses connections. */
  refused: (at: number): ProbeObservation => ({
    at,
    tcpOk: false,
    tcpMs: 1,
    httpOk: false,
    httpStatus: null,
    httpMs: null,
    error: "connect ECONNREFUSED 127.0.0.5:8000",
  }),
  /** Host gone or port black-holed: the connect times out. */
  blackholed: (at: number, tcpTimeoutMs = 500): ProbeObservation => ({
    at,
    tcpOk: false,
    tcpMs: tcpTimeoutMs,
    httpOk: false,
    httpStatus: null,
    httpMs: null,
    error: "ETIMEDOUT",
  }),
  /** Process hung: it accepts connections but never answers /health. */
  hang: (at: number, httpTimeoutMs = 1000): ProbeObservation => ({
    at,
    tcpOk: true,
    tcpMs: 1,
    httpOk: false,
    httpStatus: null,
    httpMs: httpTimeoutMs,
    error: "The operation was aborted due to timeout",
  }),
  status: (at: number, httpStatus: number): ProbeObservation => ({
    at,
    tcpOk: true,
    tcpMs: 1,
    httpOk: false,
    httpStatus,
    httpMs: 15,
  }),
  /** /health answers 200, slowly. */
  slow: (at: number, httpMs: number): ProbeObservation => ({
    at,
    tcpOk: true,
    tcpMs: 1,
    httpOk: true,
    httpStatus: 200,
    httpMs,
  }),
};

export const gpu = {
  ok: (
    at: number,
    utilizationPct: number | null,
    temperatureC: number | null = 60,
    memoryUsedPct: number | null = 50,
  ): GpuObservation => ({
    at,
    ok: true,
    utilizationPct,
    temperatureC,
    memoryUsedPct,
  }),
  lost: (
    at: number,
    reason = "Unable to determine the device handle for GPU0000:01:00.0: GPU is lost",
  ): GpuObservation => ({
    at,
    ok: false,
    reason,
  }),
};
