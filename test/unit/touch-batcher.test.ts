import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.ts';
import { RouteCache, UNRECORDED } from '../../src/routing/route-cache.ts';
import type { TopicState, TouchEntry } from '../../src/routing/route-store.ts';
import { TouchBatcher } from '../../src/routing/touch-batcher.ts';

describe('TouchBatcher', () => {
  it('confirms the routes Redis still maps, but never one hashed during an outage and not yet recorded and logged', async () => {
    const cache = new RouteCache(10);
    const state: TopicState = { buckets: 64, epoch: 'e1' };
    const sent: TouchEntry[] = [];
    const store = {
      touch: async (_topic: string, _state: TopicState, entries: readonly TouchEntry[]) => {
        sent.push(...entries);
        return entries.map(() => true);
      },
    };
    let now = 100;
    const batcher = new TouchBatcher(
      store,
      async () => state,
      () => undefined,
      cache,
      () => now,
      createLogger('error'),
    );
    const proven = { partition: 1, hash: 7, confirmedAt: 50 };
    // Touched before an outage, then hashed to the same partition (evicted and routed again while degraded).
    const hashed = { partition: 2, hash: 8, confirmedAt: UNRECORDED };
    cache.set('orders', 'proven', proven);
    cache.set('orders', 'hashed', hashed);
    batcher.noteUse('orders', 'proven', proven);
    batcher.noteUse('orders', 'hashed', { ...hashed, confirmedAt: 40 });
    now = 200;
    await batcher.flush();
    expect(sent.map((e) => e.group)).toEqual(['proven', 'hashed']);
    expect(cache.peek('orders', 'proven')?.confirmedAt).toBe(200);
    expect(cache.peek('orders', 'hashed')?.confirmedAt).toBe(UNRECORDED);
  });
});
