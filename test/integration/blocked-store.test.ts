import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisBlockedStore } from '../../src/redis/blocked-store.ts';
import { blockedKey } from '../../src/redis/keys.ts';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import { RedisGateway } from '../../src/redis/redis-gateway.ts';
import { connectRedis, isolatedStore } from '../support/redis.ts';

let redis: RedisClient;
let prefix: string;
let drop: () => Promise<void>;
let store: RedisBlockedStore;

beforeEach(() => {
  redis = connectRedis();
  ({ prefix, drop } = isolatedStore(redis));
  store = new RedisBlockedStore(new RedisGateway(redis), prefix);
});
afterEach(async () => {
  await drop();
  await redis.quit();
});

describe('blocked groups in Redis', () => {
  it('keeps blocks and requests per subscription and partition, groups named null included, until removed', async () => {
    await store.save('orders', 3, 'user-1', { offsets: ['41', '42'], attempt: 5, error: 'HTTP 500' });
    await store.save('orders', 3, null, { offsets: ['7'], attempt: 2, error: undefined });
    await store.save('orders', 4, 'user-1', { offsets: ['9'], attempt: 1, error: 'timeout' });
    await store.save('billing', 3, 'user-1', { offsets: ['1'], attempt: 1, error: 'x' });
    await store.request('orders', 3, 'user-1', { action: 'skip', offset: '41' });

    const three = await store.load('orders', 3);
    expect(three.blocks).toEqual(
      new Map<string | null, unknown>([
        ['user-1', { offsets: ['41', '42'], attempt: 5, error: 'HTTP 500' }],
        [null, { offsets: ['7'], attempt: 2 }],
      ]),
    );
    expect(three.requests).toEqual(new Map([['user-1', { action: 'skip', offset: '41' }]]));
    expect((await store.load('orders', 4)).blocks.get('user-1')).toEqual({ offsets: ['9'], attempt: 1, error: 'timeout' });

    await store.remove('orders', 3, 'user-1');
    const after = await store.load('orders', 3);
    expect([...after.blocks.keys()]).toEqual([null]);
    expect(after.requests.size).toBe(0);
    expect((await store.load('billing', 3)).blocks.size).toBe(1);
    // A backstop expiry is set with every write (for subscriptions removed while they had blocked groups).
    expect(await redis.ttl(blockedKey(prefix, 'orders', 3))).toBeGreaterThan(29 * 24 * 3600);
  });

  it("a skip replaces the group's block and request with the skipped offsets in one step, kept until forgotten", async () => {
    await store.save('orders', 3, 'user-1', { offsets: ['41', '42'], attempt: 5, error: 'HTTP 500' });
    await store.request('orders', 3, 'user-1', { action: 'skip', offset: '41' });
    await store.save('orders', 3, 'user-2', { offsets: ['40'], attempt: 1, error: 'HTTP 500' });
    await store.skip('orders', 3, 'user-1', ['41', '42']);
    await store.skip('orders', 3, null, ['50']);

    const after = await store.load('orders', 3);
    expect([...after.blocks.keys()]).toEqual(['user-2']);
    expect(after.requests.size).toBe(0);
    expect(after.skipped).toEqual(
      new Map([
        ['41', ['41', '42']],
        ['50', ['50']],
      ]),
    );
    await store.forgetSkips('orders', 3, ['41']);
    await store.forgetSkips('orders', 3, []);
    expect((await store.load('orders', 3)).skipped).toEqual(new Map([['50', ['50']]]));

    // A skip whose answer was lost: the head blocking again, or retried, means it was not skipped.
    await store.skip('orders', 3, 'user-3', ['60']);
    await store.skip('orders', 3, 'user-4', ['70']);
    await store.save('orders', 3, 'user-3', { offsets: ['60'], attempt: 1, error: 'HTTP 500' });
    await store.remove('orders', 3, 'user-4', '70');
    const last = await store.load('orders', 3);
    expect([...last.skipped.keys()]).toEqual(['50']);
    expect([...last.blocks.keys()].sort()).toEqual(['user-2', 'user-3']);
    expect(await redis.ttl(blockedKey(prefix, 'orders', 3))).toBeGreaterThan(29 * 24 * 3600);
  });

  it('a group name that looks like JSON or holds separators is kept exactly', async () => {
    const odd = ['"null"', 'a:b@c', 'b:{"x":1}', ''];
    for (const [i, group] of odd.entries()) await store.save('s', 0, group, { offsets: [String(i)], attempt: 1, error: 'e' });
    await store.request('s', 0, 'a:b@c', { action: 'retry', offset: '1' });
    const { blocks, requests } = await store.load('s', 0);
    expect([...blocks.keys()].sort()).toEqual([...odd].sort());
    expect(requests).toEqual(new Map([['a:b@c', { action: 'retry', offset: '1' }]]));
  });
});
