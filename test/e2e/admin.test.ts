import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import type { SidecarOptions } from '../../src/config/options.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { startSidecar, type RunningSidecar } from '../../src/sidecar.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { connectRedis } from '../support/redis.ts';
import { testOptions } from '../support/sidecar.ts';
import { encodeCursor } from '../../src/admin/list-cursor.ts';
import { adminCall, dropPrefix, makeIdle, mappingGeneration, produceGroups } from './admin-fixture.ts';
import { topicKeys } from '../../src/redis/keys.ts';
import { bucketOf, groupHash } from '../../src/routing/hashing.ts';

const TOKEN = 'test-admin-token';
const { admin } = useKafkaAdmin();
let redis: RedisClient;
let options: SidecarOptions;
/** a and b share one Redis prefix (two replicas); c is a replica of the same fleet with ADMIN_TOKEN set. */
let a: RunningSidecar, b: RunningSidecar, c: RunningSidecar;

beforeAll(async () => {
  redis = connectRedis();
  // 16 buckets: pages end inside buckets; 100 ms flushes: a move waits ~0.3 s; 1 min: the shortest idle allowed.
  options = testOptions({ routerBuckets: 16, touchFlushIntervalMs: 100, moveMinIdleMs: 60_000 });
  const log = createLogger('warn', { test: true });
  [a, b, c] = await Promise.all([startSidecar(options, log), startSidecar(options, log), startSidecar({ ...options, adminToken: TOKEN }, log)]);
});

afterAll(async () => {
  await Promise.all([a, b, c].filter(Boolean).map((s) => s.close()));
  if (options) await dropPrefix(redis, options.redisPrefix);
  redis?.disconnect();
});

const groupPath = (topic: string, group: string) => `/topics/${topic}/groups/${encodeURIComponent(group)}`;

describe('admin: query', () => {
  it('gets one mapping, 404 for an unknown group, 400 for a bad topic name', async () => {
    const topic = await createTopic(admin, 3);
    const placed = await produceGroups(a.url, topic, ['user/1 with spaces', 'user-2']);
    const got = await adminCall(a.url, 'GET', groupPath(topic, 'user/1 with spaces'));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ topic, group: 'user/1 with spaces', partition: placed.get('user/1 with spaces') });
    expect(Date.now() - Date.parse(got.body.last_access)).toBeLessThan(2 * 60_000);
    expect((await adminCall(a.url, 'GET', groupPath(topic, 'nobody'))).body.error.code).toBe('NOT_FOUND');
    const bad = await adminCall(a.url, 'GET', groupPath('bad topic!', 'x'));
    expect([bad.status, bad.body.error.field]).toEqual([400, 'topic']);
    expect((await adminCall(a.url, 'GET', '/topics')).body.topics).toContain(topic);
  });

  it('lists every group exactly once over cursor pages, and validates limit and cursor', async () => {
    const topic = await createTopic(admin, 4);
    const groups = Array.from({ length: 250 }, (_, i) => `g-${i}`);
    const placed = await produceGroups(a.url, topic, groups);
    for (const limit of [7, 100, 1000]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await adminCall(a.url, 'GET', `/topics/${topic}/groups${query}`);
        expect(page.status).toBe(200);
        expect(page.body.groups.length).toBeLessThanOrEqual(limit);
        for (const g of page.body.groups) {
          expect(g.partition).toBe(placed.get(g.group));
          seen.push(g.group);
        }
        cursor = page.body.next_cursor;
        pages++;
      } while (cursor !== null);
      expect(seen.length, `limit ${limit}`).toBe(groups.length);
      expect(new Set(seen)).toEqual(new Set(groups));
      if (limit === 7) expect(pages).toBeGreaterThanOrEqual(36);
    }
    // A well-formed cursor whose HSCAN part is past 64 bits: Redis would refuse it with an error reply.
    const overflow = encodeCursor({ bucket: 0, scan: '99999999999999999999' });
    for (const query of ['?limit=0', '?limit=1001', '?limit=x', '?cursor=not-a-cursor', `?cursor=${overflow}`]) {
      expect((await adminCall(a.url, 'GET', `/topics/${topic}/groups${query}`)).status, query).toBe(400);
    }
    const none = await adminCall(a.url, 'GET', `/topics/never-used-topic/groups`);
    expect(none.body).toEqual({ groups: [], next_cursor: null });
  });

  it('lists by name prefix over pages, glob characters taken literally, and validates the prefix', async () => {
    const topic = await createTopic(admin, 2);
    const groups = ['a*1', 'a*2', 'ab', 'a?', 'a[x]', 'b*1', ...Array.from({ length: 20 }, (_, i) => `a*-${i}`)];
    await produceGroups(a.url, topic, groups);
    const listed = async (prefix: string): Promise<string[]> => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `?limit=3&prefix=${encodeURIComponent(prefix)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await adminCall(a.url, 'GET', `/topics/${topic}/groups${query}`);
        expect(page.status).toBe(200);
        expect(page.body.groups.length).toBeLessThanOrEqual(3);
        seen.push(...page.body.groups.map((g: { group: string }) => g.group));
        cursor = page.body.next_cursor;
      } while (cursor !== null);
      return seen.toSorted();
    };
    expect(await listed('a*')).toEqual(groups.filter((g) => g.startsWith('a*')).toSorted());
    expect(await listed('a?')).toEqual(['a?']);
    expect(await listed('a[')).toEqual(['a[x]']);
    expect(await listed('')).toEqual(groups.toSorted());
    expect(await listed('zzz')).toEqual([]);
    const tooLong = await adminCall(a.url, 'GET', `/topics/${topic}/groups?prefix=${'x'.repeat(129)}`);
    expect([tooLong.status, tooLong.body.error.field]).toEqual([400, 'prefix']);
  });

  it('reports loads for every partition (empty ones included) with max-min and deviation', async () => {
    const topic = await createTopic(admin, 3);
    await produceGroups(a.url, topic, ['only']);
    const loads = await adminCall(a.url, 'GET', `/topics/${topic}/loads`);
    expect(loads.status).toBe(200);
    expect(loads.body.partitions.map((p: { groups: number }) => p.groups).sort()).toEqual([0, 0, 1]);
    expect(loads.body).toMatchObject({ topic, total: 1, max_minus_min: 1, deviation: 3 });
    expect((await adminCall(a.url, 'GET', '/topics/no-such-topic-anywhere/loads')).body.error.code).toBe('UNKNOWN_TOPIC');
  });
});

describe('admin: release', () => {
  it('refuses a recently used group, releases an idle one and decrements its load', async () => {
    const topic = await createTopic(admin, 3);
    const partition = (await produceGroups(a.url, topic, ['busy'])).get('busy')!;
    const refused = await adminCall(a.url, 'DELETE', groupPath(topic, 'busy'));
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'CONFLICT', retriable: false });
    expect(refused.body.error.message).toMatch(/used too recently/);
    expect(Date.parse(refused.body.error.last_access)).toBeGreaterThan(Date.now() - 2 * 60_000);

    await makeIdle(redis, options.redisPrefix, topic, 'busy');
    const released = await adminCall(a.url, 'DELETE', groupPath(topic, 'busy'));
    expect(released.status, JSON.stringify(released.body)).toBe(200);
    expect(released.body).toMatchObject({ topic, group: 'busy', previous_partition: partition, partition: null, released: true });
    expect((await adminCall(a.url, 'GET', groupPath(topic, 'busy'))).status).toBe(404);
    expect((await adminCall(a.url, 'GET', `/topics/${topic}/loads`)).body.total).toBe(0);
    expect((await adminCall(a.url, 'DELETE', groupPath(topic, 'busy'))).status).toBe(404);
  });
});

describe('admin: move', () => {
  it('refuses an unsafe move: same or missing partition, bad body, recent use', async () => {
    const topic = await createTopic(admin, 3);
    const from = (await produceGroups(a.url, topic, ['m'])).get('m')!;
    const move = (body: unknown) => adminCall(a.url, 'POST', `${groupPath(topic, 'm')}/move`, { body });
    const same = await move({ partition: from });
    expect([same.status, same.body.error.message]).toEqual([409, `group "m" is already mapped to partition ${from}`]);
    const missing = await move({ partition: 3 });
    expect([missing.status, missing.body.error.message]).toEqual([409, `partition 3 does not exist: topic "${topic}" has 3 partitions (0-2)`]);
    for (const body of [{ partition: -1 }, { partition: 'x' }, { partition: 1, extra: 1 }, []])
      expect((await move(body)).status, JSON.stringify(body)).toBe(400);
    const bigMove = await move({ partition: 1, pad: 'x'.repeat(2000) });
    expect([bigMove.status, bigMove.body.error.message]).toEqual([413, 'body: a move body is {"partition": N}, at most 1024 bytes']);
    // A retry or skip body has its own limit and its own words (no subscriptions here: the size is checked first).
    const bigRetry = await adminCall(a.url, 'POST', '/subscriptions/any/blocked/retry', { body: { partition: 0, message_group: 'x'.repeat(5000) } });
    expect([bigRetry.status, bigRetry.body.error.message]).toEqual([
      413,
      'body: a retry or skip body is {"partition": N, "message_group": "..."}, at most 4096 bytes',
    ]);
    const busy = await move({ partition: (from + 1) % 3 });
    expect([busy.status, busy.body.error.code]).toEqual([409, 'CONFLICT']);
    expect((await adminCall(a.url, 'GET', groupPath(topic, 'm'))).body.partition).toBe(from);
  });

  it('refuses when the group is used while the move waits for replicas', async () => {
    const topic = await createTopic(admin, 3);
    const from = (await produceGroups(b.url, topic, ['racy'])).get('racy')!;
    await makeIdle(redis, options.redisPrefix, topic, 'racy');
    const before = await mappingGeneration(redis, options.redisPrefix, topic);
    const moving = adminCall(a.url, 'POST', `${groupPath(topic, 'racy')}/move`, { body: { partition: (from + 1) % 3 } });
    // The move passed its dry run and bumped the generation: it now waits for the replicas.
    await vi.waitUntil(async () => (await mappingGeneration(redis, options.redisPrefix, topic)) !== before, { timeout: 10_000, interval: 5 });
    expect((await produceGroups(b.url, topic, ['racy'], 'during')).get('racy')).toBe(from);
    const refused = await moving;
    expect([refused.status, refused.body.error?.code]).toEqual([409, 'CONFLICT']);
    expect((await adminCall(a.url, 'GET', groupPath(topic, 'racy'))).body.partition).toBe(from);
  });

  it('moves an idle group; a replica that had it cached sends its next messages to the new partition', async () => {
    const topic = await createTopic(admin, 3);
    const from = (await produceGroups(a.url, topic, ['mover'])).get('mover')!;
    // b now holds the route in its local cache; without the generation bump it would keep using it.
    expect((await produceGroups(b.url, topic, ['mover'], 'before')).get('mover')).toBe(from);
    await makeIdle(redis, options.redisPrefix, topic, 'mover');
    const to = (from + 1) % 3;
    const before = await admin.fetchTopicOffsets(topic);
    const moved = await adminCall(a.url, 'POST', `${groupPath(topic, 'mover')}/move`, { body: { partition: to } });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({ topic, group: 'mover', previous_partition: from, partition: to, released: false });
    expect((await adminCall(a.url, 'GET', groupPath(topic, 'mover'))).body.partition).toBe(to);
    const loads = (await adminCall(a.url, 'GET', `/topics/${topic}/loads`)).body.partitions.map((p: { groups: number }) => p.groups);
    expect(loads[to]).toBe(1);
    expect(loads[from]).toBe(0);

    expect((await produceGroups(b.url, topic, ['mover'], 'after')).get('mover')).toBe(to);
    const after = await admin.fetchTopicOffsets(topic);
    const grew = (p: number) => Number(after.find((o) => o.partition === p)!.high) - Number(before.find((o) => o.partition === p)!.high);
    expect([grew(from), grew(to)]).toEqual([0, 1]);
  });
});

describe('admin: route log', () => {
  it('moves and releases go to the route log; rebuild puts back what Redis misses, resume lifts a hold', async () => {
    const topic = await createTopic(admin, 3);
    const placed = await produceGroups(a.url, topic, ['moved', 'released', 'kept']);
    for (const g of ['moved', 'released']) await makeIdle(redis, options.redisPrefix, topic, g);
    const to = (placed.get('moved')! + 1) % 3;
    expect((await adminCall(a.url, 'POST', `${groupPath(topic, 'moved')}/move`, { body: { partition: to } })).status).toBe(200);
    expect((await adminCall(a.url, 'DELETE', groupPath(topic, 'released'))).status).toBe(200);
    // A partial loss the epoch cannot see (a failover that lost some mappings): two mappings gone, loads to match.
    const keys = topicKeys(options.redisPrefix, topic);
    const buckets = Number(await redis.hget(keys.meta, 'buckets'));
    for (const [g, partition] of [
      ['moved', to],
      ['kept', placed.get('kept')!],
    ] as const) {
      await redis.hdel(keys.bucket(bucketOf(groupHash(g), buckets)), g);
      await redis.hincrby(keys.loads, String(partition), -1);
    }
    expect((await adminCall(a.url, 'GET', groupPath(topic, 'kept'))).status).toBe(404);
    const rebuilt = await adminCall(b.url, 'POST', `/topics/${topic}/rebuild`);
    expect([rebuilt.status, rebuilt.body]).toEqual([200, { topic, restored: 2 }]);
    expect((await adminCall(a.url, 'GET', groupPath(topic, 'moved'))).body.partition).toBe(to);
    expect((await adminCall(a.url, 'GET', groupPath(topic, 'kept'))).body.partition).toBe(placed.get('kept'));
    expect((await adminCall(a.url, 'GET', groupPath(topic, 'released'))).status).toBe(404);
    expect((await adminCall(a.url, 'GET', `/topics/${topic}/loads`)).body.total).toBe(2);
    // Nothing held: resume answers for a topic with state, 404 for one without.
    expect((await adminCall(a.url, 'POST', `/topics/${topic}/resume`)).body).toEqual({ topic, resumed: true });
    expect((await adminCall(a.url, 'POST', '/topics/never-used/resume')).status).toBe(404);
    expect((await adminCall(c.url, 'POST', `/topics/${topic}/rebuild`)).status, 'the admin token guards it').toBe(401);
  });

  it('refuses to rebuild a topic Kafka does not have, leaving Redis without a trace of it', async () => {
    const missing = `missing-${randomUUID()}`;
    const rebuilt = await adminCall(a.url, 'POST', `/topics/${missing}/rebuild`);
    expect([rebuilt.status, rebuilt.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC']);
    expect((await adminCall(a.url, 'GET', '/topics')).body.topics).not.toContain(missing);
    expect(await redis.exists(topicKeys(options.redisPrefix, missing).meta)).toBe(0);
  });
});

describe('admin: route log backfill', () => {
  it('writes mappings made before the log was on to it, a page at a time and idempotently, so a rebuild can restore them', async () => {
    // A replica of the same fleet that ran without the route log made these mappings.
    const unlogged = await startSidecar({ ...options, routeLog: false }, createLogger('warn', { test: true }));
    const topic = await createTopic(admin, 3);
    const groups = Array.from({ length: 1100 }, (_, i) => `pre-log-${i}`);
    const placed = new Map<string, number>();
    try {
      for (let from = 0; from < groups.length; from += 550)
        for (const [g, p] of await produceGroups(unlogged.url, topic, groups.slice(from, from + 550))) placed.set(g, p);
      expect((await adminCall(unlogged.url, 'POST', `/topics/${topic}/backfill`)).body.error.code, 'nothing to backfill to').toBe('CONFLICT');
    } finally {
      await unlogged.close();
    }
    const keys = topicKeys(options.redisPrefix, topic);
    const buckets = Number(await redis.hget(keys.meta, 'buckets'));
    const lose = async (lost: readonly string[]): Promise<void> => {
      for (const g of lost) {
        expect(await redis.hdel(keys.bucket(bucketOf(groupHash(g), buckets)), g)).toBe(1);
        await redis.hincrby(keys.loads, String(placed.get(g)!), -1);
      }
    };
    // Before the backfill the log does not know them: a rebuild after a partial loss restores nothing.
    await lose(['pre-log-0']);
    expect((await adminCall(a.url, 'POST', `/topics/${topic}/rebuild`)).body).toEqual({ topic, restored: 0 });
    expect((await adminCall(a.url, 'POST', `/topics/${topic}/backfill`)).body).toEqual({ topic, logged: groups.length - 1 });
    // Repeating it writes the same records again, nothing else.
    expect((await adminCall(b.url, 'POST', `/topics/${topic}/backfill`)).body).toEqual({ topic, logged: groups.length - 1 });
    const lost = ['pre-log-1', 'pre-log-500', 'pre-log-1099'];
    await lose(lost);
    expect((await adminCall(b.url, 'POST', `/topics/${topic}/rebuild`)).body).toEqual({ topic, restored: lost.length });
    for (const g of lost) expect((await adminCall(a.url, 'GET', groupPath(topic, g))).body.partition).toBe(placed.get(g));
    expect((await adminCall(a.url, 'GET', `/topics/${topic}/loads`)).body.total).toBe(groups.length - 1);
    expect((await adminCall(a.url, 'POST', '/topics/never-used/backfill')).status).toBe(404);
    expect((await adminCall(c.url, 'POST', `/topics/${topic}/backfill`)).status, 'the admin token guards it').toBe(401);
  }, 60_000);
});

describe('admin: auth', () => {
  it('answers 401 without or with a wrong bearer token when ADMIN_TOKEN is set', async () => {
    const none = await adminCall(c.url, 'GET', '/topics');
    expect([none.status, none.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await adminCall(c.url, 'GET', '/topics', { token: 'wrong' })).status).toBe(401);
    expect((await adminCall(c.url, 'GET', '/topics', { token: `${TOKEN}x` })).status).toBe(401);
    expect((await adminCall(c.url, 'GET', '/topics', { token: TOKEN })).status).toBe(200);
    // The produce API is not behind the admin token.
    expect((await fetch(`${c.url}/v1/api-versions`)).status).toBe(200);
  });
});
