/**
 * A tiny Prometheus registry: counters, gauges and fixed-bucket histograms with labels, rendered in
 * the text exposition format 0.0.4. Hand-rolled instead of prom-client because the controller needs
 * a dozen metric families, no default collectors, and updates on the probe hot path (a thousand a
 * second) that must not allocate: `metric.labels({...})` resolves a label set to a series handle
 * once (cached in a Map), and the caller keeps the handle, so an update is a field write.
 *
 * Output is stable: families in registration order, series sorted by their rendered label set,
 * labels in declaration order (`le` last), so two scrapes of the same state are byte-identical and
 * golden tests are possible. Label values are escaped as the format requires (backslash, double
 * quote, newline); HELP text escapes backslash and newline.
 */

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type MetricType = "counter" | "gauge" | "histogram";
export type LabelValues<L extends string> = Readonly<Record<L, string>>;

export type MetricOptions<L extends string> = {
  name: string;
  help: string;
  labelNames?: readonly L[];
};

export type HistogramOptions<L extends string> = MetricOptions<L> & {
  /** Upper bounds, strictly increasing and finite; `+Inf` is implicit. */
  buckets: readonly number[];
};

export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\\" ? "\\\\" : c === '"' ? '\\"' : "\\n"));
}

export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === "\\" ? "\\\\" : "\\n"));
}

/** A sample value as the format spells it: `+Inf`, `-Inf`, `NaN`, else the shortest decimal. */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

type Series<S> = {
  values: readonly string[];
  /** `a="x",b="y"` (no braces), empty without labels. */
  pairs: string;
  child: S;
};

abstract class Metric<L extends string, S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  abstract readonly type: MetricType;

  private readonly series = new Map<string, Series<S>>();
  private sorted: Series<S>[] | null = null;

  constructor(options: MetricOptions<L>, reserved: readonly string[] = []) {
    if (!METRIC_NAME_RE.test(options.name))
      throw new Error(`invalid metric name ${JSON.stringify(options.name)}`);
    const labelNames = options.labelNames ?? [];
    const seen = new Set<string>();
    for (const label of labelNames) {
      if (!LABEL_NAME_RE.test(label) || label.startsWith("__")) {
        throw new Error(`${options.name}: invalid label name ${JSON.stringify(label)}`);
      }
      if (reserved.includes(label)) throw new Error(`${options.name}: label name ${label} is reserved`);
      if (seen.has(label)) throw new Error(`${options.name}: duplicate label name ${label}`);
      seen.add(label);
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = labelNames;
  }

  protected abstract createChild(): S;
  protected abstract renderChild(out: string[], pairs: string, child: S): void;

  /** The series for these label values, created on first use. Keep the handle on hot paths. */
  labels(values: LabelValues<L>): S {
    const ordered = this.orderedValues(values);
    const key = seriesKey(ordered);
    let series = this.series.get(key);
    if (!series) {
      series = { values: ordered, pairs: this.renderPairs(ordered), child: this.createChild() };
      this.series.set(key, series);
      this.sorted = null;
    }
    return series.child;
  }

  /** Drops one series. Returns whether it existed. */
  remove(values: LabelValues<L>): boolean {
    const removed = this.series.delete(seriesKey(this.orderedValues(values)));
    if (removed) this.sorted = null;
    return removed;
  }

  /** Drops every series whose labels include all of `match` (e.g. one node's, whatever its GPU). */
  removeMatching(match: Partial<LabelValues<L>>): number {
    const checks: Array<[number, string]> = [];
    for (const [name, value] of Object.entries(match) as Array<[L, string | undefined]>) {
      if (value === undefined) continue;
      const index = this.labelNames.indexOf(name);
      if (index === -1) throw new Error(`${this.name}: unknown label ${name}`);
      checks.push([index, value]);
    }
    let removed = 0;
    for (const [key, series] of this.series) {
      if (checks.every(([index, value]) => series.values[index] === value)) {
        this.series.delete(key);
        removed++;
      }
    }
    if (removed > 0) this.sorted = null;
    return removed;
  }

  /** Drops every series (an unlabelled metric gets a fresh zero series). */
  clear(): void {
    this.series.clear();
    this.sorted = null;
    if (this.labelNames.length === 0) this.labels({} as LabelValues<L>);
  }

  get seriesCount(): number {
    return this.series.size;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`);
    out.push(`# TYPE ${this.name} ${this.type}`);
    if (this.sorted === null) {
      this.sorted = [...this.series.values()].sort((a, b) =>
        a.pairs < b.pairs ? -1 : a.pairs > b.pairs ? 1 : 0,
      );
    }
    for (const series of this.sorted) this.renderChild(out, series.pairs, series.child);
  }

  /** The series of an unlabelled metric. */
  protected only(): S {
    if (this.labelNames.length > 0) {
      throw new Error(`${this.name} has labels (${this.labelNames.join(", ")}); use .labels({...})`);
    }
    return this.labels({} as LabelValues<L>);
  }

  private orderedValues(values: LabelValues<L>): string[] {
    const given = Object.keys(values);
    if (given.length !== this.labelNames.length) {
      throw new Error(
        `${this.name}: expected labels {${this.labelNames.join(", ")}}, got {${given.join(", ")}}`,
      );
    }
    return this.labelNames.map((name) => {
      const value = values[name];
      if (typeof value !== "string") throw new Error(`${this.name}: missing label ${name}`);
      return value;
    });
  }

  private renderPairs(values: readonly string[]): string {
    return this.labelNames.map((name, i) => `${name}="${escapeLabelValue(values[i] as string)}"`).join(",");
  }
}

/** Unambiguous for any label values (length-prefixed), cheap to build. */
function seriesKey(values: readonly string[]): string {
  let key = "";
  for (const value of values) key += `${value.length}:${value}`;
  return key;
}

function withBraces(pairs: string): string {
  return pairs === "" ? "" : `{${pairs}}`;
}

export class CounterChild {
  value = 0;
  inc(by = 1): void {
    if (!(by >= 0)) throw new RangeError(`a counter only goes up (inc by ${by})`);
    this.value += by;
  }
}

export class GaugeChild {
  value = 0;
  set(value: number): void {
    this.value = value;
  }
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
}

export class HistogramChild {
  /** Per-bucket (non-cumulative) counts; observations above the last bound only count in `count`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (Number.isNaN(value)) return;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

export class Counter<L extends string = never> extends Metric<L, CounterChild> {
  readonly type = "counter" as const;

  constructor(options: MetricOptions<L>) {
    super(options);
    if (this.labelNames.length === 0) this.labels({} as LabelValues<L>);
  }
  /** For an unlabelled counter. */
  inc(by = 1): void {
    this.only().inc(by);
  }
  get value(): number {
    return this.only().value;
  }
  protected createChild(): CounterChild {
    return new CounterChild();
  }
  protected renderChild(out: string[], pairs: string, child: CounterChild): void {
    out.push(`${this.name}${withBraces(pairs)} ${formatSampleValue(child.value)}`);
  }
}

export class Gauge<L extends string = never> extends Metric<L, GaugeChild> {
  readonly type = "gauge" as const;

  constructor(options: MetricOptions<L>) {
    super(options);
    if (this.labelNames.length === 0) this.labels({} as LabelValues<L>);
  }
  /** For an unlabelled gauge. */
  set(value: number): void {
    this.only().set(value);
  }
  inc(by = 1): void {
    this.only().inc(by);
  }
  dec(by = 1): void {
    this.only().dec(by);
  }
  get value(): number {
    return this.only().value;
  }
  protected createChild(): GaugeChild {
    return new GaugeChild();
  }
  protected renderChild(out: string[], pairs: string, child: GaugeChild): void {
    out.push(`${this.name}${withBraces(pairs)} ${formatSampleValue(child.value)}`);
  }
}

export class Histogram<L extends string = never> extends Metric<L, HistogramChild> {
  readonly type = "histogram" as const;
  readonly buckets: readonly number[];
  private readonly leLabels: readonly string[];

  constructor(options: HistogramOptions<L>) {
    super(options, ["le"]);
    const buckets = [...options.buckets];
    if (buckets.length === 0) throw new Error(`${options.name}: a histogram needs at least one bucket`);
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i] as number;
      if (!Number.isFinite(b))
        throw new Error(`${options.name}: bucket bounds must be finite (+Inf is implicit)`);
      if (i > 0 && b <= (buckets[i - 1] as number)) {
        throw new Error(`${options.name}: bucket bounds must be strictly increasing`);
      }
    }
    this.buckets = buckets;
    this.leLabels = buckets.map((b) => `le="${formatSampleValue(b)}"`);
    if (this.labelNames.length === 0) this.labels({} as LabelValues<L>);
  }
  /** For an unlabelled histogram. */
  observe(value: number): void {
    this.only().observe(value);
  }
  protected createChild(): HistogramChild {
    return new HistogramChild(this.buckets);
  }
  protected renderChild(out: string[], pairs: string, child: HistogramChild): void {
    const prefix = pairs === "" ? "{" : `{${pairs},`;
    let cumulative = 0;
    for (let i = 0; i < this.leLabels.length; i++) {
      cumulative += child.counts[i] as number;
      out.push(`${this.name}_bucket${prefix}${this.leLabels[i]}} ${formatSampleValue(cumulative)}`);
    }
    out.push(`${this.name}_bucket${prefix}le="+Inf"} ${formatSampleValue(child.count)}`);
    out.push(`${this.name}_sum${withBraces(pairs)} ${formatSampleValue(child.sum)}`);
    out.push(`${this.name}_count${withBraces(pairs)} ${formatSampleValue(child.count)}`);
  }
}

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

export class Registry {
  private readonly metrics: AnyMetric[] = [];
  private readonly names = new Set<string>();
  private readonly collectors: Array<() => void> = [];

  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.register(new Counter<L>(options));
  }

  gauge<L extends string = never>(options: MetricOptions<L>): Gauge<L> {
    return this.register(new Gauge<L>(options));
  }

  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.register(new Histogram<L>(options));
  }

  /** Runs before every render, to refresh values that are read rather than pushed (CPU, RSS). */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** Text exposition format 0.0.4; empty string for an empty registry. */
  render(): string {
    for (const collect of this.collectors) collect();
    const out: string[] = [];
    for (const metric of this.metrics) metric.render(out);
    return out.length === 0 ? "" : `${out.join("\n")}\n`;
  }

  private register<M extends AnyMetric>(metric: M): M {
    const name = metric.name;
    const clashes =
      metric.type === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    for (const n of clashes) {
      if (this.names.has(n)) throw new Error(`metric ${n} is already registered`);
    }
    for (const n of clashes) this.names.add(n);
    this.metrics.push(metric);
    return metric;
  }
}
