import { describe, expect, it } from 'vitest';
import { backoffMs, MAX_TIMER_MS, parseRetryAfter, pause, retryBudget, worstCaseMs } from '../../src/retry/retry.ts';

describe('backoffMs', () => {
  const backoff = { initialMs: 100, maxMs: 1000 };
  it('doubles per retry, is capped, and jitters within the upper half', () => {
    expect([1, 2, 3, 4, 5, 9, 100].map((n) => backoffMs(backoff, n, () => 0))).toEqual([50, 100, 200, 400, 500, 500, 500]);
    expect([1, 2, 3, 4, 5, 9, 100].map((n) => backoffMs(backoff, n, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('never waits less than a Retry-After asked for', () => {
    expect(backoffMs(backoff, 1, () => 0, 4000)).toBe(4000);
    expect(backoffMs(backoff, 4, () => 1, 10)).toBe(800);
  });
});

describe('parseRetryAfter', () => {
  it('reads Retry-After in seconds or as a date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });

  it('caps a Retry-After at the longest wait a Node timer keeps, so a huge one does not fire at once', () => {
    expect(MAX_TIMER_MS).toBe(2_147_483_647);
    expect(parseRetryAfter('2147483', 0)).toBe(2_147_483_000);
    expect(parseRetryAfter('2592000', 0)).toBe(MAX_TIMER_MS);
    expect(parseRetryAfter('99999999999999999999999', 0)).toBe(MAX_TIMER_MS);
    expect(parseRetryAfter(new Date(Date.UTC(2100, 0, 1)).toUTCString(), 0)).toBe(MAX_TIMER_MS);
    expect(backoffMs({ initialMs: 100, maxMs: 1000 }, 1, () => 0, 10 * MAX_TIMER_MS)).toBe(MAX_TIMER_MS);
  });
});

describe('pause', () => {
  it('resolves false at once for an aborted signal, and when the signal fires meanwhile', async () => {
    expect(await pause(10_000, AbortSignal.abort())).toBe(false);
    const controller = new AbortController();
    const paused = pause(10_000, controller.signal);
    controller.abort();
    expect(await paused).toBe(false);
    expect(await pause(1)).toBe(true);
  });
});

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
