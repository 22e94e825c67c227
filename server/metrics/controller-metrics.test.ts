import { describe, expect, it } from "vitest";
import type { ProbeObservation } from "@/server/policy/types";
import { createControllerMetrics } from "./controller-metrics";

/** The sample lines of one family (no HELP/TYPE), for compact assertions. */
function samples(text: string, name: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

const OK: ProbeObservation = { at: 0, tcpOk: true, tcpMs: 0.4, httpOk: true, httpStatus: 200, httpMs: 2 };
const REFUSED: ProbeObservation = {
  at: 0,
  tcpOk: false,
  tcpMs: 0.2,
  httpOk: false,
  httpStatus: null,
  httpMs: null,
  error: "TCP connect refused",
};

describe("controller metrics", () => {
  it("declares every family with HELP and TYPE, even before any update", () => {
    const text = createControllerMetrics().render();
    for (const [name, type] of [
      ["switchyard_node_up", "gauge"],
      ["switchyard_node_state", "gauge"],
      ["switchyard_probe_duration_seconds", "histogram"],
      ["switchyard_probe_lateness_seconds", "histogram"],
      ["switchyard_probes_total", "counter"],
      ["switchyard_gpu_utilization_ratio", "gauge"],
      ["switchyard_gpu_temperature_celsius", "gauge"],
      ["switchyard_gpu_memory_used_bytes", "gauge"],
      ["switchyard_gpu_power_watts", "gauge"],
      ["switchyard_gpu_telemetry_up", "gauge"],
      ["switchyard_failovers_total", "counter"],
      ["switchyard_controller_leader", "gauge"],
      ["switchyard_controller_epoch", "gauge"],
      ["switchyard_db_write_errors_total", "counter"],
      ["switchyard_db_buffered_rows", "gauge"],
    ]) {
      expect(text).toContain(`\n# TYPE ${name} ${type}\n`);
      expect(text).toMatch(new RegExp(`# HELP ${name} \\S`));
    }
    expect(samples(text, "switchyard_controller_leader")).toEqual(["switchyard_controller_leader 0"]);
    expect(samples(text, "process_cpu_seconds_total")[0]).toMatch(/^process_cpu_seconds_total \d/);
  });

  it("node_up follows the detector state; node_state has one 1 per node; unknown has no up series", () => {
    const m = createControllerMetrics();
    m.setNodeState("c1", "a", "unknown");
    let text = m.render();
    expect(samples(text, "switchyard_node_up")).toEqual([]);
    expect(samples(text, "switchyard_node_state")).toContain(
      'switchyard_node_state{cluster="c1",node="a",state="unknown"} 1',
    );

    const upFor = (state: Parameters<typeof m.setNodeState>[2]) => {
      m.setNodeState("c1", "a", state);
      return samples(m.render(), "switchyard_node_up");
    };
    expect(upFor("healthy")).toEqual(['switchyard_node_up{cluster="c1",node="a"} 1']);
    expect(upFor("suspect")).toEqual(['switchyard_node_up{cluster="c1",node="a"} 1']);
    expect(upFor("failed")).toEqual(['switchyard_node_up{cluster="c1",node="a"} 0']);
    expect(upFor("recovering")).toEqual(['switchyard_node_up{cluster="c1",node="a"} 0']);
    expect(upFor("unknown")).toEqual([]);

    m.setNodeState("c1", "a", "failed");
    text = m.render();
    expect(samples(text, "switchyard_node_state")).toEqual([
      'switchyard_node_state{cluster="c1",node="a",state="failed"} 1',
      'switchyard_node_state{cluster="c1",node="a",state="healthy"} 0',
      'switchyard_node_state{cluster="c1",node="a",state="recovering"} 0',
      'switchyard_node_state{cluster="c1",node="a",state="suspect"} 0',
      'switchyard_node_state{cluster="c1",node="a",state="unknown"} 0',
    ]);
  });

  it("observes probes: per-phase durations in seconds, lateness, ok/failed counts", () => {
    const m = createControllerMetrics();
    m.observeProbe(OK, 3);
    m.observeProbe(OK, -1); // clock noise never makes a negative lateness
    m.observeProbe(REFUSED, 70);
    const text = m.render();
    expect(samples(text, "switchyard_probes_total")).toEqual([
      'switchyard_probes_total{result="failed"} 1',
      'switchyard_probes_total{result="ok"} 2',
    ]);
    expect(text).toContain('switchyard_probe_duration_seconds_count{phase="tcp"} 3');
    expect(text).toContain('switchyard_probe_duration_seconds_count{phase="http"} 2');
    expect(text).toContain('switchyard_probe_duration_seconds_sum{phase="http"} 0.004');
    expect(text).toContain('switchyard_probe_duration_seconds_bucket{phase="http",le="0.0025"} 2');
    expect(text).toContain('switchyard_probe_lateness_seconds_bucket{le="0.001"} 1');
    expect(text).toContain('switchyard_probe_lateness_seconds_bucket{le="0.005"} 2');
    expect(text).toContain('switchyard_probe_lateness_seconds_bucket{le="0.1"} 3');
    expect(text).toContain("switchyard_probe_lateness_seconds_count 3");
  });

  it("GPU samples in base units; removeNode drops every series of that node only", () => {
    const m = createControllerMetrics();
    for (const node of ["a", "b"]) {
      m.setNodeState("c1", node, "healthy");
      m.setGpuTelemetryUp("c1", node, true);
      for (const index of [0, 1]) {
        m.setGpu("c1", node, {
          index,
          utilizationGpuPct: 37,
          temperatureC: 61,
          memoryUsedMib: 1_024,
          powerDrawW: 250.5,
        });
      }
    }
    m.setGpu("c1", "a", {
      index: 1,
      utilizationGpuPct: null,
      temperatureC: 62,
      memoryUsedMib: 2,
      powerDrawW: null,
    });
    let text = m.render();
    expect(samples(text, "switchyard_gpu_utilization_ratio")).toContain(
      'switchyard_gpu_utilization_ratio{cluster="c1",node="a",gpu="0"} 0.37',
    );
    expect(samples(text, "switchyard_gpu_utilization_ratio")).toContain(
      'switchyard_gpu_utilization_ratio{cluster="c1",node="a",gpu="1"} NaN',
    );
    expect(samples(text, "switchyard_gpu_memory_used_bytes")).toContain(
      'switchyard_gpu_memory_used_bytes{cluster="c1",node="b",gpu="0"} 1073741824',
    );
    expect(samples(text, "switchyard_gpu_power_watts")).toContain(
      'switchyard_gpu_power_watts{cluster="c1",node="b",gpu="1"} 250.5',
    );
    m.setGpuTelemetryUp("c1", "b", false);

    m.removeNode("c1", "a");
    text = m.render();
    expect(text).not.toContain('node="a"');
    expect(samples(text, "switchyard_gpu_temperature_celsius")).toHaveLength(2);
    expect(samples(text, "switchyard_gpu_telemetry_up")).toEqual([
      'switchyard_gpu_telemetry_up{cluster="c1",node="b"} 0',
    ]);
    expect(samples(text, "switchyard_node_up")).toEqual(['switchyard_node_up{cluster="c1",node="b"} 1']);
    // A node re-added under the same name starts from scratch.
    m.setNodeState("c1", "a", "suspect");
    expect(samples(m.render(), "switchyard_node_up")).toContain(
      'switchyard_node_up{cluster="c1",node="a"} 1',
    );
  });

  it("controller, failover, database and prober figures", () => {
    const m = createControllerMetrics();
    m.controllerLeader.set(1);
    m.controllerEpoch.set(42);
    m.dbWriteErrors.inc();
    m.bufferedRows.set(17);
    m.recordFailover("c1", "auto");
    m.recordFailover("c1", "auto");
    m.recordFailover("c2", "manual");
    m.setProberStats({ nodes: 10, inFlight: 2, queued: 0, skipsTotal: 5 });
    m.setProberStats({ nodes: 10, inFlight: 1, queued: 3, skipsTotal: 7 });
    m.setProberStats({ nodes: 10, inFlight: 1, queued: 3, skipsTotal: 1 }); // a new scheduler: counts again from 0
    const text = m.render();
    expect(samples(text, "switchyard_controller_leader")).toEqual(["switchyard_controller_leader 1"]);
    expect(samples(text, "switchyard_controller_epoch")).toEqual(["switchyard_controller_epoch 42"]);
    expect(samples(text, "switchyard_db_write_errors_total")).toEqual(["switchyard_db_write_errors_total 1"]);
    expect(samples(text, "switchyard_db_buffered_rows")).toEqual(["switchyard_db_buffered_rows 17"]);
    expect(samples(text, "switchyard_failovers_total")).toEqual([
      'switchyard_failovers_total{cluster="c1",kind="auto"} 2',
      'switchyard_failovers_total{cluster="c2",kind="manual"} 1',
    ]);
    expect(samples(text, "switchyard_probe_skips_total")).toEqual(["switchyard_probe_skips_total 8"]);
    expect(samples(text, "switchyard_prober_queued")).toEqual(["switchyard_prober_queued 3"]);
  });
});
