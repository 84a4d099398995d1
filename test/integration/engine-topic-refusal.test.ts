import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaEngine } from '../../src/kafka/create-engine.ts';
import { KAFKA_CLIENTS, type KafkaEngine } from '../../src/kafka/kafka-engine.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { consumeAll, createTopic, testConnection, useKafkaAdmin } from '../support/kafka.ts';

/**
 * One call to the engine carries batches of two topics, and Kafka will not describe one of them (it does not
 * exist): only that topic's batch fails; the other is written, once.
 */

const log = createLogger('error', { test: true });
const { kafka, admin } = useKafkaAdmin();

describe.each(KAFKA_CLIENTS)('the %s engine, a topic Kafka refuses beside one it takes', (name) => {
  let engine: KafkaEngine;

  beforeAll(async () => {
    engine = await createKafkaEngine(name, testConnection(`engine-refusal-${name}`), { writeTimeoutMs: 20_000, compression: 'none' }, log);
    await engine.connect();
  });

  afterAll(async () => {
    await engine?.close();
  });

  it('fails the refused topic’s batch alone and writes the other', async () => {
    const live = await createTopic(admin, 1);
    const missing = `${live}-never-made`;
    const outcomes = await engine.sendBatches([
      { topic: live, partition: 0, messages: [{ key: null, value: 'kept', headers: {} }] },
      { topic: missing, partition: 0, messages: [{ key: null, value: 'refused', headers: {} }] },
    ]);
    expect(outcomes[0]).toEqual({ baseOffset: 0n });
    // Retriable: the produce path answers UNKNOWN_TOPIC before it writes; a topic gone since is a failed write.
    expect(outcomes[1]).toMatchObject({ error: { code: 'KAFKA_WRITE_FAILED', retriable: true, message: expect.stringContaining(missing) } });
    expect((await consumeAll(kafka, admin, live)).map((r) => r.value)).toEqual(['kept']);
  });
});
