import type { Admin, Batch, Consumer, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import {
  RebalanceStarted,
  type ConsumedRecord,
  type ConsumerEngine,
  type ConsumerEngineEvents,
  type TopicPartitionOffset,
} from '../../consume/consumer-engine.ts';

export interface KafkajsConsumerOptions {
  topic: string;
  groupId: string;
  fromBeginning: boolean;
  /**
   * How long the coordinator waits for members to rejoin. It must cover a drain (in-flight deliveries end
   * within ack_timeout), or a slow endpoint would get this member thrown out of the group mid-drain.
   */
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
}

/** Headers as the port has them: one Buffer per name (the first, when Kafka carries the name twice). */
function headersOf(headers: IHeaders | undefined): Record<string, Buffer | undefined> {
  const out: Record<string, Buffer | undefined> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const first = Array.isArray(raw) ? raw[0] : raw;
    out[name] = first === undefined ? undefined : Buffer.isBuffer(first) ? first : Buffer.from(first);
  }
  return out;
}

/** The errors after which kafkajs rejoins the group (its own `isRebalancing`, plus a forgotten member). */
const REJOIN_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);
const meansRejoin = (err: unknown): boolean => typeof err === 'object' && err !== null && REJOIN_ERRORS.has(String((err as { type?: unknown }).type));

const toRecord = (m: KafkaMessage): ConsumedRecord => ({
  offset: BigInt(m.offset),
  key: m.key ?? null,
  value: m.value ?? null,
  headers: headersOf(m.headers),
  timestamp: m.timestamp,
});

/**
 * The offset the fetch of `batch` asked for. kafkajs's Batch has it (`fetchedOffset`, consumerGroup.js fetch())
 * but its typings do not; the first record's offset stands in should a version lack it.
 */
const fetchedOffsetOf = (batch: Batch): bigint => {
  const { fetchedOffset } = batch as Batch & { fetchedOffset?: string };
  return BigInt(fetchedOffset ?? batch.firstOffset() ?? batch.lastOffset());
};

/**
 * The consumer port on kafkajs. kafkajs is the engine that can honour the port's revocation promise: it
 * rejoins a rebalancing group only after every running `eachBatch` returned, and `heartbeat()` inside
 * `eachBatch` reports the rebalance, so a handler can drain and commit while it still owns its partitions.
 * (@platformatic/kafka rejoins from its heartbeat timer without waiting for the application; see
 * docs/consumption.md.) Offsets are committed only explicitly (`autoCommit: false`).
 */
export class KafkajsConsumerEngine implements ConsumerEngine {
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  readonly #options: KafkajsConsumerOptions;
  #consumer: Consumer | undefined;

  constructor(kafka: Kafka, admin: Admin, options: KafkajsConsumerOptions) {
    this.#kafka = kafka;
    this.#admin = admin;
    this.#options = options;
  }

  async start(events: ConsumerEngineEvents): Promise<void> {
    const { topic, groupId, fromBeginning, rebalanceTimeoutMs, sessionTimeoutMs } = this.#options;
    const consumer = this.#kafka.consumer({
      groupId,
      rebalanceTimeout: rebalanceTimeoutMs,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: Math.floor(sessionTimeoutMs / 10),
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
    });
    this.#consumer = consumer;
    consumer.on(consumer.events.REBALANCING, () => events.onRebalance());
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => events.onAssigned(payload.memberAssignment[topic] ?? []));
    // kafkajs restarts only after a retriable error; after any other it has disconnected and stays so.
    consumer.on(consumer.events.CRASH, ({ payload }) => events.onCrash({ error: payload.error, willRestart: payload.restart }));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning });
    const partitions = (await this.#admin.fetchTopicOffsets(topic)).length;
    await consumer.run({
      autoCommit: false,
      // A batch is marked read only by the handler (FetchedBatch.consumed), and only when its partition was
      // not released under it: kafkajs would otherwise move its fetch position past records never delivered.
      eachBatchAutoResolve: false,
      // Every partition gets its own worker, so the batches of one fetch are handled side by side; kafkajs still
      // waits for all of them before that broker's next fetch (docs/consumption.md, "The price of holding batches"; the
      // runner lets a batch go while its busy groups all wait long for their next attempt).
      partitionsConsumedConcurrently: Math.max(1, partitions),
      eachBatch: async ({ batch, heartbeat, resolveOffset }) => {
        try {
          await events.onBatch({
            topic,
            partition: batch.partition,
            records: batch.messages.map(toRecord),
            fetchedOffset: fetchedOffsetOf(batch),
            nextOffset: BigInt(batch.lastOffset()) + 1n,
            highWatermark: BigInt(batch.highWatermark),
            heartbeat: () =>
              heartbeat().catch((err: unknown) =>
                Promise.reject(meansRejoin(err) ? new RebalanceStarted('the consumer group is rebalancing', { cause: err }) : err),
              ),
            consumed: (next) => resolveOffset((next - 1n).toString()),
          });
        } catch (err) {
          // Hand kafkajs its own error back, so it rejoins as it would have from its own heartbeat.
          throw err instanceof RebalanceStarted ? err.cause : err;
        }
      },
    });
  }

  pause(partitions: number[]): void {
    this.#consumer?.pause([{ topic: this.#options.topic, partitions }]);
  }

  seek(partition: number, offset: bigint): void {
    this.#consumer?.seek({ topic: this.#options.topic, partition, offset: offset.toString() });
  }

  resume(partitions: number[]): void {
    this.#consumer?.resume([{ topic: this.#options.topic, partitions }]);
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (!this.#consumer || offsets.length === 0) return;
    await this.#consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset.toString() })));
  }

  async endOffsets(): Promise<Map<number, bigint>> {
    const offsets = await this.#admin.fetchTopicOffsets(this.#options.topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }

  async committedOffsets(): Promise<Map<number, bigint>> {
    const [topic] = await this.#admin.fetchOffsets({ groupId: this.#options.groupId, topics: [this.#options.topic] });
    return new Map((topic?.partitions ?? []).filter((p) => p.offset !== '-1').map((p) => [p.partition, BigInt(p.offset)]));
  }

  async topicExists(): Promise<boolean> {
    return (await this.#admin.listTopics()).includes(this.#options.topic);
  }

  async stop(): Promise<void> {
    await this.#consumer?.disconnect();
  }
}
