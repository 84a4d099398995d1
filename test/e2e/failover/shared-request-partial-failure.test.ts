import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createKafkaEngine } from '../../../src/kafka/create-engine.ts';
import type { KafkaEngine } from '../../../src/kafka/kafka-engine.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { SidecarMetrics } from '../../../src/metrics/sidecar-metrics.ts';
import { PartitionWriter, type OutgoingRecord } from '../../../src/writer/partition-writer.ts';
import { useKafkaAdmin, consumeAll, createTopicWithLeaders, testConnection } from '../../support/kafka.ts';
import { testKafkaClient } from '../../support/sidecar.ts';

const stack = (...args: string[]) => promisify(execFile)('bash', ['scripts/stack.sh', ...args], { timeout: 120_000 });
const log = createLogger('error', { test: true });

/** Node 3 is killed; node 1 leads both topics' only partition, so they share its Produce request. */
const KILLED = 3;
const LEADER = 1;

const { kafka, admin } = useKafkaAdmin();
let engine: KafkaEngine;
let registry: Registry;
let writer: PartitionWriter;

const records = (...values: string[]): OutgoingRecord[] => values.map((value) => ({ message: { key: null, value, headers: {} }, bytes: value.length }));

/** One partition on nodes 1, 2, 3 (1 leads); `minInsync` of them must have every write. */
async function createTopic(minInsync: number): Promise<string> {
  const topic = `test-${randomUUID().slice(0, 8)}`;
  await createTopicWithLeaders(admin, {
    topic,
    replicaAssignment: [{ partition: 0, replicas: [LEADER, 2, KILLED] }],
    configEntries: [{ name: 'min.insync.replicas', value: String(minInsync) }],
  });
  return topic;
}

/**
 * The engine's own metadata names node 1 as both partitions' leader: the writer groups partitions per broker by it.
 * Its cache may hold only one of the topics (a write that met a restarted broker's stale answer clears it and
 * refetches only its own topic; on Kafka 3.9.1 after the consume fault tests, leaderOf(strict) was undefined),
 * so each topic's metadata is asked for until both are known.
 */
async function engineSeesLeader(...topics: string[]): Promise<boolean> {
  for (const topic of topics) await engine.partitionCount(topic);
  return topics.every((topic) => engine.leaderOf(topic, 0) === LEADER);
}

/** Writes one record until it is written (a retriable failure wrote nothing); the last outcome. */
async function warmUp(topic: string, value: string): Promise<Awaited<ReturnType<PartitionWriter['write']>>> {
  let outcome = await writer.write(topic, 0, records(value), 'plain');
  await vi.waitUntil(
    async () => {
      if (outcome.error?.retriable) outcome = await writer.write(topic, 0, records(value), 'plain');
      return !outcome.error?.retriable;
    },
    { timeout: 30_000, interval: 500 },
  );
  return outcome;
}

async function produceRequests(): Promise<number> {
  const metric = await registry.getSingleMetric('ordered_sidecar_kafka_produce_requests_total')?.get();
  return metric?.values.reduce((total, v) => total + v.value, 0) ?? 0;
}

beforeAll(async () => {
  expect(inject('kafkaBrokers').length, 'the failover suite needs `stack.sh up --kafka-nodes 3`').toBeGreaterThanOrEqual(3);
  engine = await createKafkaEngine(
    testKafkaClient(),
    testConnection(`partial-failure-${testKafkaClient()}`),
    { writeTimeoutMs: 10_000, compression: 'none' },
    log,
  );
  await engine.connect();
  registry = new Registry();
  writer = new PartitionWriter(
    engine,
    { maxBatchMessages: 1000, maxBatchBytes: 900 * 1024, maxQueueWaitMs: 10_000 },
    new SidecarMetrics(registry, { defaultMetrics: false }),
  );
});

afterAll(async () => {
  await engine?.close();
});

describe('one Produce request shared by two topics, one of them short of in-sync replicas', () => {
  it('fails only that topic’s partition; the other is written once, with its offsets, and goes on', async () => {
    const strict = await createTopic(3);
    const relaxed = await createTopic(2);
    // Both written while all nodes are up (this also loads the engine's view of the leaders).
    // A new topic's leader may not know it leads yet (NOT_LEADER_OR_FOLLOWER on Kafka 3.9.1 right after the restarts of
    // the tests before): such a write failed, wrote nothing, and is asked again, as a client would.
    const warm = await Promise.all([warmUp(strict, 's0'), warmUp(relaxed, 'r0')]);
    expect(warm).toEqual([{ offsets: ['0'] }, { offsets: ['0'] }]);
    // kafkajs sends each partition on its own (kafkajs-engine.ts, leaderOf): two requests, the same outcomes.
    const shared = engine.name === 'platformatic';
    if (shared) await vi.waitUntil(() => engineSeesLeader(strict, relaxed), { timeout: 30_000, interval: 200 });

    await stack('kill-broker', String(KILLED));
    try {
      // Fenced after the broker session timeout: the controller then drops node 3 from both partitions' ISR.
      await vi.waitUntil(
        async () => {
          const { topics } = await admin.fetchTopicMetadata({ topics: [strict, relaxed] }).catch(() => ({ topics: [] }));
          return topics.length === 2 && topics.every((t) => t.partitions[0]!.isr.length === 2);
        },
        { timeout: 60_000, interval: 500 },
      );

      if (shared) await vi.waitUntil(() => engineSeesLeader(strict, relaxed), { timeout: 30_000, interval: 200 });
      const requestsBefore = await produceRequests();
      // Written in one turn, as one HTTP request's partitions are: one request to node 1 carries both.
      const failing = writer.write(strict, 0, records('s1'), 'plain');
      const written = writer.write(relaxed, 0, records('r1', 'r2'), 'plain');
      const [failed, ok] = await Promise.all([failing, written]);
      expect(await produceRequests()).toBe(requestsBefore + (shared ? 1 : 2));

      expect(failed.offsets).toEqual([]);
      expect(failed.error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
      // Kafka's NOT_ENOUGH_REPLICAS, in the words both clients use for it.
      expect(failed.error?.message).toContain('fewer in-sync replicas than required');
      expect(ok).toEqual({ offsets: ['1', '2'] });

      // The healthy partition keeps going while its neighbour stays short of replicas. (Not asked of kafkajs: it
      // replaces its whole producer after the failed partition, and the fresh one's first answers with a broker
      // down may be LEADER_NOT_AVAILABLE, a retriable failure the client resends.)
      if (shared) expect(await writer.write(relaxed, 0, records('r3'), 'plain')).toEqual({ offsets: ['3'] });
    } finally {
      await stack('start-broker', String(KILLED));
    }

    // Exactly what was reported: nothing of the failed partition, the written one once, in order.
    expect((await consumeAll(kafka, admin, strict)).map((r) => r.value)).toEqual(['s0']);
    expect((await consumeAll(kafka, admin, relaxed)).map((r) => [r.offset, r.value])).toEqual([
      ['0', 'r0'],
      ['1', 'r1'],
      ['2', 'r2'],
      ...(shared ? [['3', 'r3']] : []),
    ]);
  });
});
