import { randomUUID } from 'node:crypto';
import { Admin as PlatformaticAdmin } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaEngine, createLogTopicClient } from '../../src/kafka/create-engine.ts';
import { platformaticSecurity } from '../../src/kafka/kafka-security.ts';
import { SidecarError } from '../../src/errors/sidecar-error.ts';
import { KafkaRouteLog, MIN_COMPACTION_LAG_MS, ROUTE_LOG_PARTITIONS, topicProblems } from '../../src/kafka/kafka-route-log.ts';
import type { KafkaEngine } from '../../src/kafka/kafka-engine.ts';
import { PartitionWriter } from '../../src/writer/partition-writer.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';
import { Registry } from 'prom-client';
import type { RouteLogEntry } from '../../src/routing/route-log.ts';
import { useKafkaAdmin, consumeToEnd, testConnection } from '../support/kafka.ts';
import { testKafkaClient } from '../support/sidecar.ts';

/** The route log against real Kafka, written and read back through the engine under test (KAFKA_CLIENT) and its client library. */

const log = createLogger('error', { test: true });
const { kafka, admin } = useKafkaAdmin();
let engine: KafkaEngine;
const logs: KafkaRouteLog[] = [];

beforeAll(async () => {
  engine = await createKafkaEngine(testKafkaClient(), testConnection('route-log-test'), { writeTimeoutMs: 10_000, compression: 'none' }, log);
  await engine.connect();
});

afterAll(async () => {
  await Promise.all(logs.map((l) => l.close()));
  await engine?.close();
});

async function routeLog(topic: string, prefix = `p-${randomUUID().slice(0, 8)}`, readTimeoutMs = 15_000, logger = log): Promise<KafkaRouteLog> {
  const writer = new PartitionWriter(
    engine,
    { maxBatchMessages: 1000, maxBatchBytes: 900 * 1024, maxQueueWaitMs: 10_000 },
    new SidecarMetrics(new Registry(), { defaultMetrics: false }),
  );
  const created = new KafkaRouteLog(
    writer,
    await createLogTopicClient(testKafkaClient(), testConnection('route-log-test'), logger),
    (t) => engine.partitionCount(t),
    {
      topic,
      prefix,
      replicationFactor: undefined,
      readTimeoutMs,
    },
    logger,
  );
  logs.push(created);
  return created;
}

const entry = (topic: string, group: string, partition: number | null): RouteLogEntry => ({ topic, group, partition, buckets: 64 });

describe(`the route log in Kafka (${testKafkaClient()} engine)`, () => {
  it('creates its compacted topic, and reads back the latest live mapping of each group of one topic of one fleet', async () => {
    const topic = `routes-${randomUUID().slice(0, 8)}`;
    const fleet = await routeLog(topic, 'fleet-a');
    const other = await routeLog(topic, 'fleet-b');
    await fleet.append([entry('orders', 'g1', 1), entry('orders', 'g2', 2), entry('payments', 'g1', 5)]);
    await fleet.append([entry('orders', 'g1', 3), entry('orders', 'g2', null), entry('orders', 'g3', 0)]);
    await other.append([entry('orders', 'g9', 4)]);
    const configs = await admin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ['cleanup.policy'] }], includeSynonyms: false });
    expect(configs.resources[0]!.configEntries.find((c) => c.configName === 'cleanup.policy')?.configValue).toBe('compact');
    expect(await fleet.read('orders')).toEqual({
      routes: new Map([
        ['g1', 3],
        ['g3', 0],
      ]),
      buckets: 64,
    });
    expect(await fleet.read('payments')).toEqual({ routes: new Map([['g1', 5]]), buckets: 64 });
    expect(await other.read('orders')).toEqual({ routes: new Map([['g9', 4]]), buckets: 64 });
    expect(await fleet.read('never-used')).toEqual({ routes: new Map(), buckets: undefined });
  });

  it('skips records it did not write (someone produced to its topic): the rebuild still reads every route', async () => {
    const topic = `routes-${randomUUID().slice(0, 8)}`;
    const fleet = await routeLog(topic, 'fleet-a');
    await fleet.append([entry('orders', 'g1', 1), entry('orders', 'g2', 2)]);
    const producer = kafka.producer();
    await producer.connect();
    try {
      const garbage = [
        { key: 'not json', value: 'x' },
        { key: '["fleet-a","orders"]', value: '{"partition":1,"buckets":64}' },
        { key: JSON.stringify(['fleet-a', 'orders', 'g1']), value: 'not json' },
        { key: JSON.stringify(['fleet-a', 'orders', 'g2']), value: '{"partition":-1,"buckets":64}' },
      ];
      // Into every partition of the log, so the one holding these routes has them too (keyed: the topic is compacted).
      const messages = Array.from({ length: ROUTE_LOG_PARTITIONS }, (_, partition) => garbage.map((m) => ({ ...m, partition }))).flat();
      await producer.send({ topic, messages });
    } finally {
      await producer.disconnect();
    }
    await fleet.append([entry('orders', 'g3', 0)]);
    expect(await fleet.read('orders')).toEqual({
      routes: new Map([
        ['g1', 1],
        ['g2', 2],
        ['g3', 0],
      ]),
      buckets: 64,
    });
  });

  it('creates its topic served: right after, every partition answers its leader at the first ask', async () => {
    // Metadata names a new partition's leader before the broker serves it (NOT_LEADER_OR_FOLLOWER in between), and
    // the first new group reads the log right after creating it: waiting only for leaders made it wait a retry.
    const topic = `routes-new-${randomUUID().slice(0, 8)}`;
    const connection = testConnection('route-log-test');
    const client = await createLogTopicClient(testKafkaClient(), connection, log);
    const probe = new PlatformaticAdmin({
      clientId: 'route-log-probe',
      bootstrapBrokers: connection.brokers,
      ...platformaticSecurity(connection),
      retries: 0,
    });
    try {
      await client.createTopic({ topic, partitions: ROUTE_LOG_PARTITIONS, replicationFactor: undefined, config: {} });
      const partitions = Array.from({ length: ROUTE_LOG_PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));
      const [listed] = await probe.listOffsets({ topics: [{ name: topic, partitions }] });
      expect(listed?.partitions.map((p) => p.offset)).toEqual(partitions.map(() => 0n));
    } finally {
      await Promise.all([probe.close(), client.close()]);
    }
  });

  it('a read that cannot reach the end within its deadline fails at the deadline with a retriable ROUTE_LOG_UNAVAILABLE; a later read gets everything', async () => {
    const topic = `routes-deadline-${randomUUID().slice(0, 8)}`;
    const writer = await routeLog(topic, 'fleet');
    const groups = Array.from({ length: 3000 }, (_, i) => `g${i}`);
    for (let from = 0; from < groups.length; from += 500) await writer.append(groups.slice(from, from + 500).map((g, i) => entry('orders', g, i % 6)));
    // The same log read by a replica whose deadline is shorter than reading 3000 routes takes: 1 ms cannot hold the
    // read's round trips (offsets, metadata, fetches), and the deadline's timer runs between them. (5 ms once did.)
    const hurried = await routeLog(topic, 'fleet', 1);
    const started = performance.now();
    const failure = await hurried.read('orders').then(
      () => undefined,
      (err: unknown) => err,
    );
    const took = performance.now() - started;
    expect(failure).toBeInstanceOf(SidecarError);
    expect(failure).toMatchObject({ code: 'ROUTE_LOG_UNAVAILABLE', status: 503, retriable: true, retryAfterSeconds: 1 });
    expect((failure as Error).message).toContain('did not finish within ROUTE_LOG_READ_TIMEOUT (1 ms');
    // Ended at its deadline, not after the library's own retries or a minute.
    expect(took).toBeLessThan(2000);
    const read = await writer.read('orders');
    expect(read.routes.size).toBe(groups.length);
    expect(read.routes.get('g2999')).toBe((2999 % 500) % 6);
  });

  it('compaction keeps one record per live group (and drops released ones)', async () => {
    // A log topic made by the test, as an operator may: compaction forced by tiny segments and no dirt tolerance.
    const topic = `routes-compact-${randomUUID().slice(0, 8)}`;
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 1,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.ms', value: '100' },
            { name: 'min.cleanable.dirty.ratio', value: '0.001' },
            { name: 'delete.retention.ms', value: '100' },
            { name: 'min.compaction.lag.ms', value: '0' },
          ],
        },
      ],
      waitForLeaders: true,
    });
    const prefix = 'fleet';
    const routes = await routeLog(topic, prefix);
    const groups = Array.from({ length: 20 }, (_, i) => `g${i}`);
    // Each group mapped, moved four times, and every fourth group released.
    for (let round = 0; round < 5; round++) await routes.append(groups.map((g, i) => entry('orders', g, (i + round) % 6)));
    await routes.append(groups.filter((_, i) => i % 4 === 0).map((g) => entry('orders', g, null)));
    const live = groups.filter((_, i) => i % 4 !== 0);
    const expected = new Map(live.map((g) => [g, (groups.indexOf(g) + 4) % 6]));
    expect((await routes.read('orders')).routes).toEqual(expected);

    const keyOf = (g: string) => JSON.stringify([prefix, 'orders', g]);
    const ours = new Set(groups.map(keyOf));
    let perKey = new Map<string, number>();
    let polls = 0;
    await expect
      .poll(
        async () => {
          // A new segment only rolls on a write: one record of another key rolls it, so earlier ones can be cleaned.
          await routes.append([entry('roll', `r${polls++}`, 0)]);
          perKey = new Map();
          for (const r of await consumeToEnd(kafka, admin, topic)) if (r.key && ours.has(r.key)) perKey.set(r.key, (perKey.get(r.key) ?? 0) + 1);
          return [...perKey.keys()].length === live.length && [...perKey.values()].every((n) => n === 1);
        },
        { timeout: 120_000, interval: 1000 },
      )
      .toBe(true);
    expect([...perKey.keys()].sort()).toEqual(live.map(keyOf).sort());
    expect((await routes.read('orders')).routes).toEqual(expected);
    console.log(
      `route log compaction: ${groups.length * 5 + groups.length / 4} records written for ${live.length} live groups, ${perKey.size} kept after ${polls} polls`,
    );
  }, 150_000);

  it("creates its topic with a compaction lag above the longest read, and describes it through the engine's client", async () => {
    const topic = `routes-config-${randomUUID().slice(0, 8)}`;
    await (await routeLog(topic)).ready();
    const client = await createLogTopicClient(testKafkaClient(), testConnection('route-log-test'), log);
    try {
      const described = await client.describeTopic(topic);
      expect(described.replicationFactor).toBeGreaterThanOrEqual(1);
      expect(described.config.get('cleanup.policy')).toBe('compact');
      expect(described.config.get('retention.ms')).toBe('-1');
      expect(described.config.get('min.compaction.lag.ms')).toBe(String(MIN_COMPACTION_LAG_MS));
      expect(topicProblems(described).refuse).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('refuses an existing topic whose policy deletes by time (mappings would be lost): ROUTE_LOG_UNAVAILABLE, one error line', async () => {
    const topic = `routes-delete-${randomUUID().slice(0, 8)}`;
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 2,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact,delete' },
            { name: 'retention.ms', value: '604800000' },
          ],
        },
      ],
      waitForLeaders: true,
    });
    const lines: string[] = [];
    const routes = await routeLog(
      topic,
      'fleet',
      15_000,
      createLogger('error', {}, (l) => lines.push(l)),
    );
    await expect(routes.append([entry('orders', 'g1', 1)])).rejects.toMatchObject({ code: 'ROUTE_LOG_UNAVAILABLE' });
    await expect(routes.read('orders')).rejects.toMatchObject({ code: 'ROUTE_LOG_UNAVAILABLE', message: expect.stringContaining('retention.ms=604800000') });
    expect(lines.filter((l) => l.includes('is misconfigured'))).toHaveLength(1);
  });

  it('fails a read once partitions were added to the log topic, naming the cause, instead of reading elsewhere', async () => {
    const topic = `routes-grown-${randomUUID().slice(0, 8)}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
    const lines: string[] = [];
    const routes = await routeLog(
      topic,
      'fleet',
      15_000,
      createLogger('error', {}, (l) => lines.push(l)),
    );
    await routes.append([entry('orders', 'g1', 1)]);
    expect((await routes.read('orders')).routes).toEqual(new Map([['g1', 1]]));
    await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
    await expect.poll(async () => engine.partitionCount(topic), { timeout: 10_000 }).toBe(3);
    const failure = await routes.read('orders').catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'ROUTE_LOG_UNAVAILABLE', message: expect.stringContaining('has 3 partitions now, this process writes it with 2') });
    expect(lines.filter((l) => l.includes('has 3 partitions now'))).toHaveLength(1);
  });

  it('two replicas creating the topic at once both get it, with no error line (the loser waits for the metadata)', async () => {
    const topic = `routes-race-${randomUUID().slice(0, 8)}`;
    const lines: string[] = [];
    const logger = createLogger('warn', {}, (l) => lines.push(l));
    const racers = await Promise.all(Array.from({ length: 4 }, () => routeLog(topic, 'fleet', 15_000, logger)));
    expect(await Promise.all(racers.map((r) => r.ready()))).toEqual(racers.map(() => ROUTE_LOG_PARTITIONS));
    expect(lines.filter((l) => l.includes('could not be created') || l.includes('"level":50') || l.includes('"level":"error"'))).toEqual([]);
    await racers[0]!.append([entry('orders', 'g1', 2)]);
    expect((await racers[3]!.read('orders')).routes).toEqual(new Map([['g1', 2]]));
  });
});
