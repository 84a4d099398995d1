import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer, type RecordMetadata } from 'kafkajs';
import type { RetryBudget } from '../retry/retry.ts';
import { untilAborted } from './abort.ts';

/** What the producer logs through: the sidecar's logger, or the SDK's adapter of the application's. */
export interface ProducerLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** A send given up (its signal fired, or its hand-over time passed) before kafkajs had the batch: nothing of it was written. */
export class SendNotStartedError extends Error {
  override name = 'SendNotStartedError';
}

/** A send given up (its signal fired) while kafkajs had the batch: it may or may not be in Kafka; kafkajs may still be retrying it. */
export class SendAbandonedError extends Error {
  override name = 'SendAbandonedError';
}

/** How a caller bounds one `send` (kafkajs has no deadline of its own for a send, nor for waiting to start one). */
export interface SendBound {
  /**
   * Ends the send when it fires: before the batch was handed to kafkajs it fails with SendNotStartedError and
   * is never handed over; after, it fails at once with SendAbandonedError while kafkajs's send runs on, and the
   * producer is replaced once that send settles, whatever its result.
   */
  signal: AbortSignal;
  /** The batch is handed to kafkajs only until this time (`Date.now()` ms); later it fails with SendNotStartedError. */
  handOverBy?: number;
}

/**
 * kafkajs retries a failed batch only inside `send`; once `send` gives up it keeps the partition's sequence
 * number, so if the failed batch had in fact been written, the broker would take the *next* batch as a
 * duplicate of it and drop it silently. The Java client avoids this by bumping the producer epoch; here the
 * same is done by replacing the producer (a new producer id restarts every sequence) after any failed send,
 * once the batches still in flight have settled. Sends wait while a replacement is under way; a caller
 * bounds that wait, the connect and the send itself with a SendBound.
 */
export class ResettableProducer {
  readonly #kafka: Kafka;
  readonly #log: ProducerLog;
  readonly #budget: RetryBudget;
  readonly #compression: CompressionTypes;
  #producer: Producer;
  #inFlight = 0;
  #settled: (() => void)[] = [];
  #connecting: Promise<void> | undefined;
  #replacing: Promise<void> | undefined;
  #closed = false;

  /**
   * `budget` bounds one send, retries included; the Kafka client should use its `requestTimeout` too.
   * `compression` other than None and GZIP needs its codec registered in kafkajs (the sidecar's kafkajs-codecs.ts).
   */
  constructor(kafka: Kafka, log: ProducerLog, budget: RetryBudget, compression: CompressionTypes) {
    this.#kafka = kafka;
    this.#log = log;
    this.#budget = budget;
    this.#compression = compression;
    this.#producer = this.#create();
  }

  /** Connects the current producer once; a failed attempt is forgotten so the next call tries again. */
  connect(): Promise<void> {
    this.#connecting ??= this.#producer.connect().catch((err: unknown) => {
      this.#connecting = undefined;
      throw err;
    });
    return this.#connecting;
  }

  /** One batch for one partition, acknowledged by all in-sync replicas; `bound` ends the send early (SendBound). */
  send = async (topic: string, partition: number, messages: Message[], bound?: SendBound): Promise<RecordMetadata[]> => {
    const metadata = await this.#sendOnce(topic, partition, messages, bound);
    if (metadata.some((m) => m.partition === partition)) return metadata;
    // kafkajs skips, without an error, partitions its cached metadata does not know yet (a topic that just
    // grew). Nothing was sent, so a fresh producer, which loads fresh metadata, may send the batch safely.
    this.#log.info('Kafka producer metadata lacks a new partition; refreshing it', { topic, partition });
    this.#replaceSoon();
    return this.#sendOnce(topic, partition, messages, bound);
  };

  async #sendOnce(topic: string, partition: number, messages: Message[], bound: SendBound | undefined): Promise<RecordMetadata[]> {
    // A replacement may start while this send connects: it is waited for too, so the batch goes to the producer
    // that is current and connected when it is handed over.
    do {
      while (this.#replacing) await untilHandedOver(this.#replacing, bound);
      if (this.#closed) throw new Error('the Kafka producer is shut down');
      await untilHandedOver(this.connect(), bound);
    } while (this.#replacing);
    if (bound?.signal.aborted) throw notStarted('its send was given up');
    if (bound?.handOverBy !== undefined && Date.now() > bound.handOverBy) throw notStarted('too little of its write deadline was left to send it');
    // Each message object belongs to one request's record for this one partition: set it in place rather
    // than copying every message of every batch (a measurable share of GC under load).
    for (const message of messages) message.partition = partition;
    this.#inFlight++;
    const sending = this.#producer
      .send({ topic, acks: -1, timeout: this.#budget.requestTimeout, compression: this.#compression, messages })
      .catch((err: unknown) => {
        // Even a refusal may end a send whose earlier attempt (retried inside kafkajs) reached the broker,
        // so any failure may leave the broker ahead of kafkajs's sequence numbers.
        this.#replaceSoon();
        throw err;
      })
      .finally(() => {
        if (--this.#inFlight === 0) for (const wake of this.#settled.splice(0)) wake();
      });
    if (!bound) return sending;
    return untilAborted(sending, bound.signal, () => {
      // kafkajs cannot cancel the send: it runs on, within its retry budget. Replacing the producer once it
      // settles (later sends wait for that) means no later batch is sent with sequences next to a batch in doubt.
      this.#replaceSoon();
      return new SendAbandonedError('its send was given up while kafkajs had it; it may or may not be in Kafka');
    });
  }

  async disconnect(): Promise<void> {
    this.#closed = true;
    while (this.#replacing) await this.#replacing;
    if (this.#connecting) await this.#producer.disconnect();
  }

  #create(): Producer {
    return this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Every record names its partition; the partitioner is never consulted, only its v2 warning silenced.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded (src/retry/retry.ts), so a partition without a leader fails its batch, and the queue behind
      // it, within the write deadline instead of hanging.
      retry: { retries: this.#budget.retries, initialRetryTime: this.#budget.initialRetryTime, maxRetryTime: this.#budget.maxRetryTime },
    });
  }

  #replaceSoon(): void {
    if (this.#replacing || this.#closed) return;
    this.#replacing = (async () => {
      while (this.#inFlight > 0) await new Promise<void>((resolve) => this.#settled.push(resolve));
      const old = this.#producer;
      this.#producer = this.#create();
      this.#connecting = undefined;
      await old.disconnect().catch(() => undefined);
      try {
        await this.connect();
        this.#log.info('replaced the Kafka producer after a failed write (fresh producer id and sequences)');
      } catch (err) {
        // The next send reconnects or fails and tries again; nothing is written with stale sequences.
        this.#log.warn('Kafka producer reconnect failed after a failed write', { err });
      }
    })().finally(() => {
      this.#replacing = undefined;
    });
  }
}

const notStarted = (why: string): SendNotStartedError => new SendNotStartedError(`not handed to kafkajs: ${why}; nothing of it was written`);

/** `work`, or a SendNotStartedError as soon as the bound's signal fires (`work` itself runs on). */
function untilHandedOver<T>(work: Promise<T>, bound: SendBound | undefined): Promise<T> {
  return untilAborted(work, bound?.signal, () => notStarted('its send was given up while it waited for the Kafka producer (a replacement or a connect)'));
}
