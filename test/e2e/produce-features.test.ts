import { describe, expect, it, vi } from 'vitest';
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { consumeAll, createTopic } from '../support/kafka.ts';
import { postJson } from '../support/http.ts';
import { useSidecar } from '../support/fixture.ts';
import { spawnSidecar, testKafkaClient, testOptions } from '../support/sidecar.ts';
import { registerKafkajsCodecs } from '../../src/kafka/kafkajs-codecs.ts';

const fx = useSidecar({ metadataRefreshMs: 200, loadsRefreshMs: 200 });

describe('records as consumers see them', () => {
  it('carries key, value, user headers and the message-group header; base64 values arrive as bytes', async () => {
    const topic = await createTopic(fx.admin, 2);
    const binary = Buffer.from([0, 255, 1, 254, 10, 13]);
    const { status } = await postJson(`${fx.sidecar.url}/v1/ordered-produce`, {
      topic,
      messages: [
        { message_group: 'order-1', key: 'k1', value: 'hello ✓', headers: { trace: 'abc' } },
        { message_group: 'order-1', key: null, value: binary.toString('base64'), value_encoding: 'base64' },
        { message_group: 'order-1', value: null },
      ],
    });
    expect(status).toBe(200);
    const consumer = fx.kafka.consumer({ groupId: `raw-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: { key: Buffer | null; value: Buffer | null; headers: Record<string, string> }[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          seen.push({ key: message.key, value: message.value, headers });
          if (seen.length === 3) resolve();
        },
      });
    });
    await consumer.disconnect();
    expect(seen[0]!.key?.toString()).toBe('k1');
    expect(seen[0]!.value?.toString()).toBe('hello ✓');
    expect(seen[0]!.headers).toEqual({ trace: 'abc', 'message-group': 'order-1' });
    expect(seen[1]!.key).toBeNull();
    expect(Buffer.compare(seen[1]!.value!, binary)).toBe(0);
    expect(seen[2]!.value).toBeNull();
  });
});

describe('KAFKA_COMPRESSION', () => {
  it('a sidecar process started with --kafka-compression zstd writes records consumers read back', async () => {
    const topic = await createTopic(fx.admin, 2);
    const sidecar = await spawnSidecar(testOptions({ kafkaClient: testKafkaClient() }), { flags: ['--kafka-compression', 'zstd'] });
    try {
      const values = Array.from({ length: 20 }, (_, i) => `reading ${i}: ${'the same words again '.repeat(5)}`);
      const { status } = await postJson(`${sidecar.url}/v1/ordered-produce`, { topic, messages: values.map((value) => ({ message_group: 'meter-7', value })) });
      expect(status).toBe(200);
      // The test's kafkajs reader needs the same codecs the sidecar's kafkajs engine registers.
      registerKafkajsCodecs();
      expect((await consumeAll(fx.kafka, fx.admin, topic)).map((r) => r.value)).toEqual(values);
    } finally {
      await sidecar.stop();
    }
  });
});

describe('plain produce keeps Kafka semantics', () => {
  it('honours an explicit partition and hashes keys like Kafka’s default partitioner', async () => {
    const topic = await createTopic(fx.admin, 5);
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 5 }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 }));
    const keys = Array.from({ length: 20 }, (_, i) => `customer-${i}`);
    const { status, body } = await postJson(`${fx.sidecar.url}/v1/produce`, {
      topic,
      messages: [{ partition: 4, value: 'explicit' }, ...keys.map((key) => ({ key, value: key }))],
    });
    expect(status).toBe(200);
    expect(body.results[0]).toMatchObject({ partition: 4 });
    keys.forEach((key, i) => {
      const expected = partitioner({ topic, partitionMetadata, message: { key, value: key } } as PartitionerArgs);
      expect(body.results[i + 1]).toMatchObject({ partition: expected });
    });
    const records = await consumeAll(fx.kafka, fx.admin, topic);
    expect(records.find((r) => r.value === 'explicit')?.partition).toBe(4);
    expect(records.every((r) => r.headers['message-group'] === undefined)).toBe(true);
  });
});

describe('topic growth', () => {
  it('keeps existing groups where they are and sends new groups to the new partitions', async () => {
    const topic = await createTopic(fx.admin, 2);
    const old = Array.from({ length: 10 }, (_, i) => `old-${i}`);
    const first = await postJson(`${fx.sidecar.url}/v1/ordered-produce`, { topic, messages: old.map((g) => ({ message_group: g, value: 'a' })) });
    await fx.admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
    // Until the sidecar knows partition 3: a plain produce to it is refused (400) before that, and each call
    // starts a background metadata refresh once the count is older than 200 ms. Plain produce maps no group.
    const probe = { topic, messages: [{ partition: 3, value: 'probe' }] };
    await vi.waitUntil(async () => (await postJson(`${fx.sidecar.url}/v1/produce`, probe)).status === 200, { timeout: 15_000, interval: 50 });
    const fresh = Array.from({ length: 10 }, (_, i) => `new-${i}`);
    const second = await postJson(`${fx.sidecar.url}/v1/ordered-produce`, {
      topic,
      messages: [...old.map((g) => ({ message_group: g, value: 'b' })), ...fresh.map((g) => ({ message_group: g, value: 'c' }))],
    });
    expect(second.status).toBe(200);
    old.forEach((_, i) => expect(second.body.results[i]).toMatchObject({ partition: (first.body.results[i] as { partition: number }).partition }));
    const partitionsOf = (results: unknown[]) => results.map((r) => (r as { partition: number }).partition);
    const perPartition = (partitions: number[]) => [0, 1, 2, 3].map((p) => partitions.filter((q) => q === p).length);
    // Each new group goes, atomically in Redis, to a least-loaded partition: the old groups split 5/5, so the
    // new ones fill partitions 2 and 3 until they hold 5 each, and none reaches the old ones.
    expect(perPartition(partitionsOf(first.body.results))).toEqual([5, 5, 0, 0]);
    expect(perPartition(partitionsOf(second.body.results.slice(old.length)))).toEqual([0, 0, 5, 5]);
  });
});

describe('service endpoints', () => {
  it('advertises ordered produce as request type 22', async () => {
    const body = (await (await fetch(`${fx.sidecar.url}/v1/api-versions`)).json()) as {
      kafka_client: string;
      request_types: { name: string; type: number; path: string }[];
    };
    expect(body.kafka_client).toBe(testKafkaClient());
    expect(body.request_types).toContainEqual(expect.objectContaining({ name: 'OrderedProduce', type: 22, path: '/v1/ordered-produce' }));
    expect(body.request_types).toContainEqual(expect.objectContaining({ name: 'Produce', type: 0, path: '/v1/produce' }));
  });

  it('is alive and ready when Kafka and Redis answer', async () => {
    expect((await fetch(`${fx.sidecar.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${fx.sidecar.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, kafka: { ok: true, client: testKafkaClient() }, redis: { ok: true } });
  });

  it('exports the routing metrics', async () => {
    // The loads come from a background refresh: the topics produced to above show up at its next round.
    const loadsShown = /ordered_sidecar_partition_loads\{topic="test-[^"]+",partition="\d+"\} \d+/;
    let text = '';
    await vi.waitUntil(async () => loadsShown.test((text = await (await fetch(`${fx.sidecar.url}/metrics`)).text())), { timeout: 10_000, interval: 100 });
    for (const name of [
      'total_mapped_groups',
      'partition_loads',
      'routing_cache_hit_rate',
      'cleanup_execution_time_seconds',
      'http_request_duration_seconds',
      'messages_produced_total',
    ]) {
      expect(text).toContain(`ordered_sidecar_${name}`);
    }
    expect(text).toMatch(/ordered_sidecar_routing_cache_hit_rate 0\.\d+/);
  });
});
