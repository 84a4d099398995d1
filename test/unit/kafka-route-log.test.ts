import { describe, expect, it } from 'vitest';
import { SidecarError } from '../../src/errors/sidecar-error.ts';
import { KafkaRouteLog, MIN_COMPACTION_LAG_MS, ROUTE_LOG_PARTITIONS, routeLogTopicConfig, topicProblems } from '../../src/kafka/kafka-route-log.ts';
import { LogTopicExistsError, type LogRecord, type LogTopicClient, type LogTopicDescription, type LogTopicSpec } from '../../src/kafka/log-topic-client.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { PartitionWriter } from '../../src/writer/partition-writer.ts';

/** The route log's topic handling without a broker: creation, the check of an existing topic, a changed partition count. */

const GOOD: Record<string, string> = {
  'cleanup.policy': 'compact',
  'retention.ms': '-1',
  'retention.bytes': '-1',
  'min.insync.replicas': '2',
  'unclean.leader.election.enable': 'false',
  'min.compaction.lag.ms': String(MIN_COMPACTION_LAG_MS),
};

const described = (config: Record<string, string>, replicationFactor = 3): LogTopicDescription => ({
  replicationFactor,
  config: new Map(Object.entries(config)),
});

class FakeClient implements LogTopicClient {
  readonly created: LogTopicSpec[] = [];
  createFailure: Error | undefined;
  description: LogTopicDescription | Error = described(GOOD);
  describes = 0;
  async createTopic(spec: LogTopicSpec): Promise<void> {
    this.created.push(spec);
    if (this.createFailure) throw this.createFailure;
  }
  async describeTopic(): Promise<LogTopicDescription> {
    this.describes++;
    if (this.description instanceof Error) throw this.description;
    return this.description;
  }
  async readPartition(_topic: string, _partition: number, onRecord: (record: LogRecord) => void): Promise<void> {
    onRecord({ offset: 0n, key: Buffer.from(JSON.stringify(['os', 'orders', 'g'])), value: Buffer.from(JSON.stringify({ partition: 2, buckets: 8 })) });
  }
  async close(): Promise<void> {}
}

const writer = { write: async () => ({}) } as unknown as PartitionWriter;

function routeLog(
  client: LogTopicClient,
  counts: (number | undefined)[],
  replicationFactor?: number,
): { log: KafkaRouteLog; lines: string[]; asked: () => number } {
  const lines: string[] = [];
  let asked = 0;
  const partitionCount = async (): Promise<number | undefined> => counts[Math.min(asked++, counts.length - 1)];
  const log = new KafkaRouteLog(
    writer,
    client,
    partitionCount,
    { topic: 'ordered-sidecar-routes', prefix: 'os', replicationFactor, readTimeoutMs: 5000 },
    createLogger('warn', {}, (l) => lines.push(l)),
  );
  return { log, lines, asked: () => asked };
}

const messages = (lines: string[], level: string): string[] =>
  lines
    .map((l) => JSON.parse(l) as { level: string | number; msg: string })
    .filter((l) => String(l.level) === level || (level === 'error' ? l.level === 50 : l.level === 40))
    .map((l) => l.msg);

describe('the route log topic configuration', () => {
  it('is created compacted, never deleted, with a compaction lag above the longest read; min ISR 2 and no unclean election with 3 replicas or more', () => {
    expect(routeLogTopicConfig(1)).toEqual({ 'cleanup.policy': 'compact', 'retention.ms': '-1', 'min.compaction.lag.ms': '60000' });
    expect(routeLogTopicConfig(undefined)).toEqual(routeLogTopicConfig(1));
    expect(routeLogTopicConfig(3)).toEqual({ ...routeLogTopicConfig(1), 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' });
  });

  it('finds nothing wrong with what the docs ask for', () => {
    expect(topicProblems(described(GOOD))).toEqual({ refuse: [], error: [], warn: [] });
  });

  it('refuses a policy that deletes by time or size, and only that', () => {
    expect(topicProblems(described({ ...GOOD, 'cleanup.policy': 'delete', 'retention.ms': '604800000' })).refuse).toHaveLength(1);
    expect(topicProblems(described({ ...GOOD, 'cleanup.policy': 'compact,delete', 'retention.bytes': '1073741824' })).refuse).toHaveLength(1);
    // Delete with no limit loses nothing (it is never compacted: a warning).
    const unlimited = topicProblems(described({ ...GOOD, 'cleanup.policy': 'delete' }));
    expect(unlimited.refuse).toEqual([]);
    expect(unlimited.warn).toHaveLength(1);
    // A retention with compact alone deletes nothing.
    expect(topicProblems(described({ ...GOOD, 'retention.ms': '604800000' })).refuse).toEqual([]);
  });

  it('calls min ISR below 2 with 3 replicas an error, and warns of few replicas, unclean election and a short compaction lag', () => {
    expect(topicProblems(described({ ...GOOD, 'min.insync.replicas': '1' })).error).toHaveLength(1);
    expect(topicProblems(described({ ...GOOD, 'min.insync.replicas': '1' }, 1))).toMatchObject({ error: [], warn: [expect.stringContaining('1 replica')] });
    expect(topicProblems(described({ ...GOOD, 'unclean.leader.election.enable': 'true' })).warn).toHaveLength(1);
    expect(topicProblems(described({ ...GOOD, 'min.compaction.lag.ms': '0' })).warn).toEqual([expect.stringContaining('min.compaction.lag.ms=0')]);
  });
});

describe('KafkaRouteLog.ready', () => {
  it('creates a missing topic with the durable configs when asked for 3 replicas, and checks nothing it just made', async () => {
    const client = new FakeClient();
    const { log } = routeLog(client, [undefined], 3);
    expect(await log.ready()).toBe(ROUTE_LOG_PARTITIONS);
    expect(client.created[0]?.config).toEqual(routeLogTopicConfig(3));
    expect(client.describes).toBe(0);
  });

  it('waits for a topic another replica created first to show in the metadata, without an error line', async () => {
    const client = new FakeClient();
    client.createFailure = new LogTopicExistsError('ordered-sidecar-routes');
    // Missing before the create, still missing twice after it (the metadata lags), then there.
    const { log, lines, asked } = routeLog(client, [undefined, undefined, undefined, 12]);
    expect(await log.ready()).toBe(12);
    expect(asked()).toBe(4);
    expect(messages(lines, 'error')).toEqual([]);
  });

  it('logs a real refusal to create once, as an error', async () => {
    const client = new FakeClient();
    client.createFailure = new Error('TOPIC_AUTHORIZATION_FAILED');
    const { log, lines } = routeLog(client, [undefined]);
    await expect(log.ready()).rejects.toThrow('TOPIC_AUTHORIZATION_FAILED');
    await expect(log.ready()).rejects.toThrow('TOPIC_AUTHORIZATION_FAILED');
    expect(messages(lines, 'error')).toEqual([expect.stringContaining('does not exist and could not be created')]);
  });

  it('refuses an existing topic whose policy deletes mappings, with ROUTE_LOG_UNAVAILABLE and one error line', async () => {
    const client = new FakeClient();
    client.description = described({ ...GOOD, 'cleanup.policy': 'delete', 'retention.ms': '604800000' });
    const { log, lines } = routeLog(client, [12]);
    const refusal = await log.ready().catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(SidecarError);
    expect(refusal).toMatchObject({ code: 'ROUTE_LOG_UNAVAILABLE' });
    // Refused for a moment without describing the topic again.
    await expect(log.ready()).rejects.toBe(refusal);
    expect(client.describes).toBe(1);
    expect(messages(lines, 'error')).toEqual([expect.stringContaining('cleanup.policy=delete')]);
  });

  it('uses an existing topic it cannot describe, with a warning', async () => {
    const client = new FakeClient();
    client.description = new Error('CLUSTER_AUTHORIZATION_FAILED');
    const { log, lines } = routeLog(client, [12]);
    expect(await log.ready()).toBe(12);
    expect(messages(lines, 'warn')).toEqual([expect.stringContaining('could not check the configs')]);
  });
});

describe('KafkaRouteLog.read', () => {
  it('reads where it writes while the partition count stays', async () => {
    const { log } = routeLog(new FakeClient(), [12]);
    expect((await log.read('orders')).routes).toEqual(new Map([['g', 2]]));
  });

  it('fails with ROUTE_LOG_UNAVAILABLE naming the cause once partitions were added, logging it once', async () => {
    const { log, lines } = routeLog(new FakeClient(), [12, 16]);
    await log.ready();
    for (let i = 0; i < 2; i++) {
      await expect(log.read('orders')).rejects.toMatchObject({ code: 'ROUTE_LOG_UNAVAILABLE', message: expect.stringContaining('has 16 partitions now') });
    }
    expect(messages(lines, 'error')).toHaveLength(1);
  });
});
