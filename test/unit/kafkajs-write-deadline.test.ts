import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Message, RecordMetadata } from 'kafkajs';
import { KafkaConnectionProblem } from '../../src/kafka/connection-problem.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { BatchOutcome } from '../../src/writer/send-port.ts';

/**
 * The kafkajs engine's write deadline, with kafkajs replaced by fakes whose connects and sends the test settles:
 * the engine must answer every batch within KAFKA_WRITE_TIMEOUT, whether it waited for a producer replacement,
 * a connect, or kafkajs's own send, and must never hand a batch to a producer whose earlier send it gave up on.
 */

/** A promise and its settlers. */
function later<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (err: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

interface FakeSend {
  partition: number;
  answer: ReturnType<typeof later<RecordMetadata[]>>;
}

/** One kafkajs producer: its connect and each send wait until the test settles them. */
class FakeProducer {
  readonly connecting = later();
  readonly sends: FakeSend[] = [];
  disconnected = false;
  connect = (): Promise<void> => this.connecting.promise;
  disconnect = async (): Promise<void> => {
    this.disconnected = true;
  };
  send = ({ messages }: { messages: Message[] }): Promise<RecordMetadata[]> => {
    const answer = later<RecordMetadata[]>();
    this.sends.push({ partition: messages[0]!.partition!, answer });
    return answer.promise;
  };
}

const producers: FakeProducer[] = [];
const fakeKafka = {
  producer: (): FakeProducer => {
    const producer = new FakeProducer();
    producers.push(producer);
    return producer;
  },
  admin: () => ({ connect: async () => undefined, disconnect: async () => undefined }),
};

vi.mock('../../src/kafka/kafkajs-client.ts', () => ({ kafkajsClient: () => fakeKafka }));

const { KafkajsEngine } = await import('../../src/kafka/kafkajs-engine.ts');

const WRITE_TIMEOUT_MS = 500;
/** Timer slack on a shared machine. */
const SLACK_MS = 300;
const log = createLogger('error', { test: true });
const written = (partition: number, offset: string): RecordMetadata[] => [{ topicName: 't', partition, errorCode: 0, baseOffset: offset }];

const newEngine = () =>
  new KafkajsEngine(
    { brokers: ['127.0.0.1:1'], clientId: 'deadline-test', security: {}, problem: new KafkaConnectionProblem() },
    { writeTimeoutMs: WRITE_TIMEOUT_MS, compression: 'none' },
    log,
  );

/** Sends one batch; its outcome and how long it took. */
async function timedSend(engine: InstanceType<typeof KafkajsEngine>, partition: number): Promise<{ outcome: BatchOutcome; ms: number }> {
  const started = performance.now();
  const [outcome] = await engine.sendBatches([{ topic: 't', partition, messages: [{ key: null, value: `p${partition}`, headers: {} }] }]);
  return { outcome: outcome!, ms: performance.now() - started };
}

const errorOf = (outcome: BatchOutcome) => ('error' in outcome ? outcome.error : undefined);
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

afterEach(() => {
  producers.length = 0;
});

describe('the kafkajs engine and its write deadline', () => {
  it('answers a batch that waited for a producer replacement within the deadline, as not sent, and never sends it later', async () => {
    const engine = newEngine();
    const first = producers[0]!;
    first.connecting.resolve();
    // A send to p1 fails: the producer is replaced, and the new one's connect hangs (kafkajs's connect retries).
    const p1 = timedSend(engine, 1);
    await tick();
    first.sends[0]!.answer.reject(new Error('the broker went away'));
    expect(errorOf((await p1).outcome)?.retriable).toBe(true);

    const p3 = await timedSend(engine, 3);
    expect(p3.ms).toBeLessThan(WRITE_TIMEOUT_MS + SLACK_MS);
    const error = errorOf(p3.outcome);
    expect(error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect(error?.message).toMatch(/nothing of it was written/);

    // The replacement completes after the deadline: the batch answered as not sent must not go out now.
    expect(producers).toHaveLength(2);
    producers[1]!.connecting.resolve();
    await tick();
    expect(producers.flatMap((p) => p.sends).map((s) => s.partition)).toEqual([1]);
    await engine.close();
  });

  it('answers a batch kafkajs holds past the deadline as of unknown fate, and replaces the producer before the next send', async () => {
    const engine = newEngine();
    const first = producers[0]!;
    first.connecting.resolve();
    const hung = await timedSend(engine, 1);
    expect(hung.ms).toBeLessThan(WRITE_TIMEOUT_MS + SLACK_MS);
    const error = errorOf(hung.outcome);
    expect(error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect(error?.message).toMatch(/may or may not be in Kafka/);

    // kafkajs is still retrying that batch: a send now must not be handed to the same producer (its
    // sequence numbers could then be reused), and is answered, not sent, within its own deadline.
    const waiting = await timedSend(engine, 3);
    expect(waiting.ms).toBeLessThan(WRITE_TIMEOUT_MS + SLACK_MS);
    expect(errorOf(waiting.outcome)?.message).toMatch(/nothing of it was written/);
    expect(first.sends.map((s) => s.partition)).toEqual([1]);

    // Even when kafkajs's send ends in success after the deadline, the producer is replaced.
    first.sends[0]!.answer.resolve(written(1, '0'));
    await tick();
    expect(first.disconnected).toBe(true);
    expect(producers).toHaveLength(2);
    const next = producers[1]!;
    next.connecting.resolve();
    const sending = timedSend(engine, 3);
    await tick();
    expect(next.sends.map((s) => s.partition)).toEqual([3]);
    next.sends[0]!.answer.resolve(written(3, '7'));
    expect((await sending).outcome).toEqual({ baseOffset: 7n });
    await engine.close();
  });

  it('bounds a connect that hangs by the deadline, as not sent', async () => {
    const engine = newEngine();
    const stuck = await timedSend(engine, 0);
    expect(stuck.ms).toBeLessThan(WRITE_TIMEOUT_MS + SLACK_MS);
    expect(errorOf(stuck.outcome)?.message).toMatch(/nothing of it was written/);
    producers[0]!.connecting.resolve();
    await tick();
    expect(producers[0]!.sends).toEqual([]);
    await engine.close();
  });
});
