import { CompressionTypes, type Admin } from 'kafkajs';
import type { KafkaCompression } from '../config/options.ts';
import { kafkajsClient } from './kafkajs-client.ts';
import type { Logger } from '../logging/logger.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import type { KafkaEngine, ProducerSettings } from './kafka-engine.ts';
import { fromKafkaError } from './kafka-errors.ts';
import type { BatchOutcome, PartitionBatch } from '../writer/send-port.ts';
import { ResettableProducer, SendAbandonedError, SendNotStartedError } from '../sdk/resettable-producer.ts';
import { retryBudget, type RetryBudget } from '../retry/retry.ts';
import { SidecarError } from '../errors/sidecar-error.ts';

const KAFKAJS_CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
} as const satisfies Record<KafkaCompression, CompressionTypes>;

/**
 * kafkajs (KAFKA_CLIENT=kafkajs). Its idempotent producer keeps a failed batch's sequence numbers, so the
 * producer is replaced after every failed send (ResettableProducer); its retries and request timeouts are
 * derived from the write deadline (src/retry/retry.ts). That budget bounds kafkajs's `send` alone, not the
 * wait for a replacement or a connect before it (nor kafkajs's reconnects inside it), so the deadline is
 * also enforced here, on the whole send: a batch still waiting for the producer at the deadline fails as
 * never sent; one kafkajs still has fails as of unknown fate, and the producer is replaced once kafkajs's
 * send settles (later batches wait for that, each within its own deadline).
 */
export class KafkajsEngine implements KafkaEngine {
  readonly name = 'kafkajs';
  readonly #admin: Admin;
  readonly #producer: ResettableProducer;
  readonly #writeTimeoutMs: number;
  readonly #budget: RetryBudget;
  /** The last admin call queued; each next one waits for it (see #oneAtATime). */
  #adminTail: Promise<unknown> = Promise.resolve();

  constructor(connection: KafkaConnection, { writeTimeoutMs, compression }: ProducerSettings, log: Logger) {
    const budget = retryBudget(writeTimeoutMs);
    this.#budget = budget;
    this.#writeTimeoutMs = writeTimeoutMs;
    const kafka = kafkajsClient(connection, log, { retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 }, requestTimeout: budget.requestTimeout });
    this.#admin = kafka.admin();
    this.#producer = new ResettableProducer(kafka, log, budget, KAFKAJS_CODECS[compression]);
  }

  async connect(): Promise<void> {
    await Promise.all([this.#oneAtATime(() => this.#admin.connect()), this.#producer.connect()]);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#producer.disconnect(), this.#admin.disconnect()]);
  }

  /**
   * Never a leader: kafkajs answers a multi-partition `sendBatch` with all or nothing (one error for the whole
   * request, no partition's offset), so sharing a request would turn one partition's failure into unknown
   * outcomes for all of them. Each partition goes in a request of its own, as before.
   */
  leaderOf(): undefined {
    return undefined;
  }

  sendBatches(batches: readonly PartitionBatch[]): Promise<BatchOutcome[]> {
    return Promise.all(batches.map((batch) => this.#send(batch)));
  }

  async #send({ topic, partition, messages }: PartitionBatch): Promise<BatchOutcome> {
    const what = `writing to ${topic}/${partition}`;
    const giveUp = new AbortController();
    const deadline = setTimeout(() => giveUp.abort(), this.#writeTimeoutMs);
    // As in the platformatic engine: a batch is handed to kafkajs only while a metadata read and a Produce
    // request still fit before the deadline; later it fails unsent rather than in doubt.
    const handOverBy = Date.now() + this.#writeTimeoutMs - 2 * this.#budget.requestTimeout;
    try {
      const metadata = await this.#producer.send(topic, partition, messages, { signal: giveUp.signal, handOverBy });
      const baseOffset = metadata.find((m) => m.partition === partition)?.baseOffset;
      if (baseOffset === undefined) throw new Error(`Kafka returned no offset for ${topic}/${partition}`);
      return { baseOffset: BigInt(baseOffset) };
    } catch (err) {
      const within = `within the write deadline of ${this.#writeTimeoutMs} ms`;
      if (err instanceof SendNotStartedError) {
        return { error: new SidecarError('KAFKA_WRITE_FAILED', `${what}: not sent ${within} (${err.message}); resend in order`, { cause: err }) };
      }
      if (err instanceof SendAbandonedError) {
        return {
          error: new SidecarError('KAFKA_WRITE_FAILED', `${what}: no answer from Kafka ${within}; the batch may or may not be in Kafka`, { cause: err }),
        };
      }
      return { error: fromKafkaError(err, what) };
    } finally {
      clearTimeout(deadline);
    }
  }

  async partitionCount(topic: string): Promise<number | undefined> {
    try {
      const { topics } = await this.#oneAtATime(() => this.#admin.fetchTopicMetadata({ topics: [topic] }));
      return topics[0]?.partitions.length || undefined;
    } catch (err) {
      if ((err as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return undefined;
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.#oneAtATime(() => this.#admin.describeCluster());
  }

  /**
   * kafkajs's admin is not safe for concurrent calls while it (re)connects: a Broker counts as connected once
   * its socket is, before its ApiVersions answer gives it a request table, and a concurrent metadata call then
   * fails with "Broker not connected" (a first produce answered 503 when it came while the sidecar still
   * connected in the background). One admin call at a time; a failed one does not stop the next.
   */
  #oneAtATime<T>(call: () => Promise<T>): Promise<T> {
    const run = this.#adminTail.then(call);
    this.#adminTail = run.catch(() => undefined);
    return run;
  }
}
