import { describe, expect, it } from "vitest";
import { escapeLabelValue, formatSampleValue, Registry } from "./prometheus";

describe("Prometheus registry", () => {
  it("renders the text exposition format 0.0.4 exactly, in a stable order", () => {
    const r = new Registry();
    const requests = r.counter({
      name: "app_requests_total",
      help: "Requests served.",
      labelNames: ["code", "method"],
    });
    const temp = r.gauge({ name: "app_temperature_celsius", help: "Temperature." });
    const latency = r.histogram({
      name: "app_latency_seconds",
      help: "Latency.",
      labelNames: ["route"],
      buckets: [0.1, 0.5, 1],
    });
    r.counter({ name: "app_empty_total", help: "Never touched.", labelNames: ["x"] });
    // Created out of order on purpose: output is sorted by label set.
    requests.labels({ method: "post", code: "500" }).inc();
    requests.labels({ code: "200", method: "get" }).inc(3);
    requests.labels({ code: "200", method: "get" }).inc();
    temp.set(-2.5);
    const h = latency.labels({ route: "/health" });
    for (const v of [0.05, 0.1, 0.3, 0.7, 2]) h.observe(v);

    const expected = `# HELP app_requests_total Requests served.
# TYPE app_requests_total counter
app_requests_total{code="200",method="get"} 4
app_requests_total{code="500",method="post"} 1
# HELP app_temperature_celsius Temperature.
# TYPE app_temperature_celsius gauge
app_temperature_celsius -2.5
# HELP app_latency_seconds Latency.
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{route="/health",le="0.1"} 2
app_latency_seconds_bucket{route="/health",le="0.5"} 3
app_latency_seconds_bucket{route="/health",le="1"} 4
app_latency_seconds_bucket{route="/health",le="+Inf"} 5
app_latency_seconds_sum{route="/health"} 3.15
app_latency_seconds_count{route="/health"} 5
# HELP app_empty_total Never touched.
# TYPE app_empty_total counter
`;
    expect(r.render()).toBe(expected);
    expect(r.render()).toBe(expected);
  });

  it("escapes label values (backslash, double quote, newline) and HELP text (backslash, newline)", () => {
    const r = new Registry();
    const g = r.gauge({ name: "esc", help: 'A "quoted" \\ help\nwith two lines.', labelNames: ["v"] });
    g.labels({ v: 'C:\\gpu "0"\nnext' }).set(1);
    expect(r.render()).toBe(
      '# HELP esc A "quoted" \\\\ help\\nwith two lines.\n# TYPE esc gauge\nesc{v="C:\\\\gpu \\"0\\"\\nnext"} 1\n',
    );
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it("histograms: cumulative buckets, +Inf equals _count, _sum adds up; unlabelled ones render with le only", () => {
    const r = new Registry();
    const h = r.histogram({ name: "h_seconds", help: "h", buckets: [1, 2, 5] });
    h.observe(0.5);
    h.observe(1);
    h.observe(3);
    h.observe(100);
    h.observe(Number.NaN); // ignored: belongs to no bucket
    expect(r.render()).toBe(
      [
        "# HELP h_seconds h",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{le="1"} 2',
        'h_seconds_bucket{le="2"} 2',
        'h_seconds_bucket{le="5"} 3',
        'h_seconds_bucket{le="+Inf"} 4',
        "h_seconds_sum 104.5",
        "h_seconds_count 4",
        "",
      ].join("\n"),
    );
  });

  it("an unlabelled metric starts at 0; special values are spelled as the format wants", () => {
    const r = new Registry();
    r.counter({ name: "c_total", help: "c" });
    const g = r.gauge({ name: "g", help: "g" });
    expect(r.render()).toContain("\nc_total 0\n");
    g.set(Number.NaN);
    expect(r.render()).toContain("\ng NaN\n");
    expect(formatSampleValue(Number.POSITIVE_INFINITY)).toBe("+Inf");
    expect(formatSampleValue(Number.NEGATIVE_INFINITY)).toBe("-Inf");
    expect(formatSampleValue(1e21)).toBe("1e+21");
  });

  it("labels() resolves a series once and returns the same handle", () => {
    const r = new Registry();
    const c = r.counter({ name: "x_total", help: "x", labelNames: ["a", "b"] });
    const one = c.labels({ a: "1", b: "2" });
    expect(c.labels({ b: "2", a: "1" })).toBe(one);
    // Values that would collide under naive joining stay distinct.
    expect(c.labels({ a: "1|2", b: "" })).not.toBe(c.labels({ a: "1", b: "|2" }));
    expect(c.seriesCount).toBe(3);
  });

  it("remove and removeMatching drop series from the output", () => {
    const r = new Registry();
    const g = r.gauge({ name: "gpu_util", help: "u", labelNames: ["node", "gpu"] });
    g.labels({ node: "a", gpu: "0" }).set(1);
    g.labels({ node: "a", gpu: "1" }).set(2);
    g.labels({ node: "b", gpu: "0" }).set(3);
    expect(g.remove({ node: "b", gpu: "0" })).toBe(true);
    expect(g.remove({ node: "b", gpu: "0" })).toBe(false);
    g.labels({ node: "c", gpu: "0" }).set(4);
    expect(g.removeMatching({ node: "a" })).toBe(2);
    expect(r.render()).toBe('# HELP gpu_util u\n# TYPE gpu_util gauge\ngpu_util{node="c",gpu="0"} 4\n');
  });

  it("refuses programming errors loudly", () => {
    const r = new Registry();
    const c = r.counter({ name: "a_total", help: "a", labelNames: ["x"] });
    expect(() => c.labels({} as { x: string })).toThrow(/expected labels \{x\}/);
    expect(() => c.labels({ x: "1", y: "2" } as unknown as { x: string })).toThrow(/expected labels/);
    expect(() => c.inc()).toThrow(/has labels/);
    expect(() => c.labels({ x: "1" }).inc(-1)).toThrow(RangeError);
    expect(() => r.counter({ name: "a_total", help: "dup" })).toThrow(/already registered/);
    expect(() => r.gauge({ name: "bad-name", help: "" })).toThrow(/invalid metric name/);
    expect(() => r.gauge({ name: "ok", help: "", labelNames: ["__x"] })).toThrow(/invalid label name/);
    expect(() => r.histogram({ name: "h", help: "", labelNames: ["le"], buckets: [1] })).toThrow(/reserved/);
    expect(() => r.histogram({ name: "h2", help: "", buckets: [2, 1] })).toThrow(/increasing/);
    r.histogram({ name: "lat", help: "", buckets: [1] });
    expect(() => r.gauge({ name: "lat_count", help: "" })).toThrow(/already registered/);
  });
});
