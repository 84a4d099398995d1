import { describe, expect, it } from 'vitest';
import { retryBudget, worstCaseMs } from '../../src/sdk/retry-budget.ts';

describe('retryBudget', () => {
  it.each([5_000, 15_000, 30_000, 60_000, 300_000])('keeps a whole send, retries included, within a %i ms deadline', (deadline) => {
    const budget = retryBudget(deadline);
    expect(worstCaseMs(budget)).toBeLessThanOrEqual(deadline);
    expect(budget.requestTimeout).toBeGreaterThanOrEqual(deadline / 12);
  });

  it('leaves each attempt a usable request timeout at the default deadline and ~10 s of backoff for failover', () => {
    const budget = retryBudget(30_000);
    expect(budget.requestTimeout).toBeGreaterThanOrEqual(2500);
    expect(budget.retries * budget.maxRetryTime).toBeGreaterThanOrEqual(10_000);
  });
});
