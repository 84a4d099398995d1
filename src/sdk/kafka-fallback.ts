import { CompressionTypes, Kafka, Partitioners, logLevel, type Admin, type KafkaConfig, type Message, type PartitionMetadata } from 'kafkajs';
import { GROUP_HEADER } from '../protocol/group-header.ts';
import { isDefinitiveRejection } from '../protocol/kafka-refusals.ts';
import { untilAborted } from './abort.ts';
import { GroupSequencer } from './group-sequencer.ts';
import type { ClientLogger, FallbackKafkaConfig } from './client-options.ts';
import type { FailureInfo } from './errors.ts';
import { errorMessage } from '../protocol/error-message.ts';
import type { MessageData, OrderedMessage } from './message-types.ts';
import { ResettableProducer, type ProducerLog } from './resettable-producer.ts';
import type { MessageOutcome } from './result-types.ts';
import { retryBudget } from '../retry/retry.ts';
import type { SendOutcome } from './sidecar-send.ts';

/** Bound on one batch's write, kafkajs's retries included: the sidecar's default Kafka write timeout. */
const WRITE_DEADLINE_MS = 30_000;
/** How long a topic's partition list is trusted: kafkajs's own default metadata max age. */
const METADATA_MAX_AGE_MS = 300_000;

/** Only for validated messages (validateMessages has checked the types). */
const toKafkaData = (data: MessageData | undefined): Buffer | string | null =>
  data === undefined || data === null ? null : typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/**
 * kafkajs has already retried. A refusal is final and wrote nothing, as the sidecar judges it: a refusal of the
 * records meets every attempt of the same records alike. (One of the topic, not authorised or deleted between two
 * of kafkajs's attempts, could follow an attempt that landed; kafkajs does not say whether it retried.) Anything
 * else may pass, and a batch it hit may be in Kafka.
 */
function failureOf(err: unknown): FailureInfo {
  const refused = isDefinitiveRejection(err) ? err : undefined;
  if ((refused as { type?: string } | undefined)?.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
    return { code: 'UNKNOWN_TOPIC', message: `Kafka fallback: unknown topic or partition (${errorMessage(err)})`, retriable: false, cause: err };
  }
  return { code: refused ? 'KAFKA_REJECTED' : 'KAFKA_ERROR', message: `Kafka fallback: ${errorMessage(err)}`, retriable: !refused, cause: err };
}

/** kafkajs's and the producer's warnings go to the client's logger; their info and debug lines are dropped. */
function clientLog(logger: ClientLogger): ProducerLog {
  return { info: () => undefined, warn: (msg, fields) => logger.warn(`ordered-sidecar client (Kafka fallback): ${msg}`, fields) };
}

/**
 * Direct-to-Kafka producing for sidecars without ordered produce (see docs/sdk.md, "Fallback"). Each group
 * goes to the partition Kafka's default (murmur2) partitioner gives `key = messageGroup`, even when the
 * caller set a key of their own, so a group stays in one partition. Writes go through ResettableProducer:
 * after a failed send it replaces the idempotent producer, so kafkajs's rolled-back sequence numbers cannot
 * make the broker drop a later batch as a duplicate of one that did land.
 *
 * At most one batch per (topic, partition) is with kafkajs at a time: GroupSequencer orders only sends that
 * share a group, and kafkajs hands out a partition's sequence numbers per request, rolling them back when a
 * request fails and retrying after a backoff. Two batches of one partition in kafkajs at once could swap
 * sequence numbers that way: the broker then answers one as a duplicate of the other (reported written, never
 * stored) and stores the other twice.
 */
export class KafkaFallback {
  readonly #kafka: Kafka;
  readonly #producer: ResettableProducer;
  readonly #partitions = new Map<string, { at: number; metadata: Promise<PartitionMetadata[]> }>();
  readonly #partitioner = Partitioners.DefaultPartitioner();
  /** Per `topic:partition` with a batch in kafkajs or waiting for it: settles when the last one's kafkajs send has. */
  /** Turns per `topic:partition`: the sequencer GroupSequencer is for groups, keyed here by partition. */
  readonly #partitionTurns = new GroupSequencer();
  #admin: Promise<Admin> | undefined;

  constructor(config: FallbackKafkaConfig, logger: ClientLogger) {
    const log = clientLog(logger);
    const logCreator =
      () =>
      ({ level, log: entry }: { level: number; log: { message: string } & Record<string, unknown> }) => {
        if (level <= logLevel.WARN) log.warn(`kafkajs: ${entry.message}`, { error: entry.error, broker: entry.broker });
      };
    const budget = retryBudget(WRITE_DEADLINE_MS);
    // The budget's request timeout too, unless the caller chose one: together they bound one write.
    // The application's settings, typed loosely so the SDK's types need no kafkajs; kafkajs checks them itself.
    this.#kafka = new Kafka({
      clientId: 'ordered-sidecar-client',
      logLevel: logLevel.WARN,
      logCreator,
      requestTimeout: budget.requestTimeout,
      ...(config as KafkaConfig),
    });
    this.#producer = new ResettableProducer(this.#kafka, log, budget, CompressionTypes.None);
  }

  /**
   * One batch per partition, partitions concurrently. A batch that failed without a refusal, or was
   * abandoned on abort, may have been written: its messages are 'unknown'. Nothing is sent when the
   * topic's partitions cannot be read: those messages are 'failed'.
   */
  async send(topic: string, messages: readonly OrderedMessage[], dedupIds: readonly string[], signal: AbortSignal | undefined): Promise<SendOutcome> {
    const outcomes: MessageOutcome[] = new Array(messages.length);
    const failures: FailureInfo[] = [];
    const settle = (i: number, partition: number | undefined, failure: FailureInfo, sent: boolean): void => {
      const status = sent && failure.retriable ? 'unknown' : 'failed';
      outcomes[i] = {
        status,
        messageGroup: messages[i]!.messageGroup,
        partition,
        error: { code: failure.code, message: failure.message, retriable: failure.retriable },
        dedupId: dedupIds[i]!,
      };
    };
    const aborted = (): FailureInfo => ({ code: 'ABORTED', message: 'aborted by the caller', retriable: true, cause: signal?.reason });
    let metadata: PartitionMetadata[];
    try {
      metadata = await untilAborted(this.#partitionsOf(topic), signal);
    } catch (err) {
      const failure = signal?.aborted ? aborted() : failureOf(err);
      messages.forEach((_, i) => settle(i, undefined, failure, false));
      return { attempts: 1, messages: outcomes, failure, dedupUnavailable: false };
    }
    const byPartition = new Map<number, number[]>();
    messages.forEach((m, i) => {
      const partition = this.#partitioner({ topic, partitionMetadata: metadata, message: { key: m.messageGroup, value: null } });
      byPartition.set(partition, [...(byPartition.get(partition) ?? []), i]);
    });
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        const records: Message[] = indexes.map((i) => {
          const m = messages[i]!;
          // key = MessageGroup (docs/sdk.md, "Fallback") unless the caller chose a key; the partition is the group's either way.
          return {
            key: m.key === undefined || m.key === null ? m.messageGroup : toKafkaData(m.key),
            value: toKafkaData(m.value),
            headers: { ...m.headers, [GROUP_HEADER]: m.messageGroup },
          };
        });
        const turn = this.#inTurn(topic, partition, signal, () => this.#producer.send(topic, partition, records));
        try {
          // kafkajs cannot cancel a write: an abort stops the wait, and the records may still be written
          // (if they were handed over: an abort while they wait for the partition sends nothing).
          const written = await untilAborted(turn.written, signal);
          const base = BigInt(written.find((r) => r.partition === partition)!.baseOffset!);
          indexes.forEach((i, n) => {
            outcomes[i] = {
              status: 'written',
              messageGroup: messages[i]!.messageGroup,
              partition,
              offset: String(base + BigInt(n)),
              duplicate: false,
              dedupId: dedupIds[i]!,
            };
          });
        } catch (err) {
          const failure = signal?.aborted ? aborted() : failureOf(err);
          failures.push(failure);
          for (const i of indexes) settle(i, partition, failure, turn.started());
        }
      }),
    );
    const unwritten = outcomes.filter((o) => o.status !== 'written').length;
    const decisive = failures.find((f) => f.code === 'ABORTED') ?? failures.find((f) => !f.retriable) ?? failures[0];
    const failure = decisive && { ...decisive, message: `${unwritten} of ${messages.length} messages not confirmed written: ${decisive.message}` };
    return { attempts: 1, messages: outcomes, failure, dedupUnavailable: false };
  }

  /**
   * Calls `write` (one batch for this partition to kafkajs) once every batch handed over earlier for the
   * partition has settled there: not when its caller gave up on it, since kafkajs may still be retrying it.
   * If `signal` has fired by then, `write` is never called and nothing is sent; `started()` says whether it
   * was. The partition's entry is dropped once it is idle.
   */
  #inTurn<T>(topic: string, partition: number, signal: AbortSignal | undefined, write: () => Promise<T>): { written: Promise<T>; started: () => boolean } {
    let started = false;
    // No signal for the turn itself: a send given up while it waits keeps its place until its turn, so later
    // batches of the partition still wait for the earlier ones it was behind.
    const written = this.#partitionTurns.acquire([`${topic}:${partition}`]).then(async ({ release }) => {
      try {
        if (signal?.aborted) throw signal.reason;
        started = true;
        return await write();
      } finally {
        release();
      }
    });
    return { written, started: () => started };
  }

  async close(): Promise<void> {
    await this.#producer.disconnect();
    const admin = await this.#admin?.catch(() => undefined);
    this.#admin = undefined;
    await admin?.disconnect();
  }

  /** The topic's partitions, cached like kafkajs caches metadata; a failed lookup is not cached. */
  #partitionsOf(topic: string): Promise<PartitionMetadata[]> {
    const cached = this.#partitions.get(topic);
    if (cached && Date.now() - cached.at < METADATA_MAX_AGE_MS) return cached.metadata;
    const metadata = this.#connectAdmin()
      .then((admin) => admin.fetchTopicMetadata({ topics: [topic] }))
      .then(({ topics }) => topics[0]!.partitions);
    this.#partitions.set(topic, { at: Date.now(), metadata });
    metadata.catch(() => this.#partitions.get(topic)?.metadata === metadata && this.#partitions.delete(topic));
    return metadata;
  }

  #connectAdmin(): Promise<Admin> {
    this.#admin ??= (async () => {
      const admin = this.#kafka.admin();
      await admin.connect();
      return admin;
    })().catch((err: unknown) => {
      this.#admin = undefined;
      throw err;
    });
    return this.#admin;
  }
}
