import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SettleWaker } from '../../src/consume/settle-waker.ts';

describe('SettleWaker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('wakes after the pause while the promise is pending, and at once when it settles', async () => {
    let settle!: () => void;
    const waker = new SettleWaker(new Promise<void>((resolve) => (settle = resolve)));
    let woken = false;
    void waker.wait(1000).then(() => (woken = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(woken).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect([woken, waker.settled]).toEqual([true, false]);

    woken = false;
    void waker.wait(1000).then(() => (woken = true));
    settle();
    await vi.advanceTimersByTimeAsync(0);
    expect([woken, waker.settled]).toEqual([true, true]);
    expect(vi.getTimerCount()).toBe(0);
    await expect(waker.wait(1000)).resolves.toBeUndefined();
  });

  it('subscribes to the promise once, however many passes wait on it', async () => {
    const done = new Promise<void>(() => undefined);
    const then = vi.spyOn(done, 'then');
    const waker = new SettleWaker(done);
    for (let pass = 0; pass < 20; pass++) {
      const waited = waker.wait(10);
      await vi.advanceTimersByTimeAsync(10);
      await waited;
    }
    expect(then).toHaveBeenCalledTimes(1);
  });
});
