import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/logging/logger.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import type { RouterStore } from '../../src/redis/router-store.ts';
import { MappingCleaner } from '../../src/routing/cleanup.ts';
import type { Clock } from '../../src/routing/clock.ts';
import { cacheValidityMs } from '../../src/routing/expiry.ts';
import { bucketOf, groupHash } from '../../src/routing/hashing.ts';
import { OrderedMessageRouter, type RouterOptions } from '../../src/routing/router.ts';
import { fakeClock } from '../support/fake-clock.ts';
import { FakeRouteLog } from '../support/fake-route-log.ts';
import { connectRedis, dropPrefix, isolatedStore, type IsolatedStore } from '../support/redis.ts';

/** Races between a replica's use of a mapping and Redis losing the topic's state, against real Redis (route-3.lua, mark-logged-1.lua, record-3.lua). */

const BUCKETS = 16;
const TTL_MS = 60 * 60_000;
const OPTIONS: RouterOptions = { routerBuckets: BUCKETS, routeCacheSize: 1000, groupTtlMs: TTL_MS, touchFlushIntervalMs: 1000 };
const log = createLogger('error', {}, () => undefined);
let redis: RedisClient;
let store: RouterStore;
let admin: IsolatedStore['admin'];
let keys: IsolatedStore['keys'];
let prefix: string;
let drop: () => Promise<void>;
let metrics: SidecarMetrics;
const routers: OrderedMessageRouter[] = [];

beforeEach(() => {
  redis = connectRedis();
  ({ store, admin, keys, prefix, drop } = isolatedStore(redis));
  metrics = new SidecarMetrics(new Registry(), { defaultMetrics: false });
});
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.stop()));
  await drop();
  await redis.quit();
});

const replica = (partitions: number, overrides: Partial<RouterOptions> = {}, now?: Clock): OrderedMessageRouter => {
  const router = new OrderedMessageRouter(store, async () => partitions, { ...OPTIONS, ...overrides }, metrics, log, now);
  routers.push(router);
  return router;
};

const mapped = async (topic: string, group: string) => (await admin.lookup(topic, BUCKETS, group, groupHash(group)))?.partition;
const counter = async (m: { get(): Promise<{ values: { value: number }[] }> }) => (await m.get()).values[0]?.value ?? 0;

describe('an admin rebuild after a partial loss (a bucket gone, the loads kept)', () => {
  it('leaves the loads counting each mapped group once', async () => {
    const routeLog = new FakeRouteLog();
    const a = replica(4, { routeLog });
    const groups = Array.from({ length: 40 }, (_, i) => `g${i}`);
    await a.routeAll('orders', groups);
    const lostBucket = bucketOf(groupHash('g0'), BUCKETS);
    const lost = groups.filter((g) => bucketOf(groupHash(g), BUCKETS) === lostBucket);
    await redis.del(keys('orders').bucket(lostBucket));
    expect(await a.rebuild('orders')).toBe(lost.length);
    const partitions = await Promise.all(groups.map((g) => mapped('orders', g)));
    const expected = [0, 1, 2, 3].map((p) => partitions.filter((m) => m === p).length);
    expect(await store.loads('orders', 4)).toEqual(expected);
  });
});

describe('an operator resuming a topic', () => {
  it('is refused (409) while a replica rebuilds it: the hold of the rebuild stays until its mappings are back', async () => {
    const routeLog = new FakeRouteLog();
    const [a, b] = [replica(2, { routeLog }), replica(2, { routeLog })];
    const groups = Array.from({ length: 20 }, (_, i) => `g${i}`);
    const before = await a.routeAll('orders', groups);
    // A partial loss: the mappings are gone, the topic's meta stays, so only an admin rebuild brings them back.
    for (let bucket = 0; bucket < BUCKETS; bucket++) await redis.del(keys('orders').bucket(bucket));
    const release = routeLog.delayRead();
    const readsBefore = routeLog.reads;
    const rebuilt = a.rebuild('orders');
    await vi.waitUntil(() => routeLog.reads > readsBefore, { timeout: 5000 });
    const refused = await b.resume('orders').catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'CONFLICT', status: 409 });
    // Still held: a group is not mapped afresh (elsewhere) before the rebuild puts its logged mapping back.
    expect(await b.route('orders', 'g0').catch((err: unknown) => err)).toMatchObject({ code: 'ROUTING_STATE_LOST' });
    release();
    expect(await rebuilt).toBe(groups.length);
    expect(await b.routeAll('orders', groups)).toEqual(before);
    expect(await b.resume('orders')).toBe(true);
  });

  it('cannot lift the hold of a rebuild that outlasts the first minute of its lock: the rebuild renews the lock while it runs', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const routeLog = new FakeRouteLog();
      const [a, b] = [replica(2, { routeLog }), replica(2, { routeLog })];
      await a.route('orders', 'g');
      const release = routeLog.delayRead();
      const readsBefore = routeLog.reads;
      const rebuilt = a.rebuild('orders');
      await vi.waitUntil(() => routeLog.reads > readsBefore, { timeout: 5000 });
      // The lock's minute almost gone, as after a long read; the renewal (every 20 s) gives it a minute again.
      const lock = keys('orders').restoreLock;
      await redis.pexpire(lock, 5000);
      await vi.advanceTimersByTimeAsync(20_000);
      await vi.waitUntil(async () => (await redis.pttl(lock)) > 50_000, { timeout: 5000 });
      expect(await b.resume('orders').catch((err: unknown) => err)).toMatchObject({ code: 'CONFLICT' });
      release();
      await rebuilt;
      expect(await redis.exists(lock)).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('Redis losing a topic state while a mapping is in use', () => {
  it('with the route log: a mapping whose append is acknowledged after a rebuild read the log is made again in the rebuilt state, not used as it was', async () => {
    const routeLog = new FakeRouteLog();
    const [a, c] = [replica(2, { routeLog }), replica(2, { routeLog })];
    await a.route('orders', 'w');
    const acknowledge = routeLog.delay('g');
    const routed = a.route('orders', 'g');
    await vi.waitUntil(async () => (await mapped('orders', 'g')) !== undefined, { timeout: 5000 });
    // Redis loses the topic while A waits for its append; C rebuilds from the log (no "g" in it yet), and assigns.
    await dropPrefix(redis, prefix);
    await c.route('orders', 'k');
    expect(await mapped('orders', 'g')).toBeUndefined();
    acknowledge();
    const partition = await routed;
    // What A cached and produces on is what Redis maps now, and the log's latest record of the group.
    expect(await mapped('orders', 'g')).toBe(partition);
    expect(routeLog.entries.findLast((e) => e.group === 'g')?.partition).toBe(partition);
    expect(await c.route('orders', 'g')).toBe(partition);
    expect(await a.route('orders', 'g')).toBe(partition);
  });

  it('without the route log: a cached route past its validity is not re-seeded over the live mapping another replica made since', async () => {
    const clockA = fakeClock();
    const a = replica(2, {}, clockA.now);
    const b = replica(2);
    const stale = await a.route('orders', 'g');
    // A stops seeing "g": its cached copy outlives its validity, and after GROUP_TTL cleanup removes it from Redis.
    clockA.ms += cacheValidityMs(TTL_MS, OPTIONS.touchFlushIntervalMs);
    const bucket = keys('orders').bucket(bucketOf(groupHash('g'), BUCKETS));
    const nowMinute = Math.floor(Number((await redis.time())[0]) / 60);
    await redis.hset(bucket, 'g', `${stale}:${nowMinute - 2 * 60}`);
    const cleaner = new MappingCleaner(store, { groupTtlMs: TTL_MS, cleanupIntervalMs: 60_000 }, metrics, log);
    expect((await cleaner.run()).removed).toBe(1);
    // "g" comes back on B and is mapped afresh to the other partition (the stale one is busier now).
    await redis.hincrby(keys('orders').loads, String(stale), 5);
    const live = await b.route('orders', 'g');
    expect(live).not.toBe(stale);

    await dropPrefix(redis, prefix);
    // A finds the loss first and re-seeds what it can still prove; then B re-seeds its live route.
    await expect(a.route('orders', 'new')).rejects.toMatchObject({ code: 'ROUTING_STATE_LOST' });
    await expect(b.route('orders', 'other')).rejects.toMatchObject({ code: 'ROUTING_STATE_LOST' });
    expect(await mapped('orders', 'g')).toBe(live);
    expect(await counter(metrics.degradedConflicts)).toBe(0);
    expect(await b.route('orders', 'g')).toBe(live);
    expect(await a.route('orders', 'g'), 'A dropped its stale route and asks Redis').toBe(live);
  });
});
