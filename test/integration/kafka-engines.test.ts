import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { createKafkaEngine } from '../../src/kafka/create-engine.ts';
import { KAFKA_CLIENTS, type EngineMessage, type KafkaEngine } from '../../src/kafka/kafka-engine.ts';
import { fromKafkaError } from '../../src/kafka/kafka-errors.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { connectAdmin, consumeAll, createTopic, recordCount, testConnection, testKafka } from '../support/kafka.ts';

const log = createLogger('error', { test: true });
const message = (value: string | null, key: string | null = null, headers: Record<string, string> = {}): EngineMessage => ({ key, value, headers });

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

let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  kafka = testKafka();
  admin = await connectAdmin(kafka);
});

afterAll(async () => {
  await admin?.disconnect();
});

describe.each(KAFKA_CLIENTS)('the %s engine', (name) => {
  let engine: KafkaEngine;

  beforeAll(async () => {
    engine = createKafkaEngine(name, testConnection(`engine-test-${name}`), 10_000, log);
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
    expect(await engine.send(topic, 2, [message('a', null, { 'message-group': 'g1' }), message(null, 'k'), message('c')])).toBe(0n);
    expect(await engine.send(topic, 2, [message('d')])).toBe(3n);
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
    await engine.send(topic, 0, [{ key: binary, value: 'żółw €', headers: { h: 'ü' } }]);
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

  it('reads partition counts, and undefined for a topic that does not exist', async () => {
    const topic = await createTopic(admin, 5);
    expect(await engine.partitionCount(topic)).toBe(5);
    expect(await engine.partitionCount(`${topic}-missing`)).toBeUndefined();
  });

  it('never writes a batch for a partition the topic does not have to another partition', async () => {
    const topic = await createTopic(admin, 2);
    const failure = await engine.send(topic, 3, [message('stray')]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeDefined();
    expect(await recordCount(admin, topic)).toBe(0);
  });

  it('writes to a partition added after it first saw the topic', async () => {
    const topic = await createTopic(admin, 2);
    await engine.send(topic, 1, [message('before')]);
    await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
    expect(await engine.send(topic, 3, [message('after')])).toBe(0n);
    expect(await recordCount(admin, topic)).toBe(2);
  });

  it('reports a refused batch as rejected (nothing written), and writes the next batch normally', async () => {
    const topic = await createTopic(admin, 1);
    const failure = await engine.send(topic, 0, [message('x'.repeat(2 * 1024 * 1024))]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(fromKafkaError(failure, 'writing').code).toBe('KAFKA_REJECTED');
    expect(await engine.send(topic, 0, [message('next')])).toBe(0n);
    expect(await recordCount(admin, topic)).toBe(1);
  });

  it('answers metadata and ping asked on every turn of the event loop while it still connects', async () => {
    // The sidecar connects in the background, so its first produce can ask for metadata mid-connect. Asking on
    // every turn until connect() settles lands calls in each step of the connect, including the one where
    // kafkajs's Broker had a socket but no ApiVersions yet (which failed "Broker not connected").
    const topic = await createTopic(admin, 2);
    const fresh = createKafkaEngine(name, testConnection(`engine-test-${name}-connecting`), 10_000, log);
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
    const hung = createKafkaEngine(name, testConnection(`engine-test-${name}-hung`, [broker.address]), 5000, log);
    try {
      await expect(hung.send('any-topic', 0, [message('lost')])).rejects.toThrow();
      await expect(hung.ping()).rejects.toThrow();
    } finally {
      await hung.close();
      await broker.close();
    }
  });
});
