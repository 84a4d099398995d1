/** Latency samples (any unit) summarised by nearest-rank percentiles. */
export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarise(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  if (n === 0) return { count: 0, mean: NaN, p50: NaN, p99: NaN, max: NaN };
  const at = (q: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  let total = 0;
  for (const v of sorted) total += v;
  return { count: n, mean: total / n, p50: at(0.5), p99: at(0.99), max: sorted[n - 1]! };
}

/** Grows without reallocating per sample; for the hot loops. */
export class Samples {
  #values: Float64Array;
  #length = 0;

  constructor(capacity = 1024) {
    this.#values = new Float64Array(capacity);
  }

  push(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = value;
  }

  get length(): number {
    return this.#length;
  }

  summary(): Summary {
    return summarise(this.#values.subarray(0, this.#length));
  }
}

/** (max - min), and (max - min) / mean, of per-partition counts. */
export function spread(counts: readonly number[]): { min: number; max: number; mean: number; deviation: number } {
  const total = counts.reduce((a, b) => a + b, 0);
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  const mean = total / counts.length;
  return { min, max, mean, deviation: mean === 0 ? 0 : (max - min) / mean };
}
