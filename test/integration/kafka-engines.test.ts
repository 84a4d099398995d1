import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { KAFKA_COMPRESSIONS } from '../../src/config/options.ts';
import { registerKafkajsCodecs } from '../../src/kafka/kafkajs-codecs.ts';
import { createKafkaEngine } from '../../src/kafka/create-engine.ts';
import { KAFKA_CLIENTS, type KafkaEngine } from '../../src/kafka/kafka-engine.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { EngineMessage } from '../../src/writer/send-port.ts';
import { PartitionWriter, type OutgoingRecord } from '../../src/writer/partition-writer.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';
import { Registry } from 'prom-client';
import { useKafkaAdmin, consumeAll, createTopic, recordCount, testConnection } from '../support/kafka.ts';

const log = createLogger('error', { test: true });
const message = (value: string | null, key: string | null = null, headers: Record<string, string> = {}): EngineMessage => ({ key, value, headers });

/** One batch in a request of its own: its first offset, or its error thrown. */
async function send(engine: KafkaEngine, topic: string, partition: number, messages: EngineMessage[]): Promise<bigint> {
  const [outcome] = await engine.sendBatches([{ topic, partition, messages }]);
  if (!outcome) throw new Error('no outcome');
  if ('error' in outcome) throw outcome.error;
  return outcome.baseOffset;
}

/** A TCP server that accepts connections and never answers: a broker that hangs. */
async function silentBroker(): Promise<{ address: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const { kafka, admin } = useKafkaAdmin();

describe.each(KAFKA_CLIENTS)('the %s engine', (name) => {
  let engine: KafkaEngine;

  beforeAll(async () => {
    engine = await createKafkaEngine(name, testConnection(`engine-test-${name}`), { writeTimeoutMs: 10_000, compression: 'none' }, log);
    await engine.connect();
  });

  afterAll(async () => {
    await engine?.close();
  });

  it('names itself', () => {
    expect(engine.name).toBe(name);
  });

  it('writes a batch to the named partition, in order, and returns the offset of its first record', async () => {
    const topic = await createTopic(admin, 3);
    expect(await send(engine, topic, 2, [message('a', null, { 'message-group': 'g1' }), message(null, 'k'), message('c')])).toBe(0n);
    expect(await send(engine, topic, 2, [message('d')])).toBe(3n);
    const records = await consumeAll(kafka, admin, topic);
    expect(records.map((r) => [r.partition, r.offset, r.key, r.value])).toEqual([
      [2, '0', null, 'a'],
      [2, '1', 'k', null],
      [2, '2', null, 'c'],
      [2, '3', null, 'd'],
    ]);
    expect(records[0]!.headers).toEqual({ 'message-group': 'g1' });
  });

  it('writes binary values byte for byte and counts multi-byte strings in bytes', async () => {
    const topic = await createTopic(admin, 1);
    const binary = Buffer.from([0, 255, 1, 254]);
    await send(engine, topic, 0, [{ key: binary, value: 'żółw €', headers: { h: 'ü' } }]);
    const consumer = kafka.consumer({ groupId: `engine-${topic}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key: Buffer | null; value: Buffer | null; header: string }>((resolve) => {
      void consumer.run({ eachMessage: async ({ message: m }) => resolve({ key: m.key, value: m.value, header: String(m.headers?.h) }) });
    });
    await consumer.disconnect();
    expect(received.key).toEqual(binary);
    expect(received.value?.toString()).toBe('żółw €');
    expect(received.header).toBe('ü');
  });

  it('writes the batches of several topics and partitions in one call, each with its own offsets', async () => {
    const [first, second] = [await createTopic(admin, 3), await createTopic(admin, 2)];
    await send(engine, first, 1, [message('earlier')]);
    const outcomes = await engine.sendBatches([
      { topic: first, partition: 0, messages: [message('a0'), message('a1')] },
      { topic: first, partition: 1, messages: [message('b0')] },
      { topic: second, partition: 1, messages: [message('c0'), message('c1'), message('c2')] },
    ]);
    expect(outcomes).toEqual([{ baseOffset: 0n }, { baseOffset: 1n }, { baseOffset: 0n }]);
    const firstRecords = await consumeAll(kafka, admin, first);
    const secondRecords = await consumeAll(kafka, admin, second);
    expect(firstRecords.map((r) => [r.partition, r.offset, r.value]).sort()).toEqual([
      [0, '0', 'a0'],
      [0, '1', 'a1'],
      [1, '0', 'earlier'],
      [1, '1', 'b0'],
    ]);
    expect(secondRecords.map((r) => [r.partition, r.offset, r.value])).toEqual([
      [1, '0', 'c0'],
      [1, '1', 'c1'],
      [1, '2', 'c2'],
    ]);
  });

  it('fails only the partition the broker refuses inside a shared request; the others are written once', async () => {
    const [refused, accepted] = [await createTopic(admin, 1), await createTopic(admin, 2)];
    const batches = [
      { topic: accepted, partition: 0, messages: [message('kept-0')] },
      { topic: refused, partition: 0, messages: [message('x'.repeat(2 * 1024 * 1024))] },
      { topic: accepted, partition: 1, messages: [message('kept-1')] },
    ];
    const outcomes = await engine.sendBatches(batches);
    expect(outcomes[0]).toEqual({ baseOffset: 0n });
    expect(outcomes[1]).toMatchObject({ error: { code: 'KAFKA_REJECTED', retriable: false } });
    expect(outcomes[2]).toEqual({ baseOffset: 0n });
    expect(await recordCount(admin, refused)).toBe(0);
    expect((await consumeAll(kafka, admin, accepted)).map((r) => r.value).sort()).toEqual(['kept-0', 'kept-1']);
    // The next request gets a fresh producer id and writes normally.
    expect(await send(engine, refused, 0, [message('next')])).toBe(0n);
  });

  it.each(KAFKA_COMPRESSIONS.filter((c) => c !== 'none'))('writes %s-compressed batches that read back intact', async (compression) => {
    const topic = await createTopic(admin, 2);
    const compressing = await createKafkaEngine(name, testConnection(`engine-test-${name}-${compression}`), { writeTimeoutMs: 10_000, compression }, log);
    const values = Array.from({ length: 50 }, (_, i) => `order-${i} ${'the same words again and again '.repeat(8)}`);
    try {
      const outcomes = await compressing.sendBatches([
        { topic, partition: 0, messages: values.slice(0, 25).map((v) => message(v, `k${v.length}`, { 'message-group': 'g' })) },
        { topic, partition: 1, messages: values.slice(25).map((v) => message(v)) },
      ]);
      expect(outcomes).toEqual([{ baseOffset: 0n }, { baseOffset: 0n }]);
    } finally {
      await compressing.close();
    }
    // The reader (kafkajs) must run the codec to decode the batches: they were written compressed with it.
    const type = ({ gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD } as const)[
      compression
    ];
    registerKafkajsCodecs();
    const codec = CompressionCodecs[type];
    let decoded = 0;
    CompressionCodecs[type] = () => {
      decoded++;
      return codec();
    };
    try {
      const records = await consumeAll(kafka, admin, topic);
      expect(records.filter((r) => r.partition === 0).map((r) => [r.value, r.headers['message-group']])).toEqual(values.slice(0, 25).map((v) => [v, 'g']));
      expect(records.filter((r) => r.partition === 1).map((r) => r.value)).toEqual(values.slice(25));
    } finally {
      CompressionCodecs[type] = codec;
    }
    expect(decoded).toBeGreaterThan(0);
  });

  it('fails only the batch of a topic Kafka will not describe; a batch of another topic in the same call is written', async () => {
    const live = await createTopic(admin, 1);
    const missing = `${live}-never-made`;
    const outcomes = await engine.sendBatches([
      { topic: live, partition: 0, messages: [message('kept')] },
      { topic: missing, partition: 0, messages: [message('refused')] },
    ]);
    expect(outcomes[0]).toEqual({ baseOffset: 0n });
    // Retriable: the produce path answers UNKNOWN_TOPIC before it writes; a topic gone since is a failed write.
    expect(outcomes[1]).toMatchObject({ error: { code: 'KAFKA_WRITE_FAILED', retriable: true, message: expect.stringContaining(missing) } });
    expect((await consumeAll(kafka, admin, live)).map((r) => r.value)).toEqual(['kept']);
  });

  it('reads partition counts, and undefined for a topic that does not exist at its first answer', async () => {
    const topic = await createTopic(admin, 5);
    expect(await engine.partitionCount(topic)).toBe(5);
    // Kafka's answer for a missing topic is retriable to @platformatic/kafka: retried with this engine's budget,
    // it took 2.3 s (and 7 s at the default write deadline, the route log's first check on a new cluster).
    const started = performance.now();
    expect(await engine.partitionCount(`${topic}-missing`)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('never writes a batch for a partition the topic does not have to another partition', async () => {
    const topic = await createTopic(admin, 2);
    const failure = await send(engine, topic, 3, [message('stray')]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeDefined();
    expect(await recordCount(admin, topic)).toBe(0);
  });

  it('writes to a partition added after it first saw the topic', async () => {
    const topic = await createTopic(admin, 2);
    await send(engine, topic, 1, [message('before')]);
    await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
    expect(await send(engine, topic, 3, [message('after')])).toBe(0n);
    expect(await recordCount(admin, topic)).toBe(2);
  });

  it('reports a refused batch as rejected (nothing written), and writes the next batch normally', async () => {
    const topic = await createTopic(admin, 1);
    const failure = await send(engine, topic, 0, [message('x'.repeat(2 * 1024 * 1024))]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({ code: 'KAFKA_REJECTED' });
    expect(await send(engine, topic, 0, [message('next')])).toBe(0n);
    expect(await recordCount(admin, topic)).toBe(1);
  });

  it('through the writer, a batch Kafka refuses for one request’s record fails that request only', async () => {
    const writer = new PartitionWriter(
      engine,
      { maxBatchMessages: 1000, maxBatchBytes: 8 * 1024 * 1024 },
      new SidecarMetrics(new Registry(), { defaultMetrics: false }),
    );
    const record = (value: string): OutgoingRecord => ({ message: message(value), bytes: value.length });
    const tooLarge = 'x'.repeat(2 * 1024 * 1024);
    const topic = await createTopic(admin, 1);
    // Written in one turn, the two requests share one batch, which the broker refuses whole (over max.message.bytes).
    const fine = writer.write(topic, 0, [record('fine')], 'ordered');
    const refused = writer.write(topic, 0, [record(tooLarge)], 'ordered');
    expect(await fine).toEqual({ offsets: ['0'] });
    expect((await refused).error).toMatchObject({ code: 'KAFKA_REJECTED', retriable: false });
    // The refused request first: the one behind it is not written, but may be sent again (never attempted).
    const refusedFirst = writer.write(topic, 0, [record(tooLarge)], 'ordered');
    const behind = writer.write(topic, 0, [record('behind')], 'ordered');
    expect((await refusedFirst).error).toMatchObject({ code: 'KAFKA_REJECTED', retriable: false });
    expect((await behind).error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect(await writer.write(topic, 0, [record('behind')], 'ordered')).toEqual({ offsets: ['1'] });
    expect(await recordCount(admin, topic)).toBe(2);
  });

  it('through a lingering writer, writes of two partitions made in different turns share one Produce request', async () => {
    const registry = new Registry();
    const writer = new PartitionWriter(
      engine,
      { maxBatchMessages: 1000, maxBatchBytes: 8 * 1024 * 1024, lingerMs: 300 },
      new SidecarMetrics(registry, { defaultMetrics: false }),
    );
    const record = (value: string): OutgoingRecord => ({ message: message(value), bytes: value.length });
    const topic = await createTopic(admin, 2);
    await engine.partitionCount(topic);
    const first = writer.write(topic, 0, [record('a'), record('b')], 'ordered');
    await new Promise((resolve) => setImmediate(resolve));
    const second = writer.write(topic, 1, [record('c')], 'ordered');
    expect(await Promise.all([first, second])).toEqual([{ offsets: ['0', '1'] }, { offsets: ['0'] }]);
    const requests = await registry.getSingleMetric('ordered_sidecar_kafka_produce_requests_total')?.get();
    // kafkajs cannot tell a shared request's partitions apart (leaderOf is undefined): one request each.
    expect(requests?.values[0]?.value).toBe(engine.leaderOf(topic, 0) === undefined ? 2 : 1);
    expect((await consumeAll(kafka, admin, topic)).map((r) => `${r.partition}:${r.value}`).sort()).toEqual(['0:a', '0:b', '1:c']);
  });

  it('answers metadata and ping asked on every turn of the event loop while it still connects', async () => {
    // The sidecar connects in the background, so its first produce can ask for metadata mid-connect. Asking on
    // every turn until connect() settles lands calls in each step of the connect, including the one where
    // kafkajs's Broker had a socket but no ApiVersions yet (which failed "Broker not connected").
    const topic = await createTopic(admin, 2);
    const fresh = await createKafkaEngine(name, testConnection(`engine-test-${name}-connecting`), { writeTimeoutMs: 10_000, compression: 'none' }, log);
    try {
      let connected = false;
      const connecting = fresh.connect().finally(() => (connected = true));
      const calls: Promise<unknown>[] = [];
      while (!connected && calls.length < 400) {
        calls.push(fresh.partitionCount(topic), fresh.ping());
        await new Promise((resolve) => setImmediate(resolve));
      }
      await connecting;
      const failures = (await Promise.allSettled(calls)).filter((r) => r.status === 'rejected');
      expect(failures.map((f) => String(f.reason))).toEqual([]);
      expect(calls.length).toBeGreaterThan(0);
      await expect(fresh.partitionCount(topic)).resolves.toBe(2);
    } finally {
      await fresh.close();
    }
  });

  it('answers ping while a broker answers', async () => {
    await expect(engine.ping()).resolves.toBeUndefined();
  });

  it('fails a send to a cluster that never answers, and a ping of it', async () => {
    const broker = await silentBroker();
    const hung = await createKafkaEngine(
      name,
      testConnection(`engine-test-${name}-hung`, [broker.address]),
      { writeTimeoutMs: 5000, compression: 'none' },
      log,
    );
    try {
      await expect(send(hung, 'any-topic', 0, [message('lost')])).rejects.toThrow();
      await expect(hung.ping()).rejects.toThrow();
    } finally {
      await hung.close();
      await broker.close();
    }
  });
});
