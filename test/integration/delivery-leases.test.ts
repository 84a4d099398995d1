import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { DeliveryLeases, type LeaseAnswer, type LeasePolicy } from '../../src/consume/delivery-leases.ts';
import type { GroupLeaseStore } from '../../src/consume/group-lease-store.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { leaseKey } from '../../src/redis/keys.ts';
import { RedisLeaseStore } from '../../src/redis/lease-store.ts';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import { RedisGateway } from '../../src/redis/redis-gateway.ts';
import { freePort } from '../support/ports.ts';
import { connectRedis, dropPrefix } from '../support/redis.ts';

let redis: RedisClient;
let prefix: string;
let store: RedisLeaseStore;

beforeEach(() => {
  redis = connectRedis();
  prefix = `ost-${randomUUID().slice(0, 8)}`;
  store = new RedisLeaseStore(new RedisGateway(redis), prefix);
});
afterEach(async () => {
  await dropPrefix(redis, prefix);
  await redis.quit();
});

const log = createLogger('error');
const clock = {
  now: () => performance.now(),
  setTimer: (fn: () => void, ms: number) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

/** The store, counting the calls that reach Redis. */
function counted(inner: GroupLeaseStore) {
  const calls = { take: 0, release: 0 };
  const wrapped: GroupLeaseStore = {
    take: (...args) => (calls.take++, inner.take(...args)),
    release: (...args) => (calls.release++, inner.release(...args)),
  };
  return { calls, wrapped };
}

const leases = (owner: string, leaseStore: GroupLeaseStore, policy: LeasePolicy = { ttlMs: 10_000, minRemainingMs: 5000, renewEveryMs: 2000 }) =>
  new DeliveryLeases({ store: leaseStore, subscription: 'orders', policy, clock, owner: () => owner, log });

describe('delivery leases in Redis (lease-take.lua, lease-release.lua)', () => {
  it("takes a free lease, renews the owner's own, refuses another owner's with the time it has left, releases only the owner's", async () => {
    const groups = [
      { partition: 0, group: 'user-1' },
      { partition: 0, group: null },
      { partition: 1, group: 'a:b"{x}' },
    ];
    expect(await store.take('orders', 'A/1', 10_000, groups)).toEqual([0, 0, 0]);
    const refused = await store.take('orders', 'B/1', 10_000, groups);
    for (const left of refused) expect(left).toBeGreaterThan(9000);
    // Same replica, later epoch: another owner too.
    expect((await store.take('orders', 'A/2', 10_000, [groups[0]!]))[0]).toBeGreaterThan(0);
    expect(await store.take('orders', 'A/1', 30_000, [groups[0]!])).toEqual([0]);
    expect(await redis.pttl(leaseKey(prefix, 'orders', 0, 'user-1'))).toBeGreaterThan(20_000);

    await store.release('orders', 'B/1', groups);
    expect(await redis.get(leaseKey(prefix, 'orders', 0, null))).toBe('A/1');
    await store.release('orders', 'A/1', groups.slice(0, 2));
    expect(await store.take('orders', 'B/1', 10_000, groups)).toEqual([0, 0, expect.any(Number)]);
    // Another subscription's groups are other keys.
    expect(await store.take('billing', 'C/1', 10_000, groups)).toEqual([0, 0, 0]);
  });

  it('a lease its owner stopped renewing expires, and another owner takes it', async () => {
    const g = [{ partition: 2, group: 'g' }];
    expect(await store.take('orders', 'A/1', 300, g)).toEqual([0]);
    expect((await store.take('orders', 'B/1', 300, g))[0]).toBeGreaterThan(0);
    await vi.waitUntil(async () => (await store.take('orders', 'B/1', 10_000, g))[0] === 0, { timeout: 5000, interval: 50 });
    expect(await redis.get(leaseKey(prefix, 'orders', 2, 'g'))).toBe('B/1');
  });
});

describe('DeliveryLeases: one store call per group activation, batched', () => {
  it('takes the leases asked for in one turn in one call, answers a fresh lease without a call, and waits for another owner', async () => {
    const a = counted(store);
    const mine = leases('A/1', a.wrapped);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => mine.ensure('A/1', 0, `g${i}`)));
    expect(answers.every((x) => x.held)).toBe(true);
    expect(a.calls.take).toBe(1);
    // Fresh: no round trip.
    expect(mine.ensure('A/1', 0, 'g3')).toEqual({ held: true });
    expect(a.calls.take).toBe(1);

    const theirs = leases('B/1', store);
    const refused = (await theirs.ensure('B/1', 0, 'g3')) as Extract<LeaseAnswer, { held: false }>;
    expect(refused).toMatchObject({ held: false, reason: 'held_elsewhere' });
    expect(refused.retryInMs).toBeLessThanOrEqual(1000);

    for (let i = 0; i < 20; i++) mine.release('A/1', 0, `g${i}`);
    await mine.settled();
    expect(a.calls.release).toBe(1);
    expect(await theirs.ensure('B/1', 0, 'g3')).toEqual({ held: true });
  });

  it('a group active again before its release was sent keeps its lease without a call', async () => {
    const a = counted(store);
    const mine = leases('A/1', a.wrapped);
    await mine.ensure('A/1', 0, 'g');
    mine.release('A/1', 0, 'g');
    expect(mine.ensure('A/1', 0, 'g')).toEqual({ held: true });
    await mine.settled();
    expect(a.calls).toEqual({ take: 1, release: 0 });
    expect(await redis.get(leaseKey(prefix, 'orders', 0, 'g'))).toBe('A/1');
  });

  it('renews held leases past their ttl, so another owner keeps waiting while the group is active', async () => {
    const mine = leases('A/1', store, { ttlMs: 400, minRemainingMs: 100, renewEveryMs: 100 });
    onTestFinished(async () => {
      mine.release('A/1', 3, 'g');
      await mine.settled();
    });
    await mine.ensure('A/1', 3, 'g');
    const theirs = leases('B/1', store);
    const deadline = performance.now() + 1500;
    while (performance.now() < deadline) {
      expect(await theirs.ensure('B/1', 3, 'g')).toMatchObject({ held: false, reason: 'held_elsewhere' });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it('answers "store unreachable" (wait and ask again) when Redis cannot be reached: no lease, no delivery', async () => {
    const closed = new Redis(`redis://127.0.0.1:${await freePort()}`, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
    closed.on('error', () => undefined);
    onTestFinished(() => closed.disconnect());
    const down = leases('A/1', new RedisLeaseStore(new RedisGateway(closed), prefix));
    expect(await down.ensure('A/1', 0, 'g')).toEqual({ held: false, reason: 'store_unreachable', retryInMs: 1000 });
  });

  it('answers "store failed" (wait and ask again) when Redis answers the take with an error', async () => {
    // A key of the wrong type makes the script's GET fail: an error reply, not an outage.
    await redis.hset(leaseKey(prefix, 'orders', 0, 'g'), 'x', '1');
    expect(await leases('A/1', store).ensure('A/1', 0, 'g')).toEqual({ held: false, reason: 'store_failed', retryInMs: 1000 });
  });

  it('costs one round trip per group activation: measured take + release of one group', async () => {
    const mine = leases('A/1', store);
    const N = 300;
    const started = performance.now();
    for (let i = 0; i < N; i++) {
      await mine.ensure('A/1', 0, `m${i}`);
      mine.release('A/1', 0, `m${i}`);
      await mine.settled();
    }
    const perActivation = (performance.now() - started) / N;
    console.log(`delivery lease: ${perActivation.toFixed(3)} ms per group activation (take + release, one after the other)`);
    expect(perActivation).toBeLessThan(50);
  });
});
