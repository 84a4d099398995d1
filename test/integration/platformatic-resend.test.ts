import { randomUUID } from 'node:crypto';
import { connectionsApiChannel, producerSendsChannel } from '@platformatic/kafka';
import { afterEach, describe, expect, it } from 'vitest';
import { createKafkaEngine } from '../../src/kafka/create-engine.ts';
import { platformaticSecurity } from '../../src/kafka/kafka-security.ts';
import { SharedRequestProducer, type Payload } from '../../src/kafka/platformatic-producer.ts';
import { resendWithFirstIdentity, type ResendSettings } from '../../src/kafka/platformatic-resend.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { PartitionBatch } from '../../src/writer/send-port.ts';
import { consumeAll, createTopic, recordCount, testConnection, useKafkaAdmin } from '../support/kafka.ts';

const PRODUCE_API_KEY = 0;

const { kafka, admin } = useKafkaAdmin();
const log = createLogger('error', { test: true });
const toBuffer = (data?: Payload): Buffer | undefined => (data === undefined || data === null ? undefined : Buffer.from(data));

const producers: SharedRequestProducer[] = [];
afterEach(async () => {
  await Promise.all(producers.splice(0).map((p) => p.close(true)));
});

function producer(retries: number): SharedRequestProducer {
  const connection = testConnection(`resend-test-${randomUUID().slice(0, 8)}`);
  const p = new SharedRequestProducer({
    clientId: connection.clientId,
    bootstrapBrokers: connection.brokers,
    ...platformaticSecurity(connection),
    serializers: { key: toBuffer, value: toBuffer, headerKey: toBuffer, headerValue: toBuffer },
    idempotent: true,
    acks: -1,
    autocreateTopics: false,
    retries,
    retryDelay: 50,
  });
  producers.push(p);
  return p;
}

const settings = (): ResendSettings => ({ until: Date.now() + 10_000, requestTimeout: 5000, compression: 'none', backoffMs: () => 100 });
const batchOf = (topic: string, values: string[]): PartitionBatch => ({
  topic,
  partition: 0,
  messages: values.map((value) => ({ key: null, value, headers: {} })),
});
const send = (p: SharedRequestProducer, { topic, partition, messages }: PartitionBatch) =>
  p.send({ messages: messages.map(({ value }) => ({ topic, partition, value })) });

describe('resending a batch with the producer id and sequence it was first sent with (platformatic)', () => {
  it('answers a batch that had landed with its first offset and writes nothing again', async () => {
    const topic = await createTopic(admin, 1);
    const p = producer(2);
    await send(p, batchOf(topic, ['a']));
    const batch = batchOf(topic, ['b', 'c']);
    const { offsets } = await send(p, batch);
    const as = p.sent.get(topic, 0);
    expect(as?.sequence).toBe(1);

    const settled = await resendWithFirstIdentity(p, [{ index: 0, batch, as: as! }], settings());
    expect(settled.get(0)).toEqual({ baseOffset: offsets![0]!.offset });
    expect(offsets![0]!.offset).toBe(1n);
    expect((await consumeAll(kafka, admin, topic)).map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });

  it('stops at an answer that says the identity cannot be taken, leaving the batch to the caller', async () => {
    const topic = await createTopic(admin, 1);
    const p = producer(2);
    const batch = batchOf(topic, ['only']);
    await send(p, batch);
    const as = p.sent.get(topic, 0)!;
    // A sequence the broker has not seen next from this producer id: never written, and not retried until `until`.
    const started = Date.now();
    expect(await resendWithFirstIdentity(p, [{ index: 0, batch, as: { ...as, sequence: as.sequence + 5 } }], settings())).toEqual(new Map());
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await recordCount(admin, topic)).toBe(1);
  });

  it('the engine resends a batch whose answers were all lost, under its first identity: written once, not failed', async () => {
    const topic = await createTopic(admin, 1);
    const engine = await createKafkaEngine('platformatic', testConnection('resend-test-engine'), { writeTimeoutMs: 20_000, compression: 'none' }, log);
    await engine.connect();
    // Every Produce request of the library's attempts reaches the broker, and its connection is cut before the
    // answer comes back, until the library gives up; the engine's resend then goes through.
    let libraryGaveUp = false;
    let cut = 0;
    const cutAfterWrite = (message: unknown): void => {
      const { connection, apiKey } = message as { connection?: { socket?: { destroy(): void } }; apiKey?: number };
      if (libraryGaveUp || apiKey !== PRODUCE_API_KEY || !connection?.socket) return;
      cut++;
      connection.socket.destroy();
    };
    const onGiveUp = (): void => {
      libraryGaveUp = true;
    };
    connectionsApiChannel.end.subscribe(cutAfterWrite);
    producerSendsChannel.error.subscribe(onGiveUp);
    try {
      const outcomes = await engine.sendBatches([batchOf(topic, ['1', '2', '3'])]);
      expect(libraryGaveUp).toBe(true);
      expect(cut).toBeGreaterThan(1);
      expect(outcomes).toEqual([{ baseOffset: 0n }]);
      expect((await consumeAll(kafka, admin, topic)).map((r) => r.value)).toEqual(['1', '2', '3']);
    } finally {
      connectionsApiChannel.end.unsubscribe(cutAfterWrite);
      producerSendsChannel.error.unsubscribe(onGiveUp);
      await engine.close();
    }
  });
});
