import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DEFAULT_OPTIONS } from '../src/config/options.ts';
import { topicKeys } from '../src/redis/keys.ts';
import { RouterStore } from '../src/redis/router-store.ts';
import { RedisGateway } from '../src/redis/redis-gateway.ts';
import { RedisDedupStore } from '../src/redis/dedup-store.ts';
import { OrderedMessageRouter } from '../src/routing/router.ts';
import { assignGroups } from './support/assign.ts';
import { benchMetrics, benchPrefix, benchTopic, connectRedis, dropPrefix, orderGroup, quietLog } from './support/env.ts';
import { fmtInt, fmtNum, fmtPct, heading, note, table, verdict } from './support/format.ts';
import { fullGc, settledHeap } from './support/gc.ts';
import { usedMemory } from './support/redis-stats.ts';
import { rounded } from './support/summary.ts';
import type { SectionResult, TargetRow } from './support/targets.ts';

const GROUPS = 100_000;
const PARTITIONS = 12;
const TARGET_MB = 10;

interface KeyMemory {
  keys: number;
  bytes: number;
  buckets: number;
  encodings: Map<string, number>;
  largestBucket: number;
}

/** MEMORY USAGE (exact: SAMPLES 0) and OBJECT ENCODING of every key of one topic, found with SCAN. */
async function topicMemory(redis: Redis, prefix: string, topic: string): Promise<KeyMemory> {
  const result: KeyMemory = { keys: 0, bytes: 0, buckets: 0, encodings: new Map(), largestBucket: 0 };
  const bucketPrefix = topicKeys(prefix, topic).bucket(0).slice(0, -1);
  const stream = redis.scanStream({ match: `${prefix}:{${topic}}:*`, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>) {
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0).object('ENCODING', key).hlen(key);
    const replies = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const [bytes, encoding, length] = [0, 1, 2].map((o) => replies[3 * i + o]?.[1]);
      result.keys++;
      result.bytes += Number(bytes ?? 0);
      if (!key.startsWith(bucketPrefix)) return;
      result.buckets++;
      result.encodings.set(String(encoding), (result.encodings.get(String(encoding)) ?? 0) + 1);
      result.largestBucket = Math.max(result.largestBucket, Number(length));
    });
  }
  return result;
}

async function listpackLimit(redis: Redis): Promise<string> {
  try {
    const reply = (await redis.config('GET', 'hash-max-listpack-entries')) as string[];
    return reply[1] ?? '?';
  } catch {
    return '? (CONFIG not allowed)';
  }
}

/** Maps 100K groups into a fresh topic and measures it; the groups come from `name`. */
async function measure(
  redis: Redis,
  prefix: string,
  buckets: number,
  name: (i: number) => string,
): Promise<{ topic: string; memory: KeyMemory; usedDelta: number }> {
  const store = new RouterStore(new RedisGateway(redis), prefix);
  const topic = benchTopic(`mem${buckets}`);
  const before = await usedMemory(redis);
  await assignGroups(
    store,
    topic,
    buckets,
    PARTITIONS,
    Array.from({ length: GROUPS }, (_, i) => name(i)),
  );
  const usedDelta = (await usedMemory(redis)) - before;
  return { topic, memory: await topicMemory(redis, prefix, topic), usedDelta };
}

/** Heap held by the router's local cache (and by pending last-access touches) per 100K groups. */
async function cacheMemory(redis: Redis, prefix: string, topic: string): Promise<string[][]> {
  const gc = fullGc();
  const { routerBuckets, groupTtlMs, touchFlushIntervalMs } = DEFAULT_OPTIONS;
  const router = new OrderedMessageRouter(
    new RouterStore(new RedisGateway(redis), prefix),
    async () => PARTITIONS,
    { routerBuckets, routeCacheSize: GROUPS, groupTtlMs, touchFlushIntervalMs },
    benchMetrics(),
    quietLog(),
  );
  await router.route(topic, orderGroup(0)); // buckets known, script loaded
  const empty = settledHeap(gc);
  // Group names are built per call, as they arrive in request bodies: only what the router keeps stays alive.
  let next = 0;
  const fill = async (): Promise<void> => {
    while (next < GROUPS) await router.route(topic, orderGroup(next++));
  };
  await Promise.all(Array.from({ length: 256 }, fill));
  const filled = settledHeap(gc);
  for (let i = 0; i < GROUPS; i++) await router.route(topic, orderGroup(i)); // hits: a touch pending per group
  const touched = settledHeap(gc);
  // The cache holds every routed group: its capacity is GROUPS.
  const perEntry = (bytes: number): string => `${fmtNum(bytes / GROUPS, 0)} B`;
  const mb = (bytes: number): string => fmtNum(((bytes / GROUPS) * GROUPS) / 1e6, 1);
  return [
    ['route cache filled (100K routes)', fmtInt(GROUPS), mb(filled - empty), perEntry(filled - empty)],
    ['+ pending last-access touches (until the 1 s flush)', fmtInt(GROUPS), mb(touched - empty), perEntry(touched - empty)],
  ];
}

/** Redis bytes of the dedup window holding `count` settled UUID dedup_ids, as the sidecar records them. */
async function dedupMemory(redis: Redis, prefix: string, count: number): Promise<number> {
  const topic = benchTopic('dedup');
  const store = new RedisDedupStore(new RedisGateway(redis), prefix, DEFAULT_OPTIONS.dedupWindowMs);
  for (let i = 0; i < count; i += 500) {
    const ids = Array.from({ length: Math.min(500, count - i) }, () => randomUUID());
    const { sliceKey } = await store.claim(topic, ids, 'bench', DEFAULT_OPTIONS.dedupLeaseMs);
    await store.settle(
      topic,
      ids.map((id, k) => ({ id, partition: k % PARTITIONS, offset: String(1_000_000 + i + k), sliceKey })),
    );
  }
  return (await topicMemory(redis, prefix, topic)).bytes;
}

export async function benchRedisMemory(quick: boolean): Promise<SectionResult> {
  heading(`3. Memory per ${fmtInt(GROUPS)} MessageGroups (${PARTITIONS} partitions)`);
  const redis = connectRedis();
  const prefix = benchPrefix();
  const configs: { label: string; buckets: number; name: (i: number) => string }[] = [
    { label: '16-byte names ("order-0000000042")', buckets: 4096, name: orderGroup },
    { label: '16-byte names', buckets: 1024, name: orderGroup },
  ];
  if (!quick) configs.push({ label: '36-byte names (UUIDs)', buckets: 4096, name: () => randomUUID() });
  try {
    const rows: string[][] = [];
    const targets: TargetRow[] = [];
    let defaultTopic = '';
    let bytesPerGroup: number | undefined;
    for (const config of configs) {
      const { topic, memory, usedDelta } = await measure(redis, prefix, config.buckets, config.name);
      if (config.buckets === DEFAULT_OPTIONS.routerBuckets && !defaultTopic) {
        defaultTopic = topic;
        bytesPerGroup = memory.bytes / GROUPS; // the summary's figure: default buckets, 16-byte names
      }
      const mb = memory.bytes / 1e6;
      const listpack = memory.encodings.get('listpack') ?? 0;
      const encodings = [...memory.encodings].map(([e, n]) => `${e} ${fmtInt(n)}`).join(', ');
      rows.push([
        config.label,
        fmtInt(config.buckets),
        fmtInt(memory.keys),
        fmtNum(mb, 2),
        `${fmtNum(memory.bytes / GROUPS, 1)} B`,
        fmtNum(usedDelta / 1e6, 2),
        `${fmtPct(listpack / memory.buckets, 0)} (${encodings}); largest ${memory.largestBucket}`,
        verdict(mb, TARGET_MB),
      ]);
      targets.push({
        figure: `Redis per 100K groups, ${config.buckets} buckets, ${config.label.split(' (')[0]}`,
        target: '~10 MB',
        measured: `${fmtNum(mb, 2)} MB`,
        verdict: verdict(mb, TARGET_MB),
      });
    }
    table(['group names', 'buckets', 'keys', 'MB (MEMORY USAGE sum)', 'per group', 'MB (used_memory delta)', 'listpack buckets', 'vs 10 MB'], rows);
    note(
      `MB = 10^6 bytes. Buckets stay listpack-encoded while they hold at most hash-max-listpack-entries = ${await listpackLimit(redis)} mappings of <= 64-byte names and values.`,
    );
    note('used_memory delta is for the whole shared Redis (other clients, allocator slack); the MEMORY USAGE sum counts only our keys.');

    console.log('');
    const dedupBytes = await dedupMemory(redis, prefix, GROUPS);
    table(
      ['dedup window (settled dedup_ids)', 'ids', 'MB', 'per id'],
      [['UUID ids, 5 min window', fmtInt(GROUPS), fmtNum(dedupBytes / 1e6, 2), `${fmtNum(dedupBytes / GROUPS, 1)} B`]],
    );
    note('a fleet writing R messages/s with dedup_ids holds about R x 300 s of them; no target for it, listed for capacity planning.');

    console.log('');
    const cacheRows = await cacheMemory(redis, prefix, defaultTopic);
    table(['sidecar heap (V8, after full GC)', 'entries', 'MB per 100K', 'per entry'], cacheRows);
    note(`default routeCacheSize = ${fmtInt(DEFAULT_OPTIONS.routeCacheSize)}; entries are keyed by topic then group name, so longer group names cost more.`);
    return { targets, figures: { redis_bytes_per_group: rounded(bytesPerGroup, 1) } };
  } finally {
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}
