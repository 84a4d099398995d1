import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { Registry } from 'prom-client';
import { Client, GroupInDoubtError, NonRetriableError, RetriableError, type OrderedProducer } from '../../src/sdk/index.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { refusedRequests } from '../support/http.ts';
import { freePort } from '../support/ports.ts';
import { startTestSidecar } from '../support/sidecar.ts';
import { byGroup, readTopic, recordingLogger } from './records.ts';

const PARTITIONS = 4;
const { kafka, admin } = useKafkaAdmin();
let oldSidecar: Server;
let oldSidecarUrl: string;
let oldSidecarPosts = 0;

/** A sidecar from before ordered produce: it lists only plain Produce (type 0) in api-versions. */
beforeAll(async () => {
  oldSidecar = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/api-versions') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ api_version: 1, sidecar_version: '0.0.1', request_types: [{ name: 'Produce', type: 0, path: '/v1/produce' }], features: {} }));
      return;
    }
    if (req.method === 'POST') oldSidecarPosts++;
    res.statusCode = 404;
    res.end('{"error":{"code":"NOT_FOUND","message":"no route","retriable":false}}');
  });
  await new Promise<void>((resolve) => oldSidecar.listen(0, '127.0.0.1', resolve));
  oldSidecarUrl = `http://127.0.0.1:${(oldSidecar.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => oldSidecar.close(() => resolve()));
});

/** Nothing listens there: bound, then closed. */
async function unreachableUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** Kafka's default partitioner on key = group: where the fallback must put each group. */
const kafkaPartitionOf = (group: string): number =>
  Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata: Array.from({ length: PARTITIONS }, (_, partitionId) => ({ partitionId, leader: 0 })),
    message: { key: group, value: null },
  } as PartitionerArgs);

/** Eight groups streamed concurrently, each in several calls of several shapes; returns what was sent per group. */
async function stream(producer: OrderedProducer, topic: string): Promise<Map<string, string[]>> {
  const sent = new Map<string, string[]>();
  await Promise.all(
    Array.from({ length: 8 }, async (_, g) => {
      const group = `user-${g}`;
      const values = Array.from({ length: 12 }, (_, k) => `${group}#${k}`);
      sent.set(group, values);
      for (let k = 0; k < 12; k += 3) {
        if (k % 2 === 0)
          await producer.sendMessageGroupBatch(
            topic,
            group,
            values.slice(k, k + 3).map((value) => ({ value })),
          );
        else for (const value of values.slice(k, k + 3)) await producer.sendSingleOrderedMessage(topic, group, null, value);
      }
    }),
  );
  return sent;
}

async function checkKafka(topic: string, sent: Map<string, string[]>): Promise<void> {
  const records = await readTopic(kafka, admin, topic);
  expect(records).toHaveLength(8 * 12);
  const groups = byGroup(records);
  for (const [group, values] of sent) {
    expect(groups.get(group)!.values, group).toEqual(values);
    expect([...groups.get(group)!.partitions]).toEqual([kafkaPartitionOf(group)]);
  }
  for (const r of records) expect(r.key!.toString()).toBe(r.headers['message-group']);
}

async function fallbackCount(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('ordered_sidecar_client_fallback_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.reason), v.value]));
}

describe('fallback to Kafka, keeping per-group order', () => {
  it('a sidecar without OrderedProduce (type 22): produces directly, says so once, counts it', async () => {
    const topic = await createTopic(admin, PARTITIONS);
    const logger = recordingLogger();
    const registry = new Registry();
    const client = new Client({ url: oldSidecarUrl, fallback: { kafka: { brokers: inject('kafkaBrokers') } }, logger, metricsRegistry: registry });
    const producer = client.orderedProducer();
    try {
      const sent = await stream(producer, topic);
      await checkKafka(topic, sent);
      const result = await producer.sendSingleOrderedMessage(topic, 'user-0', 'own-key', 'last', { headers: { trace: 'x' } });
      expect(result).toMatchObject({ via: 'kafka', successfulMessages: 1, failedMessages: 0 });
      const m = result.messages[0]!;
      expect(m).toMatchObject({ status: 'written', partition: kafkaPartitionOf('user-0') });
      const records = await readTopic(kafka, admin, topic);
      const last = records.find((r) => m.status === 'written' && r.partition === m.partition && r.offset === m.offset)!;
      // The caller's key is kept; the partition is still the group's.
      expect(last.key!.toString()).toBe('own-key');
      expect(last.headers).toEqual({ trace: 'x', 'message-group': 'user-0' });
      expect(last.value!.toString()).toBe('last');

      expect(await client.mode()).toBe('kafka');
      expect(oldSidecarPosts).toBe(0);
      const notices = logger.lines.filter((l) => l.includes('directly to Kafka'));
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/does not offer OrderedProduce/);
      expect(await fallbackCount(registry)).toEqual({ unsupported: 1 });
    } finally {
      await client.close();
    }
  });

  it('an unreachable sidecar, with the fallback opted in: produces directly after the first-use retries', async () => {
    const topic = await createTopic(admin, PARTITIONS);
    const logger = recordingLogger();
    const registry = new Registry();
    const client = new Client({
      url: await unreachableUrl(),
      probeMaxElapsedMs: 300,
      retry: { initialBackoffMs: 10 },
      fallback: { kafka: { brokers: inject('kafkaBrokers') } },
      logger,
      metricsRegistry: registry,
    });
    try {
      const sent = await stream(client.orderedProducer(), topic);
      await checkKafka(topic, sent);
      expect(await client.capabilities()).toBeUndefined();
      const notices = logger.lines.filter((l) => l.includes('directly to Kafka'));
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/ECONNREFUSED/);
      expect(await fallbackCount(registry)).toEqual({ unreachable: 1 });
    } finally {
      await client.close();
    }
  });

  it('without the opt-in, a sidecar lacking OrderedProduce fails the send as UNSUPPORTED', async () => {
    const client = new Client({ url: oldSidecarUrl, logger: recordingLogger() });
    const err = await client
      .orderedProducer()
      .sendSingleOrderedMessage('t', 'g', null, 'x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetriableError);
    expect(err).toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('the fallback reports an unknown topic like the sidecar does', async () => {
    const client = new Client({
      url: oldSidecarUrl,
      fallback: { kafka: { brokers: inject('kafkaBrokers'), retry: { retries: 1 } } },
      logger: recordingLogger(),
    });
    try {
      const err = await client
        .orderedProducer()
        .sendSingleOrderedMessage('no-such-topic-fallback', 'g', null, 'x')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonRetriableError);
      expect(err).toMatchObject({ code: 'UNKNOWN_TOPIC', result: { via: 'kafka', failedMessages: 1 } });
    } finally {
      await client.close();
    }
  });

  it('a sidecar that comes up within the first-use budget is used: no fallback for a slow start', async () => {
    const topic = await createTopic(admin, 1);
    const port = await freePort();
    const logger = recordingLogger();
    const registry = new Registry();
    const client = new Client({
      url: `http://127.0.0.1:${port}`,
      probeMaxElapsedMs: 20_000,
      fallback: { kafka: { brokers: inject('kafkaBrokers') } },
      logger,
      metricsRegistry: registry,
    });
    const refused = refusedRequests(`127.0.0.1:${port}`, 2, 15_000);
    const sending = client.orderedProducer().sendSingleOrderedMessage(topic, 'user-1', null, 'first');
    // A slow start: the client found nothing listening, twice (so it is retrying), before the sidecar is up.
    await refused;
    const sidecar = await startTestSidecar({ port });
    try {
      await expect(sending).resolves.toMatchObject({ via: 'sidecar', successfulMessages: 1 });
      expect(await client.mode()).toBe('sidecar');
      expect(logger.lines.filter((l) => l.includes('directly to Kafka'))).toEqual([]);
      expect(registry.getSingleMetric('ordered_sidecar_client_fallback_total')).toBeDefined();
      expect(await fallbackCount(registry)).toEqual({});
    } finally {
      await client.close();
      await sidecar.close();
    }
  });

  it('bad keys, values and headers are rejected on the fallback as on the sidecar path: typed, before any write', async () => {
    const client = new Client({ url: oldSidecarUrl, fallback: { kafka: { brokers: inject('kafkaBrokers') } }, logger: recordingLogger() });
    const producer = client.orderedProducer();
    try {
      const cases: [unknown, string][] = [
        [{ messageGroup: 'g', value: 42 }, 'messages[0].value'],
        [{ messageGroup: 'g', value: 'v', key: { not: 'bytes' } }, 'messages[0].key'],
        [{ messageGroup: 'g', value: 'v', headers: { n: 1 } }, 'messages[0].headers.n'],
        [{ messageGroup: 'g', value: 'v', headers: 'x' }, 'messages[0].headers'],
      ];
      for (const [message, field] of cases) {
        const err = await producer.sendOrderedMessages('any-topic', [message as never]).catch((e: unknown) => e);
        expect(err, field).toBeInstanceOf(NonRetriableError);
        expect(err, field).toMatchObject({ code: 'INVALID_REQUEST', field });
      }
    } finally {
      await client.close();
    }
  });

  it('Kafka unreachable on the fallback: nothing was sent, so the messages failed (retriable) and the group is not in doubt', async () => {
    const port = await freePort();
    const client = new Client({
      url: oldSidecarUrl,
      fallback: { kafka: { brokers: [`127.0.0.1:${port}`], connectionTimeout: 200, retry: { retries: 0 } } },
      logger: recordingLogger(),
    });
    const producer = client.orderedProducer();
    try {
      const err = await producer.sendSingleOrderedMessage('t', 'g', null, 'x', { dedupId: 'x-1' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetriableError);
      expect(err).toMatchObject({
        result: { via: 'kafka', failedMessages: 1, unknownMessages: 0, messages: [{ status: 'failed', dedupId: 'x-1', error: { retriable: true } }] },
      });
      expect(producer.inDoubt('t', 'g')).toEqual([]);
      const again = await producer.sendSingleOrderedMessage('t', 'g', null, 'y').catch((e: unknown) => e);
      expect(again).not.toBeInstanceOf(GroupInDoubtError);
    } finally {
      await client.close();
    }
  });
});
