import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import { groupHash } from '../../src/routing/hashing.ts';
import { connectRedis, isolatedStore } from '../support/redis.ts';

/** The admin script on its own, against real Redis: the idle arithmetic at the minute boundary and the CAS. */
let redis: RedisClient;
beforeAll(() => {
  redis = connectRedis();
});
afterAll(() => redis?.disconnect());

describe('admin-reassign-2.lua', () => {
  it('counts idleness from the end of the stamped minute, and applies only to the partition it was told', async () => {
    const { store, admin: adminStore, prefix, drop } = isolatedStore(redis);
    try {
      const hash = groupHash('g');
      const { partition } = await store.route('t', await store.registerTopic('t', 4), 'g', hash, 3, false);
      const check = (from: number, dryRun = true) =>
        adminStore.reassign('t', 4, { group: 'g', hash, from, to: (partition + 1) % 3, minIdleMs: 60_000, dryRun });
      const [seconds] = await redis.time();
      const nowMinute = Math.floor(Number(seconds) / 60);
      const bucket = `${prefix}:{t}:m:${hash % 4}`;
      // Stamped last minute: the use may have been a second ago.
      await redis.hset(bucket, 'g', `${partition}:${nowMinute - 1}`);
      expect((await check(partition)).status).toBe('busy');
      await redis.hset(bucket, 'g', `${partition}:${nowMinute - 2}`);
      expect((await check(partition)).status).toBe('ok');
      expect((await check((partition + 2) % 3)).status).toBe('changed');
      expect(await redis.hget(bucket, 'g')).toBe(`${partition}:${nowMinute - 2}`);
      const applied = await check(partition, false);
      expect([applied.status, applied.partition]).toEqual(['ok', partition]);
      expect(await redis.hget(bucket, 'g')).toBe(`${(partition + 1) % 3}:${nowMinute - 2}`);
      expect(await store.loads('t', 3)).toEqual([0, 1, 2].map((p) => (p === (partition + 1) % 3 ? 1 : 0)));
      expect((await adminStore.reassign('t', 4, { group: 'nobody', hash: groupHash('nobody'), from: 0, minIdleMs: 0, dryRun: false })).status).toBe('missing');
    } finally {
      await drop();
    }
  });
});
