import { Kafka, Partitioners, logLevel, type KafkaConfig, type Message, type Producer } from 'kafkajs';
import { untilAborted } from './abort.ts';
import type { ClientLogger } from './client-options.ts';
import { describeError, type FailureInfo } from './errors.ts';
import type { OrderedMessage, MessageData } from './message-types.ts';
import type { MessageOutcome } from './result-types.ts';
import type { SendOutcome } from './sidecar-send.ts';

const GROUP_HEADER = 'message-group';

const toKafkaData = (data: MessageData | undefined): Buffer | string | null =>
  data === undefined || data === null ? null : typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/**
 * Partitions by MessageGroup with Kafka's default (murmur2) partitioner: the partition is the one
 * `key = messageGroup` gives, even when the caller set a key of their own, so a group stays in one
 * partition. Remembers each message's partition to report offsets.
 */
function groupPartitioner(partitionOf: WeakMap<Message, number>) {
  return () => {
    const kafkaDefault = Partitioners.DefaultPartitioner();
    return (args: Parameters<ReturnType<typeof Partitioners.DefaultPartitioner>>[0]): number => {
      const group = String(args.message.headers?.[GROUP_HEADER] ?? args.message.key);
      const partition = kafkaDefault({ ...args, message: { ...args.message, key: group } });
      partitionOf.set(args.message, partition);
      return partition;
    };
  };
}

function failureOf(err: unknown): FailureInfo {
  const shape = err as { name?: string; type?: string; retriable?: boolean; cause?: { type?: string } };
  const type = shape?.type ?? shape?.cause?.type;
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return { code: 'UNKNOWN_TOPIC', message: `Kafka fallback: unknown topic or partition (${describeError(err)})`, retriable: false, cause: err };
  // kafkajs has already retried; what is left is either transient (brokers away) or a refusal of the records.
  const retriable = shape?.retriable === true || /NumberOfRetriesExceeded|Connection|Timeout|NotLeader/.test(shape?.name ?? '');
  return { code: 'KAFKA_ERROR', message: `Kafka fallback: ${describeError(err)}`, retriable, cause: err };
}

/** Direct-to-Kafka producing for sidecars without ordered produce (see docs/sdk.md, "Fallback"). */
export class KafkaFallback {
  readonly #kafka: Kafka;
  readonly #partitionOf = new WeakMap<Message, number>();
  #producer: Promise<Producer> | undefined;

  constructor(config: KafkaConfig, logger: ClientLogger) {
    // kafkajs's warnings go to the client's logger unless the caller configured kafkajs logging.
    const logCreator = () => ({ level, log }: { level: number; log: { message: string } & Record<string, unknown> }) => {
      if (level <= logLevel.WARN) logger.warn(`ordered-sidecar client (Kafka fallback): kafkajs: ${log.message}`, { error: log.error, broker: log.broker });
    };
    this.#kafka = new Kafka({ clientId: 'ordered-sidecar-client', logLevel: logLevel.WARN, logCreator, ...config });
  }

  #connect(): Promise<Producer> {
    this.#producer ??= (async () => {
      // Idempotent with one request in flight: kafkajs's own retries neither duplicate nor reorder.
      const producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: groupPartitioner(this.#partitionOf) });
      await producer.connect();
      return producer;
    })().catch((err: unknown) => {
      this.#producer = undefined;
      throw err;
    });
    return this.#producer;
  }

  async send(topic: string, messages: readonly OrderedMessage[], signal: AbortSignal | undefined): Promise<SendOutcome> {
    const records: Message[] = messages.map((m) => ({
      // key = MessageGroup (the design's fallback) unless the caller chose a key; the partition is the group's either way.
      key: m.key === undefined || m.key === null ? m.messageGroup : toKafkaData(m.key),
      value: toKafkaData(m.value),
      headers: { ...m.headers, [GROUP_HEADER]: m.messageGroup },
    }));
    const failAll = (failure: FailureInfo): SendOutcome => ({
      attempts: 1,
      failure,
      messages: messages.map((m, i) => ({ status: 'failed', messageGroup: m.messageGroup, partition: this.#partitionOf.get(records[i]!), error: { code: failure.code, message: failure.message, retriable: failure.retriable }, dedupId: undefined })),
    });
    const aborted = (): FailureInfo => ({ code: 'ABORTED', message: 'aborted by the caller', retriable: false, cause: signal?.reason });
    if (signal?.aborted) return failAll(aborted());
    let metadata;
    try {
      const write = this.#connect().then((producer) => producer.send({ topic, messages: records, acks: -1 }));
      // kafkajs cannot cancel a write: an abort stops the wait, and the records may still be written.
      metadata = await untilAborted(write, signal);
    } catch (err) {
      return failAll(signal?.aborted ? aborted() : failureOf(err));
    }
    const base = new Map(metadata.map((r) => [r.partition, BigInt(r.baseOffset ?? '-1')]));
    const nextIndex = new Map<number, bigint>();
    const outcomes = messages.map((m, i): MessageOutcome => {
      const partition = this.#partitionOf.get(records[i]!)!;
      const n = nextIndex.get(partition) ?? 0n;
      nextIndex.set(partition, n + 1n);
      return { status: 'written', messageGroup: m.messageGroup, partition, offset: String(base.get(partition)! + n), duplicate: false, dedupId: undefined };
    });
    return { attempts: 1, messages: outcomes, failure: undefined };
  }

  async close(): Promise<void> {
    const producer = await this.#producer?.catch(() => undefined);
    this.#producer = undefined;
    await producer?.disconnect();
  }
}
