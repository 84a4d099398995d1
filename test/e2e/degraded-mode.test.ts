import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { bucketOf, groupHash, hashedPartition } from '../../src/routing/hashing.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { startSidecar, type RunningSidecar } from '../../src/sidecar.ts';
import { topicKeys } from '../../src/redis/keys.ts';
import { useKafkaAdmin, consumeAll, createTopic, recordCount } from '../support/kafka.ts';
import { postJson } from '../support/http.ts';
import { OwnRedis } from '../support/own-redis.ts';
import { freePort } from '../support/ports.ts';
import { recordContract } from '../support/openapi-contract.ts';
import { eventually } from '../support/eventually.ts';
import { startTestSidecar, testOptions, waitUntilReady } from '../support/sidecar.ts';

const { kafka, admin } = useKafkaAdmin();
let redis: OwnRedis;
let sidecar: RunningSidecar;

beforeAll(async () => {
  // Persistent, as a production Redis holding the mappings must be: a restart keeps them (docs/operations.md).
  redis = new OwnRedis(await freePort(), { persistent: true });
  await redis.start();
  sidecar = await startTestSidecar({ redisUrl: redis.url, redisPrefix: 'degraded', degradedRouting: 'hash' });
});

afterAll(async () => {
  await sidecar?.close();
  await redis?.destroy();
});

const produce = (topic: string, groups: string[], value: string) =>
  postJson(`${sidecar.url}/v1/ordered-produce`, {
    topic,
    messages: groups.map((g) => ({ message_group: g, value: `${g}:${value}`, dedup_id: `${g}:${value}` })),
  });

describe('Redis unreachable, with DEGRADED_ROUTING=hash', () => {
  it('keeps routing known groups where they were and new groups by consistent hashing, then records them', async () => {
    const PARTITIONS = 5;
    const topic = await createTopic(admin, PARTITIONS);
    const known = ['known-1', 'known-2', 'known-3'];
    const before = await produce(topic, known, 'a');
    expect(before.status).toBe(200);

    await redis.stop();
    const fresh = ['fresh-1', 'fresh-2', 'fresh-3', 'fresh-4'];
    const during = await produce(topic, [...known, ...fresh], 'b');
    expect(during.status).toBe(200);
    expect(during.body.dedup_unavailable).toBe(true);
    known.forEach((_, i) => expect(during.body.results[i]).toMatchObject({ partition: (before.body.results[i] as { partition: number }).partition }));
    fresh.forEach((g, i) => expect(during.body.results[known.length + i]).toMatchObject({ partition: hashedPartition(groupHash(g), PARTITIONS) }));

    const ready = (await (await fetch(`${sidecar.url}/readyz`)).json()) as { ready: boolean; degraded: boolean };
    expect(ready).toMatchObject({ ready: true, degraded: true });
    const metricsText = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metricsText).toMatch(/ordered_sidecar_degraded_mode 1/);
    // The fresh groups' messages are counted as routed without proof.
    expect(metricsText).toMatch(/ordered_sidecar_hash_routed_messages_total 4\b/);

    await redis.start();
    const check = new Redis(redis.url);
    try {
      await eventually('the router to leave degraded mode', () => !sidecar.router.degraded, 10_000, 100);
      // The fresh groups are now recorded in Redis at the partitions they were written to.
      const keys = topicKeys('degraded', topic);
      for (const [i, g] of fresh.entries()) {
        const value = await check.hget(keys.bucket(bucketOf(groupHash(g), 4096)), g);
        expect(value?.split(':')[0]).toBe(String((during.body.results[known.length + i] as { partition: number }).partition));
      }
    } finally {
      check.disconnect();
    }

    const after = await produce(topic, [...known, ...fresh], 'c');
    expect(after.status).toBe(200);
    expect(after.body.results.map((r) => (r as { partition: number }).partition)).toEqual(
      during.body.results.map((r) => (r as { partition: number }).partition),
    );

    const records = await consumeAll(kafka, admin, topic);
    for (const g of [...known, ...fresh]) {
      const mine = records.filter((r) => r.headers['message-group'] === g);
      expect(new Set(mine.map((r) => r.partition)).size, g).toBe(1);
    }
  });
});

describe('more new groups during an outage than hash mode keeps for recording', () => {
  it('keeps every one of them on the partition it used, after Redis returns', async () => {
    const PARTITIONS = 4;
    const topic = await createTopic(admin, PARTITIONS);
    // Cache of 500: degraded mode keeps 1,000 routes (its floor) for recording; the last 500 stay cached.
    const small = await startTestSidecar({ redisUrl: redis.url, redisPrefix: 'degraded-small', routeCacheSize: 500, degradedRouting: 'hash' });
    try {
      const send = (value: string) => postJson(`${small.url}/v1/ordered-produce`, { topic, messages: groups.map((g) => ({ message_group: g, value })) });
      const groups = Array.from({ length: 1200 }, (_, i) => `burst-${i}`);
      await postJson(`${small.url}/v1/ordered-produce`, { topic, messages: [{ message_group: 'warm-up', value: 'a' }] });
      await redis.stop();
      const during = await send('b');
      expect(during.status, JSON.stringify(during.body)).toBe(200);
      await redis.start();
      await eventually('the router to leave degraded mode', () => !small.router.degraded, 10_000, 100);
      const after = await send('c');
      expect(after.status).toBe(200);
      const partitions = (r: typeof during) => r.body.results.map((x) => (x as { partition: number }).partition);
      expect(partitions(after)).toEqual(partitions(during));
    } finally {
      await small.close();
    }
  });
});

describe('routes hashed during an outage, after Redis then loses its data', () => {
  it('come back from the route log where they were written', async () => {
    const PARTITIONS = 2;
    const topic = await createTopic(admin, PARTITIONS);
    const options = { redisUrl: redis.url, redisPrefix: 'degraded-log', degradedRouting: 'hash' } as const;
    const first = await startTestSidecar(options);
    let second: RunningSidecar | undefined;
    const send = (url: string, groups: string[], value: string) =>
      postJson(`${url}/v1/ordered-produce`, { topic, messages: groups.map((g) => ({ message_group: g, value })) });
    const partitions = (r: Awaited<ReturnType<typeof send>>) => r.body.results.map((x) => (x as { partition: number }).partition);
    try {
      const known = await send(first.url, ['known'], 'a');
      expect(known.status, JSON.stringify(known.body)).toBe(200);
      const [loaded] = partitions(known);
      // Groups whose hashed partition is the loaded one: a rebuild that did not know them would map them to the
      // other, least-loaded partition.
      const fresh = Array.from({ length: 200 }, (_, i) => `fresh-${i}`)
        .filter((g) => hashedPartition(groupHash(g), PARTITIONS) === loaded)
        .slice(0, 2);
      await redis.stop();
      const during = await send(first.url, fresh, 'b');
      expect(during.status, JSON.stringify(during.body)).toBe(200);
      expect(partitions(during)).toEqual([loaded, loaded]);
      await redis.start();
      await eventually('the router to leave degraded mode', () => !first.router.degraded, 10_000, 100);
      await first.close();

      // Redis loses the fleet's data; a sidecar started afresh (nothing cached) rebuilds the topic from the log.
      const wiper = new Redis(redis.url);
      try {
        const keys = await wiper.keys('degraded-log:*');
        expect(keys.length).toBeGreaterThan(0);
        await wiper.del(...keys);
      } finally {
        wiper.disconnect();
      }
      second = await startTestSidecar(options);
      const after = await send(second.url, ['known', ...fresh], 'c');
      expect(after.status, JSON.stringify(after.body)).toBe(200);
      expect(partitions(after)).toEqual([loaded, loaded, loaded]);
    } finally {
      await first.close();
      await second?.close();
    }
  });
});

describe('Redis unreachable, by default (DEGRADED_ROUTING=reject)', () => {
  it('serves only the routes it can prove, refuses the rest whole with a retriable 503, and has nothing to move afterwards', async () => {
    const PARTITIONS = 5;
    const topic = await createTopic(admin, PARTITIONS);
    // Every line, debug included, to check what an outage writes.
    const logs: Record<string, unknown>[] = [];
    const log = createLogger('debug', {}, (line) => void logs.push(JSON.parse(line) as Record<string, unknown>));
    const strict = await startSidecar(testOptions({ redisUrl: redis.url, redisPrefix: 'degraded-reject' }), log);
    await waitUntilReady(strict.url);
    const send = (groups: string[], value: string) =>
      postJson(`${strict.url}/v1/ordered-produce`, {
        topic,
        messages: groups.map((g) => ({ message_group: g, value: `${g}:${value}`, dedup_id: `${g}:${value}` })),
      });
    try {
      const known = ['known-1', 'known-2'];
      const before = await send(known, 'a');
      expect(before.status, JSON.stringify(before.body)).toBe(200);

      await redis.stop();
      const cached = await send(known, 'b');
      expect(cached.status).toBe(200);
      expect(cached.body.results.map((r) => (r as { partition: number }).partition)).toEqual(
        before.body.results.map((r) => (r as { partition: number }).partition),
      );

      // A request mixing a proven group and an unknown one is refused whole: nothing of it is written.
      const held = await recordCount(admin, topic);
      const mixed = await fetch(`${strict.url}/v1/ordered-produce`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          topic,
          messages: [
            { message_group: 'known-1', value: 'known-1:c' },
            { message_group: 'stranger', value: 'stranger:c' },
          ],
        }),
      });
      expect(mixed.status).toBe(503);
      expect(mixed.headers.get('retry-after')).toBe('1');
      expect(await mixed.json()).toMatchObject({ error: { code: 'ROUTING_UNAVAILABLE', retriable: true } });
      expect(await recordCount(admin, topic)).toBe(held);
      expect(strict.router.degraded).toBe(true);
      const metricsText = await (await fetch(`${strict.url}/metrics`)).text();
      expect(metricsText).toMatch(/ordered_sidecar_routing_failures_total\{reason="outage"\} 1\b/);
      expect(metricsText).toMatch(/ordered_sidecar_hash_routed_messages_total 0\b/);

      await redis.start();
      await eventually('the router to leave degraded mode', () => !strict.router.degraded, 10_000, 100);
      const after = await send([...known, 'stranger'], 'd');
      expect(after.status).toBe(200);
      expect(after.body.results.slice(0, 2)).toEqual(
        known.map((_, i) => expect.objectContaining({ partition: (before.body.results[i] as { partition: number }).partition })),
      );
      expect(await (await fetch(`${strict.url}/metrics`)).text()).toMatch(/ordered_sidecar_degraded_conflicts_total 0\b/);

      // The outage is logged as it begins and ends, with the refusal counted; the refused request at debug only.
      const refusals = logs.filter((l) => l.code === 'ROUTING_UNAVAILABLE');
      expect(refusals.map((l) => [l.level, l.msg])).toEqual([['debug', 'request rejected']]);
      expect(logs.filter((l) => String(l.msg).startsWith('Redis unreachable: routing in degraded mode')).map((l) => l.level)).toEqual(['error']);
      expect(logs.filter((l) => String(l.msg).startsWith('Redis reachable again'))).toEqual([
        expect.objectContaining({ level: 'info', refusedRequests: 1, refusedMessages: 2 }),
      ]);
    } finally {
      await strict.close();
    }
  });
});

describe('admin API while Redis is unreachable', () => {
  it('answers a retriable 503 on every admin route, logged without a line per call', async () => {
    const topic = await createTopic(admin, 2);
    const logs: Record<string, unknown>[] = [];
    const log = createLogger('debug', {}, (line) => void logs.push(JSON.parse(line) as Record<string, unknown>));
    const own = await startSidecar(testOptions({ redisUrl: redis.url, redisPrefix: 'degraded-admin' }), log);
    recordContract(own.server);
    try {
      expect((await postJson(`${own.url}/v1/ordered-produce`, { topic, messages: [{ message_group: 'adm', value: 'a' }] })).status).toBe(200);
      await redis.stop();
      const calls: [string, string][] = [
        ['GET', '/topics'],
        ['GET', `/topics/${topic}/loads`],
        ['GET', `/topics/${topic}/groups`],
        ['GET', `/topics/${topic}/groups/adm`],
        ['DELETE', `/topics/${topic}/groups/adm`],
      ];
      for (const [method, path] of calls) {
        const res = await fetch(`${own.url}/admin/v1${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(503);
        expect(await res.json(), `${method} ${path}`).toMatchObject({ error: { code: 'ROUTING_UNAVAILABLE', retriable: true } });
      }
      // The lost connection is logged once by the connection itself; the refused calls only at debug.
      expect(logs.filter((l) => l.msg === 'request failed')).toEqual([]);
      expect(logs.filter((l) => l.code === 'ROUTING_UNAVAILABLE').map((l) => l.level)).toEqual(calls.map(() => 'debug'));
    } finally {
      await redis.start();
      await own.close();
    }
  });
});
