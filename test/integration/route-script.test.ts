import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import { bucketOf, groupHash } from '../../src/routing/hashing.ts';
import { leastLoadedPartition } from '../../src/routing/least-loaded.ts';
import { RouterStore } from '../../src/redis/router-store.ts';
import { RedisGateway } from '../../src/redis/redis-gateway.ts';
import { StoreRefusedError, StoreStateLostError } from '../../src/errors/store-errors.ts';
import { connectRedis, isolatedStore, type IsolatedStore } from '../support/redis.ts';

const BUCKETS = 64;
let redis: RedisClient;
let store: RouterStore;
let admin: IsolatedStore['admin'];
let keys: IsolatedStore['keys'];
let prefix: string;
let drop: () => Promise<void>;

beforeEach(() => {
  redis = connectRedis();
  ({ store, admin, prefix, keys, drop } = isolatedStore(redis));
});
afterEach(async () => {
  await drop();
  await redis.quit();
});

const route = async (s: RouterStore, group: string, partitions: number, topic = 'orders', logged = false) =>
  s.route(topic, await s.registerTopic(topic, BUCKETS), group, groupHash(group), partitions, logged);
const state = (topic = 'orders') => store.registerTopic(topic, BUCKETS);

describe('route-3.lua against real Redis', () => {
  it('gives every group exactly one partition when many connections race on the same new groups', async () => {
    const connections = Array.from({ length: 8 }, () => connectRedis());
    try {
      // About atomicity, not latency: 3,200 scripts queued at once can outlast the production command deadline
      // on a busy 2-core machine, which would fail the test for a reason it does not test.
      const stores = connections.map((c) => new RouterStore(new RedisGateway(c, { commandTimeoutMs: 30_000 }), prefix));
      const groups = Array.from({ length: 400 }, (_, i) => `user-${i}`);
      // Each replica walks the groups from a different starting point, so first uses collide everywhere.
      const rotated = (n: number) => [...groups.slice(n * 50), ...groups.slice(0, n * 50)];
      const answers = await Promise.all(stores.flatMap((s, n) => rotated(n).map((group) => route(s, group, 6).then((o) => ({ group, ...o })))));
      const partitionOf = new Map<string, Set<number>>();
      let created = 0;
      for (const { group, partition, created: isNew } of answers) {
        partitionOf.set(group, (partitionOf.get(group) ?? new Set()).add(partition));
        if (isNew) created++;
      }
      expect(created).toBe(groups.length);
      for (const [group, partitions] of partitionOf) expect(partitions.size, group).toBe(1);
      const loads = await store.loads('orders', 6);
      expect(loads.reduce((a, b) => a + b, 0)).toBe(groups.length);
      expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
    } finally {
      await Promise.all(connections.map((c) => c.quit()));
    }
  });

  it('chooses exactly what the TypeScript rule chooses (least loaded, hash tie-break)', async () => {
    const loads = [0, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 300; i++) {
      const group = `account-${i}`;
      const expected = leastLoadedPartition(loads, groupHash(group));
      const { partition, created } = await route(store, group, loads.length);
      expect(created).toBe(true);
      expect(partition, group).toBe(expected);
      loads[partition]!++;
    }
    expect(await store.loads('orders', loads.length)).toEqual(loads);
  });

  it('assigns groups on a topic of 10,000 partitions (past what Lua unpack() takes), least loaded first', async () => {
    const partitions = 10_000;
    const first = await route(store, 'first', partitions);
    expect(first.created).toBe(true);
    const second = await route(store, 'second', partitions);
    expect(second.partition).not.toBe(first.partition);
    expect(second.partition).toBe(
      leastLoadedPartition(
        Array.from({ length: partitions }, (_, p) => (p === first.partition ? 1 : 0)),
        groupHash('second'),
      ),
    );
    expect((await store.loads('orders', partitions)).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('keeps an existing mapping (sticky) even when its partition became the most loaded', async () => {
    const first = await route(store, 'player-1', 4);
    for (let i = 0; i < 12; i++) await route(store, `filler-${i}`, 4);
    await redis.hincrby(keys('orders').loads, String(first.partition), 100);
    const again = await route(store, 'player-1', 4);
    expect(again).toEqual({ partition: first.partition, created: false, unlogged: false });
  });

  it('sends new groups to new partitions after growth and never moves existing groups', async () => {
    const before = new Map<string, number>();
    for (let i = 0; i < 30; i++) before.set(`g-${i}`, (await route(store, `g-${i}`, 3)).partition);
    const fresh: number[] = [];
    for (let i = 0; i < 20; i++) fresh.push((await route(store, `new-${i}`, 5)).partition);
    expect(fresh.slice(0, 20).filter((p) => p >= 3).length).toBe(20);
    for (const [group, partition] of before) expect((await route(store, group, 5)).partition).toBe(partition);
    const loads = await store.loads('orders', 5);
    expect(loads).toEqual([10, 10, 10, 10, 10]);
  });

  it('never moves an existing group, even for a replica whose partition count is stale', async () => {
    const groups = Array.from({ length: 8 }, (_, i) => `r-${i}`);
    const mapped = await Promise.all(groups.map(async (g) => ({ g, ...(await route(store, g, 8)) })));
    const beyond = mapped.find((m) => m.partition >= 6)!;
    const loadsBefore = await store.loads('orders', 8);
    // A replica that still believes the topic has 6 partitions asks for the same group.
    expect(await route(store, beyond.g, 6)).toEqual({ partition: beyond.partition, created: false, unlogged: false });
    expect(await store.loads('orders', 8)).toEqual(loadsBefore);
  });

  it('survives a Redis script cache flush (EVALSHA falls back to EVAL)', async () => {
    const first = await route(store, 'flush-me', 3);
    await redis.script('FLUSH');
    expect(await route(store, 'flush-me', 3)).toEqual({ partition: first.partition, created: false, unlogged: false });
  });
});

describe('state loss (route-3.lua, record-3.lua, touch.lua against a topic epoch)', () => {
  it('writes nothing once the topic state the caller registered is gone (FLUSHALL-like) or another', async () => {
    const registered = await state();
    const a = await route(store, 'a', 4);
    // What FLUSHALL leaves of this topic: nothing (its keys share one Cluster slot, so one DEL takes them all).
    const orders = keys('orders');
    const topicKeys = [orders.meta, orders.loads, orders.bucket(bucketOf(groupHash('a'), BUCKETS))];
    expect(await redis.del(...topicKeys)).toBe(3);
    await expect(store.route('orders', registered, 'b', groupHash('b'), 4, false)).rejects.toBeInstanceOf(StoreStateLostError);
    await expect(store.route('orders', registered, 'a', groupHash('a'), 4, false)).rejects.toBeInstanceOf(StoreStateLostError);
    await expect(store.record('orders', registered, 'c', groupHash('c'), 1, false)).rejects.toBeInstanceOf(StoreStateLostError);
    await expect(store.touch('orders', registered, [{ group: 'a', hash: groupHash('a'), partition: a.partition }])).rejects.toBeInstanceOf(StoreStateLostError);
    expect(await redis.exists(...topicKeys, orders.bucket(bucketOf(groupHash('b'), BUCKETS)), orders.bucket(bucketOf(groupHash('c'), BUCKETS)))).toBe(0);
    // Another epoch (a rebuild by another replica) is refused the same way.
    const rebuilt = await store.stampTopic('orders', BUCKETS, 'another-epoch', undefined);
    await expect(store.route('orders', registered, 'b', groupHash('b'), 4, false)).rejects.toBeInstanceOf(StoreStateLostError);
    expect((await store.route('orders', rebuilt, 'b', groupHash('b'), 4, false)).created).toBe(true);
  });

  it('on hold: existing groups are served, new ones refused with nothing written', async () => {
    const a = await route(store, 'a', 4);
    expect(await store.readHold('orders')).toBeUndefined();
    await store.hold('orders', 'unproven');
    expect(await store.readHold('orders')).toBe('unproven');
    expect((await route(store, 'a', 4)).partition).toBe(a.partition);
    await expect(route(store, 'new', 4)).rejects.toMatchObject({ name: 'StoreOnHoldError', reason: 'unproven' });
    expect(await admin.lookup('orders', BUCKETS, 'new', groupHash('new'))).toBeUndefined();
    expect(await store.release('orders')).toBe(true);
    expect(await store.readHold('orders')).toBeUndefined();
    expect((await route(store, 'new', 4)).created).toBe(true);
    await store.hold('orders', 'restoring');
    expect(await store.readHold('orders')).toBe('restoring');
    // A value this version never writes still refuses new groups (route-3.lua), so it reads as a hold, not as none.
    await redis.hset(keys('orders').meta, 'hold', 'something-else');
    expect(await store.readHold('orders')).toBe('unproven');
  });

  it('with the route log on, a mapping stays unlogged for every caller until marked logged', async () => {
    const created = await route(store, 'u', 4, 'orders', true);
    expect(created).toMatchObject({ created: true, unlogged: true });
    expect(await route(store, 'u', 4, 'orders', true)).toMatchObject({ created: false, unlogged: true });
    await store.markLogged('orders', await state(), 'u');
    expect(await route(store, 'u', 4, 'orders', true)).toMatchObject({ created: false, unlogged: false });
  });

  it('with the route log on, a mapping recorded from a hashed route stays unlogged until marked logged (record-3.lua)', async () => {
    const registered = await state();
    expect(await store.record('orders', registered, 'h', groupHash('h'), 2, true)).toBe(2);
    expect(await route(store, 'h', 4, 'orders', true)).toEqual({ partition: 2, created: false, unlogged: true });
    await store.markLogged('orders', registered, 'h');
    expect(await route(store, 'h', 4, 'orders', true)).toEqual({ partition: 2, created: false, unlogged: false });
    // Already mapped: Redis's partition wins and nothing is listed again; with the log off nothing is listed.
    expect(await store.record('orders', registered, 'h', groupHash('h'), 3, true)).toBe(2);
    expect(await redis.hexists(keys('orders').meta, 'unlogged:h')).toBe(0);
    expect(await store.record('orders', registered, 'off', groupHash('off'), 1, false)).toBe(1);
    expect(await redis.hexists(keys('orders').meta, 'unlogged:off')).toBe(0);
  });

  it("marking a mapping logged fails as state-lost, writing nothing, when the topic epoch is not the caller's (mark-logged-1.lua)", async () => {
    const registered = await state();
    await route(store, 'u', 4, 'orders', true);
    // A rebuild stamped another epoch meanwhile: the mapping must not be used as it was made.
    await redis.hset(keys('orders').meta, 'epoch', 'another');
    await expect(store.markLogged('orders', registered, 'u')).rejects.toBeInstanceOf(StoreStateLostError);
    expect(await redis.hexists(keys('orders').meta, 'unlogged:u')).toBe(1);
    await redis.del(keys('orders').meta);
    await expect(store.markLogged('orders', registered, 'u')).rejects.toBeInstanceOf(StoreStateLostError);
  });

  it('restores mappings Redis misses (Redis wins the others), loads to match, once', async () => {
    await route(store, 'kept', 4);
    const kept = (await admin.lookup('orders', BUCKETS, 'kept', groupHash('kept')))!.partition;
    const routes = new Map([
      ['kept', (kept + 1) % 4],
      ['r1', 2],
      ['r2', 3],
      ['r3', 3],
    ]);
    expect(await store.restoreRoutes('orders', BUCKETS, routes)).toBe(3);
    expect(await store.restoreRoutes('orders', BUCKETS, routes)).toBe(0);
    expect((await admin.lookup('orders', BUCKETS, 'kept', groupHash('kept')))!.partition).toBe(kept);
    for (const g of ['r1', 'r2', 'r3']) expect((await admin.lookup('orders', BUCKETS, g, groupHash(g)))!.partition, g).toBe(routes.get(g));
    const expected = [0, 0, 1, 2];
    expected[kept]!++;
    expect(await store.loads('orders', 4)).toEqual(expected);
  });

  it('gives the rebuild lock to one replica at a time, released only by its owner', async () => {
    expect(await store.tryLockRestore('orders', 'one', 5000)).toBe(true);
    expect(await store.tryLockRestore('orders', 'two', 5000)).toBe(false);
    await store.unlockRestore('orders', 'two');
    expect(await store.tryLockRestore('orders', 'two', 5000)).toBe(false);
    await store.unlockRestore('orders', 'one');
    expect(await store.tryLockRestore('orders', 'two', 5000)).toBe(true);
  });

  it('extends the rebuild lock for its owner only (extend-lock-1.lua)', async () => {
    const lock = keys('orders').restoreLock;
    expect(await store.tryLockRestore('orders', 'one', 1000)).toBe(true);
    expect(await store.extendRestoreLock('orders', 'two', 60_000)).toBe(false);
    expect(await redis.pttl(lock)).toBeLessThanOrEqual(1000);
    expect(await store.extendRestoreLock('orders', 'one', 60_000)).toBe(true);
    expect(await redis.pttl(lock)).toBeGreaterThan(59_000);
    await store.unlockRestore('orders', 'one');
    expect(await store.extendRestoreLock('orders', 'one', 60_000)).toBe(false);
    expect(await redis.exists(lock)).toBe(0);
  });
});

describe('touch.lua', () => {
  it('confirms live mappings, reports missing or moved ones, and never creates a mapping', async () => {
    const a = await route(store, 'a', 4);
    const b = await route(store, 'b', 4);
    const result = await store.touch('orders', await state(), [
      { group: 'a', hash: groupHash('a'), partition: a.partition },
      { group: 'b', hash: groupHash('b'), partition: (b.partition + 1) % 4 },
      { group: 'ghost', hash: groupHash('ghost'), partition: 0 },
    ]);
    expect(result).toEqual([true, false, false]);
    expect(await admin.lookup('orders', BUCKETS, 'ghost', groupHash('ghost'))).toBeUndefined();
  });

  it('refreshes the last-access minute', async () => {
    await route(store, 'old', 2);
    const key = keys('orders').bucket(bucketOf(groupHash('old'), BUCKETS));
    const [partition] = (await redis.hget(key, 'old'))!.split(':');
    await redis.hset(key, 'old', `${partition}:1000`);
    await store.touch('orders', await state(), [{ group: 'old', hash: groupHash('old'), partition: Number(partition) }]);
    const mapping = await admin.lookup('orders', BUCKETS, 'old', groupHash('old'));
    expect(Math.abs(mapping!.lastAccess.getTime() - Date.now())).toBeLessThan(120_000);
  });
});

describe('cleanup-bucket-3.lua', () => {
  it('removes only mappings idle beyond the TTL and decrements loads to match', async () => {
    const groups = Array.from({ length: 40 }, (_, i) => `c-${i}`);
    const partitions = new Map<string, number>();
    for (const g of groups) partitions.set(g, (await route(store, g, 4)).partition);
    const nowMinute = Math.floor(Number((await redis.time())[0]) / 60);
    const stale = groups.filter((_, i) => i % 3 === 0);
    for (const g of stale) {
      await redis.hset(keys('orders').bucket(bucketOf(groupHash(g), BUCKETS)), g, `${partitions.get(g)}:${nowMinute - 61}`);
    }
    // Exactly at the cutoff survives: idle for 60 minutes with a 60-minute TTL is not yet "longer than".
    await redis.hset(keys('orders').bucket(bucketOf(groupHash('c-1'), BUCKETS)), 'c-1', `${partitions.get('c-1')}:${nowMinute - 60}`);

    const removed = await store.cleanupBuckets('orders', 0, BUCKETS, 60);
    expect(removed.map((r) => r.group).sort()).toEqual([...stale].sort());
    for (const r of removed) expect(r.partition, r.group).toBe(partitions.get(r.group));
    for (const g of groups) {
      const mapping = await admin.lookup('orders', BUCKETS, g, groupHash(g));
      if (stale.includes(g)) expect(mapping, g).toBeUndefined();
      else expect(mapping?.partition, g).toBe(partitions.get(g));
    }
    const expectedLoads = [0, 0, 0, 0];
    for (const g of groups) if (!stale.includes(g)) expectedLoads[partitions.get(g)!]!++;
    expect(await store.loads('orders', 4)).toEqual(expectedLoads);
  });

  it('drops the unlogged mark of a mapping it removes, and keeps the mark of one still in use', async () => {
    // Route log on, appends never made: both mappings stay listed unlogged in the meta hash.
    const idle = await route(store, 'idle', 4, 'orders', true);
    const busy = await route(store, 'busy', 4, 'orders', true);
    expect([idle.unlogged, busy.unlogged]).toEqual([true, true]);
    const nowMinute = Math.floor(Number((await redis.time())[0]) / 60);
    await redis.hset(keys('orders').bucket(bucketOf(groupHash('idle'), BUCKETS)), 'idle', `${idle.partition}:${nowMinute - 61}`);

    expect(await store.cleanupBuckets('orders', 0, BUCKETS, 60)).toEqual([{ group: 'idle', partition: idle.partition }]);
    expect(await redis.hget(keys('orders').meta, 'unlogged:idle')).toBeNull();
    expect(await redis.hget(keys('orders').meta, 'unlogged:busy')).toBe(String(busy.partition));
    // The group coming back is a new mapping, listed unlogged again until its append.
    expect(await route(store, 'idle', 4, 'orders', true)).toMatchObject({ created: true, unlogged: true });
  });

  it('says what a refused bucket means, as for one command (StoreRefusedError, not a raw reply)', async () => {
    // A bucket key of the wrong type: Redis refuses that one script of the pipeline with WRONGTYPE.
    await redis.set(keys('orders').bucket(3), 'not a hash');
    await expect(store.cleanupBuckets('orders', 0, BUCKETS, 60)).rejects.toBeInstanceOf(StoreRefusedError);
  });

  it('lets only one replica take the cleanup turn', async () => {
    const connections = Array.from({ length: 5 }, () => connectRedis());
    try {
      const stores = connections.map((c) => new RouterStore(new RedisGateway(c), prefix));
      const turns = await Promise.all(stores.map((s, i) => s.tryTakeCleanupTurn(`replica-${i}`, 5000)));
      expect(turns.filter(Boolean)).toHaveLength(1);
    } finally {
      await Promise.all(connections.map((c) => c.quit()));
    }
  });
});
