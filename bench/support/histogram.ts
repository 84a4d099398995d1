import type { Histogram } from 'prom-client';

/** Count and sum of a prom-client histogram over all its label sets. */
export async function histogramTotals(histogram: Histogram<string>): Promise<{ count: number; sum: number }> {
  let count = 0;
  let sum = 0;
  for (const v of (await histogram.get()).values) {
    if (v.metricName?.endsWith('_count')) count += v.value;
    else if (v.metricName?.endsWith('_sum')) sum += v.value;
  }
  return { count, sum };
}

/** Totals accumulated between two readings. */
export const since = (now: { count: number; sum: number }, before: { count: number; sum: number }): { count: number; sum: number } => ({
  count: now.count - before.count,
  sum: now.sum - before.sum,
});
