import { setTimeout as sleep } from 'node:timers/promises';
import { UserError, type MessageToProduce } from '@platformatic/kafka';
import type { KafkaCompression } from '../config/options.ts';
import type { Logger } from '../logging/logger.ts';
import type { BatchOutcome, PartitionBatch } from '../writer/send-port.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { reportRefusal } from './connection-problem.ts';
import { platformaticSecurity } from './kafka-security.ts';
import type { KafkaEngine, ProducerSettings } from './kafka-engine.ts';
import { nestedErrors } from '../protocol/kafka-refusals.ts';
import { fromKafkaError, partitionOutcomes, stillInDoubt } from './kafka-errors.ts';
import { retryBudget, type RetryBudget } from '../retry/retry.ts';
import { resendWithFirstIdentity } from './platformatic-resend.ts';
import { OWN_INIT, SharedRequestProducer, type Payload } from './platformatic-producer.ts';

type PlatformaticProducer = SharedRequestProducer;

/** How long the producer trusts a topic's cached leaders and partition count (the library's default is 5 s). */
const METADATA_MAX_AGE_MS = 60_000;
/** A cached entry this close to expiry is refreshed first, so the library cannot find it expired mid-send. */
const METADATA_EXPIRY_MARGIN_MS = 1000;
/**
 * A broker applies a topic's new partition count a moment after the controller took it, so a partition the
 * router saw may be missing from one fresh read: it is read again this many times, this far apart (within
 * the write deadline), before the batch fails as written to a partition the topic does not have.
 */
const MISSING_PARTITION_READS = 5;
const MISSING_PARTITION_RETRY_MS = 200;

/**
 * Keys, values and header values go to the encoder as they are (platformatic-produce-request.ts writes a
 * string as UTF-8): a Buffer per string would be made for every message and held while its request is in
 * flight. The library's type says Buffer, but it never reads them itself (every message has its partition,
 * so no partitioner hashes the key); the encoder is the only reader.
 */
const asGiven = (data?: Payload): Buffer | undefined => (data ?? undefined) as Buffer | undefined;

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

const SERIALIZERS = { key: asGiven, value: asGiven, headerKey: headerName, headerValue: asGiven };

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
 *   partition the cached metadata does not have refreshes it first (a few times, as a broker learns of new
 *   partitions a moment late) and fails if the partition is still missing;
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
  readonly #compression: KafkaCompression;

  constructor(connection: KafkaConnection, { writeTimeoutMs, compression }: ProducerSettings, log: Logger) {
    this.#connection = connection;
    this.#compression = compression;
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

  /** The leader in the producer's cached metadata; the writer shares one request among a leader's partitions. */
  leaderOf(topic: string, partition: number): number | undefined {
    const leader = this.#producer.currentMetadata?.topics.get(topic)?.partitions[partition]?.leader;
    // -1 is Kafka's "no leader now": such a partition goes alone, not in a request with other leaderless ones.
    return leader !== undefined && leader >= 0 ? leader : undefined;
  }

  sendBatches(batches: readonly PartitionBatch[]): Promise<BatchOutcome[]> {
    // Named only when something failed: a successful request builds no description.
    const where = (): string => describe(batches);
    const failAll = (err: unknown): BatchOutcome[] => {
      const error = fromKafkaError(err, `writing to ${where()}`);
      return batches.map(() => ({ error }));
    };
    if (this.#closed) return Promise.resolve(failAll(new Error('the Kafka producer is shut down')));
    const producer = this.#producer;
    return new Promise<BatchOutcome[]>((resolve) => {
      let settled = false;
      const deadline = setTimeout(() => {
        settled = true;
        this.#replace(producer, where());
        resolve(
          failAll(new WriteDeadlineError(`no answer from Kafka within the write deadline of ${this.#writeTimeoutMs} ms; the batch may or may not be in Kafka`)),
        );
      }, this.#writeTimeoutMs);
      // A resend of a batch in doubt (a metadata read, then a Produce request) starts only while both fit before the deadline.
      this.#sendWhenReady(producer, batches, Date.now() + this.#writeTimeoutMs - 2 * this.#budget.requestTimeout).then(
        (outcomes) => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          const failed = outcomes.find((o) => 'error' in o);
          if (failed && 'error' in failed) this.#logFailure(where(), failed.error);
          resolve(outcomes);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          this.#logFailure(where(), err);
          resolve(failAll(err));
        },
      );
    });
  }

  /**
   * The library counts Kafka's UNKNOWN_TOPIC_OR_PARTITION answer as retriable, and would retry it with the
   * write budget's backoff (7 s with the defaults) before saying the topic does not exist; here it is an
   * answer, as on kafkajs. So the first ask makes one attempt, and only a failure of another kind is asked
   * again with the retries.
   */
  async partitionCount(topic: string): Promise<number | undefined> {
    try {
      return await this.#partitionCount(topic, 0);
    } catch (err) {
      if (isUnknownTopic(err)) return undefined;
    }
    try {
      return await this.#partitionCount(topic, this.#budget.retries);
    } catch (err) {
      if (isUnknownTopic(err)) return undefined;
      throw err;
    }
  }

  async #partitionCount(topic: string, retries: number): Promise<number | undefined> {
    const metadata = await this.#producer.metadata({ topics: [topic], forceUpdate: true, retries });
    return metadata.topics.get(topic)?.partitionsCount || undefined;
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

  /**
   * Sends the batches in one `send` once the producer id and fresh metadata for their topics are in memory.
   * A batch for a partition the topic still lacks after a fresh read fails on its own, unsent.
   */
  async #sendWhenReady(producer: PlatformaticProducer, batches: readonly PartitionBatch[], until: number): Promise<BatchOutcome[]> {
    const outcomes = new Array<BatchOutcome | undefined>(batches.length);
    const reads = new Map<string, number>();
    for (;;) {
      if (producer.closed) throw new Error('the Kafka producer was replaced before this batch was sent; nothing of it was written');
      if (producer.producerId === undefined) {
        await this.#initProducerId(producer);
        continue;
      }
      const stale = new Set<string>();
      let waitForGrowth = false;
      batches.forEach(({ topic, partition }, i) => {
        if (outcomes[i]) return;
        const cached = producer.currentMetadata?.topics.get(topic);
        const fresh = cached !== undefined && cached.lastUpdate > Date.now() - METADATA_MAX_AGE_MS + METADATA_EXPIRY_MARGIN_MS;
        if (fresh && cached.partitionsCount > partition) return;
        const read = reads.get(topic) ?? 0;
        if (!fresh || read === 0) {
          stale.add(topic);
        } else if (read < MISSING_PARTITION_READS && Date.now() + MISSING_PARTITION_RETRY_MS < until) {
          stale.add(topic);
          waitForGrowth = true;
        } else {
          const missing = new UnknownPartitionError(`topic "${topic}" has no partition ${partition} (it has ${cached.partitionsCount})`);
          outcomes[i] = { error: fromKafkaError(missing, `writing to ${topic}/${partition}`) };
        }
      });
      if (stale.size > 0) {
        if (waitForGrowth) await sleep(MISSING_PARTITION_RETRY_MS);
        // A topic whose metadata Kafka refuses (deleted, not authorised) fails its own batches only: the batches
        // of other topics sharing this request go on, never taking its refusal for theirs.
        for (const [topic, err] of await refreshMetadata(producer, stale)) {
          batches.forEach((b, i) => {
            if (b.topic === topic) outcomes[i] ??= { error: fromKafkaError(err, `writing to ${topic}/${b.partition}`) };
          });
        }
        for (const topic of stale) reads.set(topic, (reads.get(topic) ?? 0) + 1);
        continue;
      }
      const toSend = batches.filter((_, i) => outcomes[i] === undefined);
      if (toSend.length > 0) {
        const sent = await this.#sendNow(producer, toSend, until);
        let n = 0;
        batches.forEach((_, i) => (outcomes[i] ??= sent[n++]));
      }
      return outcomes.map((o) => o!);
    }
  }

  /** Producer id and metadata are in memory: from here to the library's sequence snapshot nothing waits. */
  async #sendNow(producer: PlatformaticProducer, batches: readonly PartitionBatch[], until: number): Promise<BatchOutcome[]> {
    const messages: MessageToProduce<Payload, Payload, string, string>[] = [];
    for (const { topic, partition, messages: batch } of batches) {
      for (const { key, value, headers } of batch) messages.push({ topic, partition, key, value, headers });
    }
    try {
      // A shared request must not be resent to the leader of its first partition alone when another's leader
      // moved (the library's stale-metadata repeat starts a new attempt log, losing the answers that said which
      // partitions were written); its retries refresh metadata instead (#create's retryDelay).
      const result = await this.#guardedSend(producer, batches, messages);
      return partitionOutcomes(batches, result.offsets ?? [], undefined);
    } catch (err) {
      // A partition an answer of this send called written was written, whatever the final error still says.
      const outcomes = partitionOutcomes(batches, [], err).map((outcome, i): BatchOutcome => {
        const writtenAt = producer.sent.get(batches[i]!.topic, batches[i]!.partition)?.writtenAt;
        return writtenAt === undefined ? outcome : { baseOffset: writtenAt };
      });
      return await this.#resendInDoubt(producer, batches, outcomes, until);
    } finally {
      // What the batches were sent as matters only until their outcomes are known; the records are not kept.
      for (const { topic, partition } of batches) producer.sent.forget(topic, partition);
    }
  }

  /** The library's send, its metadata guarded for `batches` while it runs (SharedRequestProducer.writing); not the resend after it. */
  async #guardedSend(producer: PlatformaticProducer, batches: readonly PartitionBatch[], messages: MessageToProduce<Payload, Payload, string, string>[]) {
    const written = producer.writing(batches);
    try {
      return await producer.send({ messages, repeatOnStaleMetadata: batches.length === 1 });
    } finally {
      written();
    }
  }

  /**
   * The batches the library gave up on after an attempt that may have landed (no answer, or one that did not
   * refuse it for certain) are resent with the producer id and sequence numbers they were sent with
   * (platformatic-resend.ts), so one that landed is not written twice.
   */
  async #resendInDoubt(producer: PlatformaticProducer, batches: readonly PartitionBatch[], outcomes: BatchOutcome[], until: number): Promise<BatchOutcome[]> {
    const doubts = batches.flatMap((batch, index) => {
      const outcome = outcomes[index]!;
      const as = producer.sent.get(batch.topic, batch.partition);
      return 'error' in outcome && as?.inDoubt ? [{ index, batch, as }] : [];
    });
    if (doubts.length === 0) return outcomes;
    const settled = await resendWithFirstIdentity(producer, doubts, {
      until,
      requestTimeout: this.#budget.requestTimeout,
      compression: this.#compression,
      backoffMs: (attempt) => this.#backoffMs(attempt),
    });
    const written = doubts.filter((d) => {
      const outcome = settled.get(d.index);
      return outcome !== undefined && 'baseOffset' in outcome;
    });
    if (written.length > 0) {
      this.#log.warn('resent batches the Kafka client gave up on, with their first producer id and sequence numbers: written once', {
        partitions: describe(written.map((d) => d.batch)),
        stillFailed: doubts.length - written.length,
      });
    }
    const doubted = new Set(doubts.map((d) => d.index));
    return outcomes.map((o, i) => settled.get(i) ?? (doubted.has(i) ? stillInDoubt(o, batches[i]!) : o));
  }

  /** The wait before retry `attempt` (1 = the first), the library's and the resend's alike. */
  #backoffMs(attempt: number): number {
    return Math.min(this.#budget.maxRetryTime, this.#budget.initialRetryTime * 2 ** (attempt - 1));
  }

  /** Broker trouble shows in the log as kafkajs's own warnings did, without a line per failed batch. */
  #logFailure(where: string, err: unknown): void {
    const now = performance.now();
    if (now - this.#lastFailureLog < FAILURE_LOG_INTERVAL_MS) {
      this.#unloggedFailures++;
      return;
    }
    this.#log.warn('Kafka write failed', { partitions: where, err, failedWritesNotLoggedSinceLast: this.#unloggedFailures });
    this.#lastFailureLog = now;
    this.#unloggedFailures = 0;
  }

  /** Concurrent sends waiting for a producer id share one InitProducerId request. */
  #initProducerId(producer: PlatformaticProducer): Promise<unknown> {
    if (this.#initializing) return this.#initializing;
    const initializing = producer.initIdempotentProducer(OWN_INIT).finally(() => {
      if (this.#initializing === initializing) this.#initializing = undefined;
    });
    this.#initializing = initializing;
    return initializing;
  }

  #create(): PlatformaticProducer {
    const { retries, requestTimeout } = this.#budget;
    const producer: PlatformaticProducer = new SharedRequestProducer({
      clientId: this.#connection.clientId,
      bootstrapBrokers: this.#connection.brokers,
      ...platformaticSecurity(this.#connection),
      serializers: SERIALIZERS,
      idempotent: true,
      acks: -1,
      compression: this.#compression,
      autocreateTopics: false,
      // Bounded (at least 2: the library turns fewer into unlimited retries for an idempotent producer).
      retries,
      retryDelay: (_client, _operation, attempt, _retries, error) => {
        // A leader moved: the next attempt reads the leaders again (a shared request does not repeat on its own).
        if (hasStaleMetadata(error)) producer.clearMetadata();
        return this.#backoffMs(attempt);
      },
      // The client-side bound of one request, and the broker's wait for in-sync replicas sent with it.
      requestTimeout,
      timeout: requestTimeout,
      connectTimeout: requestTimeout,
      metadataMaxAge: METADATA_MAX_AGE_MS,
    });
    return producer;
  }

  /** Ends `producer`'s retries (closing it fails everything it still has in flight) and puts a fresh one in its place. */
  #replace(producer: PlatformaticProducer, where: string): void {
    if (producer !== this.#producer || this.#closed) return;
    this.#producer = this.#create();
    this.#initializing = undefined;
    this.#log.warn('a Kafka write outlived its deadline; replaced the producer (fresh producer id, retries of the old one ended)', {
      partitions: where,
      writeTimeoutMs: this.#writeTimeoutMs,
    });
    void producer.close(true).catch((err: unknown) => this.#log.warn('closing the replaced Kafka producer failed', { err }));
  }
}

/** `t/0,1 u/3` for a log line or an error message. */
function describe(batches: readonly PartitionBatch[]): string {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of batches) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
  return [...byTopic].map(([topic, partitions]) => `${topic}/${partitions.join(',')}`).join(' ');
}

const hasStaleMetadata = (error: unknown): boolean => nestedErrors(error).some((e) => (e as { hasStaleMetadata?: unknown }).hasStaleMetadata === true);

/**
 * Fresh metadata for `topics`; returns the topics Kafka would not describe, with why. When one read of them all
 * fails, each is asked alone, once, to tell whose failure it was (a failure of the connection fails them all).
 */
async function refreshMetadata(producer: PlatformaticProducer, topics: ReadonlySet<string>): Promise<Map<string, unknown>> {
  const failed = new Map<string, unknown>();
  try {
    await producer.metadata({ topics: [...topics], forceUpdate: true });
  } catch (err) {
    if (topics.size === 1) for (const topic of topics) failed.set(topic, err);
    else {
      for (const topic of topics) {
        await producer.metadata({ topics: [topic], forceUpdate: true, retries: 0 }).catch((e: unknown) => failed.set(topic, e));
      }
    }
  }
  return failed;
}

/** The library turns Kafka's UNKNOWN_TOPIC_OR_PARTITION answer to a metadata request into this one. */
const isUnknownTopic = (err: unknown): boolean => err instanceof UserError && err.message.startsWith('Unknown topic ');
