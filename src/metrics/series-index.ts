/** The values of every label of a metric, by label name. */
export type Labels<T extends string> = Readonly<Record<T, string>>;

interface Level<S> {
  readonly next: Map<string, Level<S>>;
  series?: S;
}

/**
 * A metric's series by their label values, one Map level per label name. A lookup builds no key and hashes
 * nothing new (a string keeps its hash), where prom-client joins a key string on every call.
 * It holds every series ever made, as prom-client's own store does: a series cannot be dropped without
 * changing the exposition, and the label values (route templates, status codes, topics) are few.
 */
export class SeriesIndex<T extends string, S> {
  readonly #labelNames: readonly T[];
  readonly #known: ReadonlySet<string>;
  readonly #make: (labels: Labels<T>) => S;
  readonly #root: Level<S> = { next: new Map() };

  /** `make` makes the series of a label set the first time it is asked for. */
  constructor(labelNames: readonly T[], make: (labels: Labels<T>) => S) {
    this.#labelNames = labelNames;
    this.#known = new Set(labelNames);
    this.#make = make;
  }

  get(labels: Labels<T>): S {
    let level = this.#root;
    for (const name of this.#labelNames) {
      const value = labels[name];
      let next = level.next.get(value);
      if (next === undefined) level.next.set(value, (next = { next: new Map() }));
      level = next;
    }
    return (level.series ??= this.#make(this.#checked(labels)));
  }

  /**
   * A copy of `labels` (the caller may reuse its object) in the caller's order, which the exposition keeps as
   * prom-client does; a label the metric does not have is refused as prom-client refuses it.
   */
  #checked(labels: Labels<T>): Labels<T> {
    for (const name of Object.keys(labels)) {
      if (!this.#known.has(name)) throw new Error(`Added label "${name}" is not included in initial labelset: ${this.#labelNames.join(', ')}`);
    }
    return { ...labels };
  }
}
