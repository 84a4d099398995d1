import { connect, type Socket } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { logLevel } from 'kafkajs';
import { AbortError, Client, type OrderedProduceResult } from '../../src/sdk/index.ts';
import { createTopic, useKafkaAdmin } from '../support/kafka.ts';
import { freePort } from '../support/ports.ts';
import { readTopic, recordingLogger } from './records.ts';

const { kafka, admin } = useKafkaAdmin();

/** Kafka's Produce request (api key 0). */
const PRODUCE = 0;

/**
 * A kafkajs socketFactory that, once armed, lets the next Produce request reach the broker but drops its
 * response: the broker appends the batch, kafkajs times the request out and retries it. `dropped` resolves
 * when that request has been written to the broker.
 */
function responseDropper(): { socketFactory: (args: { host: string; port: number; onConnect: () => void }) => Socket; dropped: Promise<void> } {
  let armed = true;
  let dropCorrelation: number | undefined;
  let sent!: () => void;
  const dropped = new Promise<void>((resolve) => (sent = resolve));
  const socketFactory = ({ host, port, onConnect }: { host: string; port: number; onConnect: () => void }): Socket => {
    const socket = connect({ host, port }, onConnect);
    const write = socket.write.bind(socket) as (buf: unknown, ...rest: unknown[]) => boolean;
    (socket as { write: unknown }).write = (buf: unknown, ...rest: unknown[]): boolean => {
      // Request frame: size (4), api key (2), api version (2), correlation id (4).
      if (armed && Buffer.isBuffer(buf) && buf.length >= 12 && buf.readInt16BE(4) === PRODUCE) {
        armed = false;
        dropCorrelation = buf.readInt32BE(8);
        const written = write(buf, ...rest);
        sent();
        return written;
      }
      return write(buf, ...rest);
    };
    let pending = Buffer.alloc(0);
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    (socket as { emit: unknown }).emit = (event: string | symbol, ...args: unknown[]): boolean => {
      if (event !== 'data') return emit(event, ...args);
      // Response frame: size (4), correlation id (4); frames are re-emitted one by one, the dropped one never.
      pending = Buffer.concat([pending, args[0] as Buffer]);
      while (pending.length >= 8) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        const frame = pending.subarray(0, 4 + size);
        pending = pending.subarray(4 + size);
        if (frame.readInt32BE(4) !== dropCorrelation) emit('data', Buffer.from(frame));
      }
      return true;
    };
    return socket;
  };
  return { socketFactory, dropped };
}

/** A client on the Kafka fallback (nothing listens at its sidecar url) whose first Produce response is lost. */
async function droppingClient(): Promise<{ client: Client; dropped: Promise<void> }> {
  const { socketFactory, dropped } = responseDropper();
  const client = new Client({
    url: `http://127.0.0.1:${await freePort()}`,
    probeMaxElapsedMs: 300,
    retry: { initialBackoffMs: 10 },
    logger: recordingLogger(),
    fallback: { kafka: { brokers: inject('kafkaBrokers'), socketFactory, requestTimeout: 1500, logLevel: logLevel.NOTHING } },
  });
  expect(await client.mode()).toBe('kafka');
  return { client, dropped };
}

/** Values in Kafka by offset, for a one-partition topic. */
async function kafkaValues(topic: string): Promise<Map<string, string>> {
  const records = await readTopic(kafka, admin, topic);
  expect(records.every((r) => r.partition === 0)).toBe(true);
  return new Map(records.map((r) => [r.offset, r.value!.toString()]));
}

const writtenAt = (result: OrderedProduceResult): string => {
  const m = result.messages[0]!;
  expect(m.status).toBe('written');
  return m.status === 'written' ? m.offset : '';
};

describe('Kafka fallback: one batch in flight per partition (sends of different groups sharing a partition)', () => {
  it('a lost Produce response and a concurrent send of another group: each message is in Kafka once, at the offset reported', async () => {
    const topic = await createTopic(admin, 1);
    const { client } = await droppingClient();
    try {
      const producer = client.orderedProducer();
      const [a, b] = await Promise.all([
        producer.sendSingleOrderedMessage(topic, 'group-A', null, 'A'),
        producer.sendSingleOrderedMessage(topic, 'group-B', null, 'B'),
      ]);
      const offsets = [writtenAt(a), writtenAt(b)];
      expect(new Set(offsets).size).toBe(2);
      const inKafka = await kafkaValues(topic);
      expect([...inKafka.values()].sort()).toEqual(['A', 'B']);
      expect(inKafka.get(offsets[0]!)).toBe('A');
      expect(inKafka.get(offsets[1]!)).toBe('B');
    } finally {
      await client.close();
    }
  }, 60_000);

  it('a batch abandoned on abort keeps its partition until kafkajs settles it: the next send neither overtakes nor duplicates it', async () => {
    const topic = await createTopic(admin, 1);
    const { client, dropped } = await droppingClient();
    try {
      const producer = client.orderedProducer();
      const abandon = new AbortController();
      const a = producer.sendSingleOrderedMessage(topic, 'group-A', null, 'A', { signal: abandon.signal }).catch((e: unknown) => e);
      // A's request reached the broker and its answer is lost: kafkajs will time it out and retry it.
      await dropped;
      abandon.abort();
      const aborted = await a;
      expect(aborted).toBeInstanceOf(AbortError);
      expect((aborted as AbortError).result?.messages[0]).toMatchObject({ status: 'unknown', messageGroup: 'group-A' });

      // C waits behind A for the partition and is aborted there: nothing of it is sent, so it failed, not in doubt.
      const giveUp = new AbortController();
      const b = producer.sendSingleOrderedMessage(topic, 'group-B', null, 'B');
      const c = producer.sendSingleOrderedMessage(topic, 'group-C', null, 'C', { signal: giveUp.signal }).catch((e: unknown) => e);
      // Well inside A's request timeout (1.5 s): C has reached the fallback and waits there.
      await new Promise((resolve) => setTimeout(resolve, 200));
      giveUp.abort();
      const cAborted = await c;
      expect(cAborted).toBeInstanceOf(AbortError);
      expect((cAborted as AbortError).result?.messages[0]).toMatchObject({ status: 'failed', messageGroup: 'group-C' });
      expect(producer.inDoubt(topic, 'group-C')).toEqual([]);

      const bOffset = writtenAt(await b);
      const inKafka = await kafkaValues(topic);
      expect([...inKafka.values()].sort()).toEqual(['A', 'B']);
      expect(inKafka.get(bOffset)).toBe('B');
    } finally {
      await client.close();
    }
  }, 60_000);
});
