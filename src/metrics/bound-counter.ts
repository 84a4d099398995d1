import { Counter, type CounterConfiguration } from 'prom-client';
import { SeriesIndex, type Labels } from './series-index.ts';

/** A counter's series bound to its label set: counting hashes nothing and builds nothing. */
export interface CounterChild {
  inc(value: number): void;
}

export interface BoundCounterConfiguration<T extends string> {
  name: string;
  help: string;
  labelNames: readonly T[];
  registers: NonNullable<CounterConfiguration<T>['registers']>;
}

class CounterSeries<T extends string> implements CounterChild {
  readonly labels: Labels<T>;
  value = 0;
  #shown = false;
  /** The counter's series in the order they were first counted, which is prom-client's order. */
  readonly #shownSeries: CounterSeries<T>[];

  constructor(labels: Labels<T>, shownSeries: CounterSeries<T>[]) {
    this.labels = labels;
    this.#shownSeries = shownSeries;
  }

  inc(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    if (value < 0) throw new Error('It is not possible to decrease a counter');
    if (!this.#shown) {
      this.#shown = true;
      this.#shownSeries.push(this);
    }
    this.value += value;
  }
}

/**
 * A counter whose series are bound once to their label set (`bind`). The prom-client Counter the Registry
 * knows is refilled from them at each scrape through its collect hook and public API (reset, then one inc of
 * each series' total, which it stores as given): the same series, in the same order, with the same values.
 * Registry#resetMetrics does not reach the bound series (the sidecar never resets its metrics).
 */
export class BoundCounter<T extends string> {
  readonly #series: SeriesIndex<T, CounterSeries<T>>;
  readonly #counter: Counter<T>;

  constructor(config: BoundCounterConfiguration<T>) {
    const shown: CounterSeries<T>[] = [];
    this.#series = new SeriesIndex(config.labelNames, (labels) => new CounterSeries(labels, shown));
    this.#counter = new Counter({
      ...config,
      collect() {
        this.reset();
        for (const series of shown) this.inc(series.labels, series.value);
      },
    });
  }

  /** The series of `labels`, made the first time; it is exported once counted. */
  bind(labels: Labels<T>): CounterChild {
    return this.#series.get(labels);
  }

  /** As prom-client's Counter#get. */
  get(): ReturnType<Counter<T>['get']> {
    return this.#counter.get();
  }
}
