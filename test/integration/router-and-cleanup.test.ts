import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/logging/logger.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';
import type { RouterStore } from '../../src/redis/router-store.ts';
import { MappingCleaner } from '../../src/routing/cleanup.ts';
import { bucketOf, groupHash } from '../../src/routing/hashing.ts';
import { OrderedMessageRouter } from '../../src/routing/router.ts';
import { connectRedis, isolatedStore, type IsolatedStore } from '../support/redis.ts';
import { FakeRouteLog } from '../support/fake-route-log.ts';

const BUCKETS = 16;
const log = createLogger('error');
let redis: RedisClient;
let store: RouterStore;
let admin: IsolatedStore['admin'];
let keys: IsolatedStore['keys'];
let drop: () => Promise<void>;
let metrics: SidecarMetrics;

beforeEach(() => {
  redis = connectRedis();
  ({ store, admin, keys, drop } = isolatedStore(redis));
  metrics = new SidecarMetrics(new Registry(), { defaultMetrics: false });
});
afterEach(async () => {
  await drop();
  await redis.quit();
});

const newRouter = (partitions = 4) =>
  new OrderedMessageRouter(
    store,
    async () => partitions,
    { routerBuckets: BUCKETS, routeCacheSize: 1000, groupTtlMs: 60 * 60_000, touchFlushIntervalMs: 1000 },
    metrics,
    log,
  );

const counter = async (m: { get(): Promise<{ values: { value: number }[] }> }) => (await m.get()).values[0]?.value ?? 0;

/** Makes a group look idle for `minutes` by rewriting its last-access stamp, as time passing would. */
async function age(topic: string, group: string, minutes: number): Promise<void> {
  const key = keys(topic).bucket(bucketOf(groupHash(group), BUCKETS));
  const [partition] = (await redis.hget(key, group))!.split(':');
  const nowMinute = Math.floor(Number((await redis.time())[0]) / 60);
  await redis.hset(key, group, `${partition}:${nowMinute - minutes}`);
}

describe('OrderedMessageRouter against real Redis', () => {
  it('serves repeated groups from its cache and records their use in one batch', async () => {
    const router = newRouter();
    const first = await router.route('orders', 'user-1');
    for (let i = 0; i < 9; i++) expect(await router.route('orders', 'user-1')).toBe(first);
    expect(await counter(metrics.cacheHits)).toBe(9);
    expect(await counter(metrics.cacheMisses)).toBe(1);

    await age('orders', 'user-1', 30);
    await router.flushTouches();
    const mapping = await admin.lookup('orders', BUCKETS, 'user-1', groupHash('user-1'));
    expect(Date.now() - mapping!.lastAccess.getTime()).toBeLessThan(120_000);
    await router.stop();
  });

  it('drops a cached route that Redis no longer has, so the group is routed afresh, never to two places at once', async () => {
    const router = newRouter();
    const other = newRouter();
    const before = await router.route('orders', 'player-7');
    await router.route('orders', 'player-7');

    await age('orders', 'player-7', 61);
    const cleaner = new MappingCleaner(store, { groupTtlMs: 60 * 60_000, cleanupIntervalMs: 60_000 }, metrics, log);
    expect(await cleaner.run()).toMatchObject({ ran: true, removed: 1 });
    // Another replica now maps the group again, elsewhere: its old partition is made the most loaded.
    await redis.hincrby(keys('orders').loads, String(before), 5);
    const now = await other.route('orders', 'player-7');
    expect(now).not.toBe(before);

    await router.flushTouches();
    expect(await router.route('orders', 'player-7')).toBe(now);
    await Promise.all([router.stop(), other.stop()]);
  });

  it('routes groups concurrently without asking Redis twice for the same new group', async () => {
    const router = newRouter(6);
    const asked = vi.spyOn(store, 'route');
    const routes = await Promise.all(Array.from({ length: 50 }, () => router.routeAll('orders', ['a', 'b', 'c'])));
    for (const r of routes) expect(r).toEqual(routes[0]);
    expect(await store.loads('orders', 6).then((l) => l.reduce((x, y) => x + y, 0))).toBe(3);
    expect(asked.mock.calls.map(([, , group]) => group).sort()).toEqual(['a', 'b', 'c']);
    await router.stop();
  });
});

describe('MappingCleaner against real Redis', () => {
  it('runs on one replica per interval and removes only idle groups', async () => {
    const router = newRouter();
    const groups = Array.from({ length: 20 }, (_, i) => `g-${i}`);
    for (const g of groups) await router.route('orders', g);
    for (const g of groups.slice(0, 8)) await age('orders', g, 90);

    const cleaners = [0, 1, 2].map(() => new MappingCleaner(store, { groupTtlMs: 60 * 60_000, cleanupIntervalMs: 60_000 }, metrics, log));
    const reports = await Promise.all(cleaners.map((c) => c.runIfOurTurn()));
    expect(reports.filter((r) => r.ran)).toHaveLength(1);
    expect(reports.find((r) => r.ran)).toMatchObject({ removed: 8, topics: 1 });
    expect((await store.loads('orders', 4)).reduce((a, b) => a + b, 0)).toBe(12);
    expect((await metrics.cleanupRemoved.get()).values).toContainEqual(expect.objectContaining({ labels: { topic: 'orders' }, value: 8 }));
    expect(await store.lastCleanupRun()).toBeGreaterThan(Date.now() / 1000 - 60);
    await router.stop();
  });
});

describe('MappingCleaner and the route log, against real Redis', () => {
  it('reads back the groups of a round: the partition each is mapped to now, none for one with no mapping', async () => {
    const router = newRouter();
    const mapped = new Map<string, number>();
    for (const g of ['a', 'b', 'c']) mapped.set(g, await router.route('orders', g));
    expect(await store.mappedPartitions('orders', BUCKETS, ['a', 'b', 'c', 'never'])).toEqual(mapped);
    expect(await store.mappedPartitions('orders', BUCKETS, [])).toEqual(new Map());
    await router.stop();
  });

  it('a group mapped again before its expiry reached the log ends in the log with its new mapping, not the release', async () => {
    const routeLog = new FakeRouteLog();
    const options = { routerBuckets: BUCKETS, routeCacheSize: 1000, groupTtlMs: 60 * 60_000, touchFlushIntervalMs: 1000, routeLog };
    // Replica A made the mapping (logged), then the group went idle.
    const replicaA = new OrderedMessageRouter(store, async () => 4, options, metrics, log);
    await replicaA.route('orders', 'g');
    await age('orders', 'g', 90);
    // A's cleanup removes it from Redis; its release (tombstone) is acknowledged only when the test says.
    const ackRelease = routeLog.delay('g');
    const cleaner = new MappingCleaner(store, { groupTtlMs: 60 * 60_000, cleanupIntervalMs: 60_000 }, metrics, log, routeLog);
    const pass = cleaner.run();
    const bucketKey = keys('orders').bucket(bucketOf(groupHash('g'), BUCKETS));
    await vi.waitFor(async () => expect(await redis.hget(bucketKey, 'g')).toBeNull());
    // Replica B (no cached route) gets a request for the group: mapped afresh, logged, produced on.
    const replicaB = new OrderedMessageRouter(store, async () => 4, options, metrics, log);
    const partition = await replicaB.route('orders', 'g');
    // Only now does A's release land in the log, after B's mapping.
    ackRelease();
    expect(await pass).toMatchObject({ removed: 1 });
    expect(
      routeLog.entries
        .filter((e) => e.group === 'g')
        .map((e) => e.partition)
        .slice(-3),
    ).toEqual([partition, null, partition]);
    // A rebuild from the log restores B's mapping.
    expect((await routeLog.read('orders')).routes.get('g')).toBe(partition);
    await Promise.all([replicaA.stop(), replicaB.stop()]);
  });
});

describe('a replica that has not seen the topic grow', () => {
  it('keeps routing existing groups where they are, after re-reading the partition count', async () => {
    const grown = newRouter(8);
    const placed = new Map<string, number>();
    for (let i = 0; i < 16; i++) placed.set(`p-${i}`, await grown.route('orders', `p-${i}`));
    const beyond = [...placed].find(([, p]) => p >= 6)!;

    let freshReads = 0;
    const stale = new OrderedMessageRouter(
      store,
      async (_topic, how) => {
        if (how?.fresh) freshReads++;
        return how?.fresh ? 8 : 6;
      },
      { routerBuckets: BUCKETS, routeCacheSize: 1000, groupTtlMs: 60 * 60_000, touchFlushIntervalMs: 1000 },
      metrics,
      log,
    );
    expect(await stale.route('orders', beyond[0])).toBe(beyond[1]);
    expect(freshReads).toBe(1);
    await Promise.all([grown.stop(), stale.stop()]);
  });

  it('refuses (409) a mapping beyond even the fresh count instead of moving the group', async () => {
    const big = newRouter(8);
    let group = '';
    for (let i = 0; !group; i++) if ((await big.route('orders', `q-${i}`)) >= 4) group = `q-${i}`;
    const shrunk = newRouter(4);
    await expect(shrunk.route('orders', group)).rejects.toMatchObject({ code: 'CONFLICT', status: 409 });
    await Promise.all([big.stop(), shrunk.stop()]);
  });
});
