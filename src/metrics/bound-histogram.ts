import { Histogram, type HistogramConfiguration } from 'prom-client';
import { SeriesIndex, type Labels } from './series-index.ts';

/** A histogram's series bound to its label set: observing hashes nothing and builds nothing. */
export interface HistogramChild {
  observe(value: number): void;
}

export interface BoundHistogramConfiguration<T extends string> {
  name: string;
  help: string;
  labelNames?: readonly T[];
  buckets: readonly number[];
  registers: NonNullable<HistogramConfiguration<T>['registers']>;
}

/** One value of prom-client's Histogram#getForPromString, field for field (lib/histogram.js, setValuePair). */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

interface ExportedHistogram {
  name: string;
  help: string;
  type: 'histogram';
  values: ExportedValue[];
  aggregator: 'sum';
}

class HistogramSeries<T extends string> implements HistogramChild {
  readonly labels: Labels<T>;
  readonly #bounds: readonly number[];
  /** Observations per bucket, not cumulative: an observation above every bound is in none (as in prom-client). */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;
  #shown = false;
  /** The histogram's series in the order they were first observed, which is prom-client's order. */
  readonly #shownSeries: HistogramSeries<T>[];

  constructor(labels: Labels<T>, bounds: readonly number[], shownSeries: HistogramSeries<T>[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length);
    this.#shownSeries = shownSeries;
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    if (!this.#shown) this.show();
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
    if (bucket < bounds.length) this.#counts[bucket]!++;
    // Summed in the order observed, as prom-client sums: the same figure to the last bit.
    this.#sum += value;
    this.#count += 1;
  }

  show(): void {
    this.#shown = true;
    this.#shownSeries.push(this);
  }

  /** Its buckets (cumulative), +Inf, sum and count, as prom-client's extractBucketValuesForExport and addSumAndCountForExport. */
  exportInto(values: ExportedValue[], name: string): void {
    const sharedLabels = this.labels;
    let cumulative = 0;
    for (let i = 0; i < this.#bounds.length; i++) {
      cumulative += this.#counts[i]!;
      values.push({ labels: { le: this.#bounds[i]! }, sharedLabels, value: cumulative, metricName: `${name}_bucket`, exemplar: null });
    }
    values.push(
      { labels: { le: '+Inf' }, sharedLabels, value: this.#count, metricName: `${name}_bucket`, exemplar: null },
      { labels: {}, sharedLabels, value: this.#sum, metricName: `${name}_sum`, exemplar: undefined },
      { labels: {}, sharedLabels, value: this.#count, metricName: `${name}_count`, exemplar: undefined },
    );
  }
}

/**
 * prom-client's Histogram as the Registry knows it (its name, type and place in the exposition), with its
 * values read from the bound series. prom-client has no public way to set a histogram's buckets or sum, so
 * this replaces the one method its Registry reads a histogram's text through when a metric has it
 * (registry.js, getMetricsAsString); Histogram#get splays that same answer, so both outputs follow.
 * The unit test metrics-exposition.test.ts holds the text equal to plain prom-client's.
 */
class RegisteredHistogram<T extends string> extends Histogram<T> {
  readonly #read: () => ExportedHistogram;

  constructor(config: BoundHistogramConfiguration<T>, read: () => ExportedHistogram) {
    super({ ...config, buckets: [...config.buckets] });
    this.#read = read;
  }

  getForPromString(): Promise<ExportedHistogram> {
    return Promise.resolve(this.#read());
  }
}

/**
 * A histogram whose series are bound once to their label set (`bind`), and exported exactly as prom-client's
 * Histogram exports the same observations. prom-client hashes the labels, builds a label object and a
 * closure on every observe, and its labels() children do the same; on the produce path that was about
 * 5 % of the sidecar's CPU (docs/benchmarks.md). Registry#resetMetrics does not reach the bound series (the
 * sidecar never resets its metrics).
 */
export class BoundHistogram<T extends string> {
  readonly #series: SeriesIndex<T, HistogramSeries<T>>;
  readonly #shown: HistogramSeries<T>[] = [];

  constructor(config: BoundHistogramConfiguration<T>) {
    const { name, help } = config;
    const bounds = [...config.buckets];
    this.#series = new SeriesIndex(config.labelNames ?? [], (labels) => new HistogramSeries(labels, bounds, this.#shown));
    // Registered by its constructor (prom-client's Metric), in this place of the exposition.
    new RegisteredHistogram(config, () => {
      const values: ExportedValue[] = [];
      for (const series of this.#shown) series.exportInto(values, name);
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    });
  }

  /** A histogram without labels: its one series, shown from the start (at zero) as prom-client shows it. */
  static unlabeled(config: Omit<BoundHistogramConfiguration<never>, 'labelNames'>): HistogramChild {
    const series = new BoundHistogram<never>(config).#series.get({});
    series.show();
    return series;
  }

  /** The series of `labels`, made the first time; it is exported once observed. */
  bind(labels: Labels<T>): HistogramChild {
    return this.#series.get(labels);
  }
}
