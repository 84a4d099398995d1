import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/logging/logger.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';
import type { RouterStore } from '../../src/redis/router-store.ts';
import { STATE_FORMAT } from '../../src/redis/state-format.ts';
import { bucketOf, groupHash } from '../../src/routing/hashing.ts';
import { OrderedMessageRouter } from '../../src/routing/router.ts';
import { connectRedis, isolatedStore, type IsolatedStore } from '../support/redis.ts';

interface Fixture {
  hashes: Record<string, Record<string, string>>;
  sets: Record<string, string[]>;
  mapped: Record<string, number>;
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/router-state-format-1.json', import.meta.url), 'utf8')) as Fixture;
const BUCKETS = 16;
const TOPIC = 'legacy';

let redis: RedisClient;
let store: RouterStore;
let keys: IsolatedStore['keys'];
let prefix: string;
let drop: () => Promise<void>;

beforeEach(() => {
  redis = connectRedis();
  ({ store, prefix, keys, drop } = isolatedStore(redis));
});
afterEach(async () => {
  await drop();
  await redis.quit();
});

/** Writes the fixture's keys under this test's prefix, as a sidecar of an earlier release left them. */
async function loadFixture(): Promise<void> {
  const minute = String(Math.floor(Number((await redis.time())[0]) / 60));
  const fill = (text: string) =>
    text
      .replaceAll('{p}', prefix)
      .replaceAll('{t}', TOPIC)
      .replaceAll('{minute}', minute)
      .replace(/\{bucket:([^}]+)\}/g, (_, g: string) => String(bucketOf(groupHash(g), BUCKETS)));
  for (const [key, fields] of Object.entries(fixture.hashes)) {
    await redis.hset(fill(key), Object.fromEntries(Object.entries(fields).map(([f, v]) => [fill(f), fill(v)])));
  }
  for (const [key, members] of Object.entries(fixture.sets)) await redis.sadd(fill(key), ...members.map(fill));
}

const newRouter = (configuredBuckets = 4096) =>
  new OrderedMessageRouter(
    store,
    async () => 4,
    { routerBuckets: configuredBuckets, routeCacheSize: 100, groupTtlMs: 60 * 60_000, touchFlushIntervalMs: 1000 },
    new SidecarMetrics(new Registry(), { defaultMetrics: false }),
    createLogger('error'),
  );

describe('router state format', () => {
  it('reads the layout of earlier releases (format 1, unmarked) and marks it', async () => {
    await loadFixture();
    const router = newRouter();
    for (const [group, partition] of Object.entries(fixture.mapped)) expect(await router.route(TOPIC, group)).toBe(partition);
    expect(await store.loads(TOPIC, 4)).toEqual([1, 0, 2, 0]);
    expect(await redis.hget(keys(TOPIC).meta, 'format')).toBe(String(STATE_FORMAT));
    // A new group still goes to a least-loaded partition, counted in the loads it found.
    expect([1, 3]).toContain(await router.route(TOPIC, 'dave'));
    await router.stop();
  });

  it('refuses, with one clear error and without writing, a format newer than it reads', async () => {
    await redis.hset(keys(TOPIC).meta, { buckets: '16', format: String(STATE_FORMAT + 1) });
    const router = newRouter();
    await expect(router.route(TOPIC, 'erin')).rejects.toMatchObject({
      code: 'STATE_FORMAT_UNSUPPORTED',
      status: 503,
      message: expect.stringContaining(`is format ${STATE_FORMAT + 1}, newer than this sidecar reads`),
    });
    expect(await redis.smembers(`${prefix}:topics`)).toEqual([]);
    expect(await redis.hgetall(keys(TOPIC).loads)).toEqual({});
    await expect(store.bucketCount(TOPIC)).rejects.toMatchObject({ code: 'STATE_FORMAT_UNSUPPORTED' });
    await router.stop();
  });
});
