import { Producer, UserError } from '@platformatic/kafka';
import type { Logger } from '../logging/logger.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { reportRefusal } from './connection-problem.ts';
import { platformaticSecurity } from './kafka-security.ts';
import type { EngineMessage, KafkaEngine } from './kafka-engine.ts';
import { retryBudget, type RetryBudget } from '../sdk/retry-budget.ts';

type Payload = Buffer | string | null;
type PlatformaticProducer = Producer<Payload, Payload, string, string>;

/** How long the producer trusts a topic's cached leaders and partition count (the library's default is 5 s). */
const METADATA_MAX_AGE_MS = 60_000;
/** A cached entry this close to expiry is refreshed first, so the library cannot find it expired mid-send. */
const METADATA_EXPIRY_MARGIN_MS = 1000;

const toBuffer = (data?: Payload): Buffer | undefined =>
  data === undefined || data === null ? undefined : typeof data === 'string' ? Buffer.from(data) : data;

/** Header names repeat on every record (`message-group` always): each is encoded once, up to a bound. */
const headerNames = new Map<string, Buffer>();
const MAX_CACHED_HEADER_NAMES = 1000;
function headerName(name?: string): Buffer | undefined {
  if (name === undefined) return undefined;
  let encoded = headerNames.get(name);
  if (!encoded) {
    encoded = Buffer.from(name);
    if (headerNames.size < MAX_CACHED_HEADER_NAMES) headerNames.set(name, encoded);
  }
  return encoded;
}

const SERIALIZERS = { key: toBuffer, value: toBuffer, headerKey: headerName, headerValue: toBuffer };

/** A partition beyond the topic's count even after a fresh metadata read: Kafka's own name for it. */
class UnknownPartitionError extends Error {
  readonly apiId = 'UNKNOWN_TOPIC_OR_PARTITION';
}

/** A send that outlived the write deadline; its batch may or may not be in Kafka. */
class WriteDeadlineError extends Error {}

/** The library does not log; failed writes are logged here, the first at once and then at most this often. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * @platformatic/kafka's idempotent producer, adapted to the KafkaEngine guarantees (docs/engines.md):
 * - it already retries a batch with the same producer id and sequence numbers, and drops both after any
 *   failed send, so the next send starts a fresh producer id;
 * - but it reads the producer id when `send` is called and takes the sequence numbers only once the topic's
 *   metadata is at hand. Were that read to wait on the network while another partition's failure reset the
 *   sequences, the batch would carry the old id with a restarted sequence, which the broker may take for a
 *   duplicate of an earlier batch and silently drop. So `send` is only called once the producer id and a fresh
 *   metadata entry for the topic are in memory: the library then reaches its sequence snapshot synchronously;
 * - it folds a partition beyond the cached count onto another partition (`partition % count`); a send to a
 *   partition the cached metadata does not have refreshes it first and fails if the partition is still missing;
 * - its retry layers (stale metadata, lost producer state) can outlast one retry budget, so the write deadline
 *   is enforced here: a send still pending at the deadline fails, and its producer is closed (ending its
 *   retries) and replaced by a fresh one, so nothing of that batch can land after a later batch.
 */
export class PlatformaticEngine implements KafkaEngine {
  readonly name = 'platformatic';
  readonly #connection: KafkaConnection;
  readonly #budget: RetryBudget;
  readonly #writeTimeoutMs: number;
  readonly #log: Logger;
  #producer: PlatformaticProducer;
  #initializing: Promise<unknown> | undefined;
  #closed = false;
  #lastFailureLog = Number.NEGATIVE_INFINITY;
  #unloggedFailures = 0;

  constructor(connection: KafkaConnection, writeTimeoutMs: number, log: Logger) {
    this.#connection = connection;
    this.#budget = retryBudget(writeTimeoutMs);
    this.#writeTimeoutMs = writeTimeoutMs;
    this.#log = log;
    this.#producer = this.#create();
  }

  async connect(): Promise<void> {
    await this.#initProducerId(this.#producer);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#producer.close(true).catch((err: unknown) => this.#log.warn('closing the Kafka producer failed', { err }));
  }

  send(topic: string, partition: number, messages: EngineMessage[]): Promise<bigint> {
    if (this.#closed) return Promise.reject(new Error('the Kafka producer is shut down'));
    const producer = this.#producer;
    return new Promise<bigint>((resolve, reject) => {
      let settled = false;
      const deadline = setTimeout(() => {
        settled = true;
        this.#replace(producer, { topic, partition });
        reject(new WriteDeadlineError(`no answer from Kafka within the write deadline of ${this.#writeTimeoutMs} ms; the batch may or may not be in Kafka`));
      }, this.#writeTimeoutMs);
      this.#sendWhenReady(producer, topic, partition, messages).then(
        (offset) => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          resolve(offset);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          this.#logFailure(topic, partition, err);
          reject(err);
        },
      );
    });
  }

  async partitionCount(topic: string): Promise<number | undefined> {
    try {
      const metadata = await this.#producer.metadata({ topics: [topic], forceUpdate: true });
      return metadata.topics.get(topic)?.partitionsCount || undefined;
    } catch (err) {
      // The library turns Kafka's UNKNOWN_TOPIC_OR_PARTITION answer to a metadata request into this one.
      if (err instanceof UserError && err.message.startsWith('Unknown topic ')) return undefined;
      throw err;
    }
  }

  /** One attempt, no retries: readiness asks again soon enough, and must say "no" while it still matters. */
  async ping(): Promise<void> {
    try {
      await this.#producer.metadata({ topics: [], forceUpdate: true, retries: 0 });
    } catch (err) {
      // The library logs nothing itself: a refused login or certificate is reported (once per cause) here.
      reportRefusal(this.#connection.problem, err, this.#log);
      throw err;
    }
  }

  async #sendWhenReady(producer: PlatformaticProducer, topic: string, partition: number, messages: EngineMessage[]): Promise<bigint> {
    let refreshed = false;
    for (;;) {
      if (producer.closed) throw new Error('the Kafka producer was replaced before this batch was sent; nothing of it was written');
      if (producer.producerId === undefined) {
        await this.#initProducerId(producer);
        continue;
      }
      const cached = producer.currentMetadata?.topics.get(topic);
      const fresh = cached !== undefined && cached.lastUpdate > Date.now() - METADATA_MAX_AGE_MS + METADATA_EXPIRY_MARGIN_MS;
      if (!fresh || cached.partitionsCount <= partition) {
        if (fresh && refreshed) throw new UnknownPartitionError(`topic "${topic}" has no partition ${partition} (it has ${cached.partitionsCount})`);
        await producer.metadata({ topics: [topic], forceUpdate: true });
        refreshed = true;
        continue;
      }
      // Producer id and metadata are in memory: from here to the library's sequence snapshot nothing waits.
      const result = await producer.send({ messages: messages.map((m) => ({ topic, partition, key: m.key, value: m.value, headers: m.headers })) });
      const offset = result.offsets?.find((o) => o.partition === partition)?.offset;
      if (offset === undefined) throw new Error(`Kafka returned no offset for ${topic}/${partition}`);
      return offset;
    }
  }

  /** Broker trouble shows in the log as kafkajs's own warnings did, without a line per failed batch. */
  #logFailure(topic: string, partition: number, err: unknown): void {
    const now = performance.now();
    if (now - this.#lastFailureLog < FAILURE_LOG_INTERVAL_MS) {
      this.#unloggedFailures++;
      return;
    }
    this.#log.warn('Kafka write failed', { topic, partition, err, failedWritesNotLoggedSinceLast: this.#unloggedFailures });
    this.#lastFailureLog = now;
    this.#unloggedFailures = 0;
  }

  /** Concurrent sends waiting for a producer id share one InitProducerId request. */
  #initProducerId(producer: PlatformaticProducer): Promise<unknown> {
    if (this.#initializing) return this.#initializing;
    const initializing = producer.initIdempotentProducer({}).finally(() => {
      if (this.#initializing === initializing) this.#initializing = undefined;
    });
    this.#initializing = initializing;
    return initializing;
  }

  #create(): PlatformaticProducer {
    const { retries, initialRetryTime, maxRetryTime, requestTimeout } = this.#budget;
    return new Producer<Payload, Payload, string, string>({
      clientId: this.#connection.clientId,
      bootstrapBrokers: this.#connection.brokers,
      ...platformaticSecurity(this.#connection.security),
      serializers: SERIALIZERS,
      idempotent: true,
      acks: -1,
      autocreateTopics: false,
      // Bounded (at least 2: the library turns fewer into unlimited retries for an idempotent producer).
      retries,
      retryDelay: (_client, _operation, attempt) => Math.min(maxRetryTime, initialRetryTime * 2 ** (attempt - 1)),
      // The client-side bound of one request, and the broker's wait for in-sync replicas sent with it.
      requestTimeout,
      timeout: requestTimeout,
      connectTimeout: requestTimeout,
      metadataMaxAge: METADATA_MAX_AGE_MS,
    });
  }

  /** Ends `producer`'s retries (closing it fails everything it still has in flight) and puts a fresh one in its place. */
  #replace(producer: PlatformaticProducer, where: { topic: string; partition: number }): void {
    if (producer !== this.#producer || this.#closed) return;
    this.#producer = this.#create();
    this.#initializing = undefined;
    this.#log.warn('a Kafka write outlived its deadline; replaced the producer (fresh producer id, retries of the old one ended)', {
      ...where,
      writeTimeoutMs: this.#writeTimeoutMs,
    });
    void producer.close(true).catch((err: unknown) => this.#log.warn('closing the replaced Kafka producer failed', { err }));
  }
}
