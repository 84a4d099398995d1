import { describe, expect, it } from 'vitest';
import { GroupSequencer } from '../../src/sdk/group-sequencer.ts';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('GroupSequencer', () => {
  it('runs sends of one group one at a time, in call order; other groups at once', async () => {
    const sequencer = new GroupSequencer();
    const order: string[] = [];
    const a = await sequencer.acquire(['g']);
    const b = sequencer.acquire(['g', 'h']).then((t) => (order.push('b'), t));
    const c = sequencer.acquire(['h']).then((t) => (order.push('c'), t));
    const d = sequencer.acquire(['x']).then((t) => (order.push('d'), t));
    await tick();
    expect(order).toEqual(['d']);
    a.release();
    (await b).release();
    (await c).release();
    (await d).release();
    expect(order).toEqual(['d', 'b', 'c']);
    await tick();
    expect(sequencer.busyGroups).toBe(0);
  });

  it('an aborted waiter leaves, but the ones behind it still wait for the ones before it', async () => {
    const sequencer = new GroupSequencer();
    const first = await sequencer.acquire(['g']);
    const controller = new AbortController();
    const aborted = sequencer.acquire(['g'], controller.signal);
    let thirdStarted = false;
    const third = sequencer.acquire(['g']).then((t) => ((thirdStarted = true), t));
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await tick();
    expect(thirdStarted).toBe(false);
    first.release();
    (await third).release();
    expect(thirdStarted).toBe(true);
  });
});
