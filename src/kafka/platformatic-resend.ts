import { setTimeout as sleep } from 'node:timers/promises';
import {
  kGetApi,
  kGetConnection,
  NumericMap,
  type API,
  type APIWithCallback,
  type Broker,
  type Connection,
  type CreateRecordsBatchOptions,
  type MessageRecord,
  type Producer,
  type produceV11,
} from '@platformatic/kafka';
import type { KafkaCompression } from '../config/options.ts';
import { kafkaErrorType, REJECTED } from '../protocol/kafka-refusals.ts';
import type { BatchOutcome, PartitionBatch } from '../writer/send-port.ts';
import { fromKafkaError, PartitionGoneError, partitionOutcomes } from './kafka-errors.ts';

type ProduceResponse = produceV11.ProduceResponse;
type ProduceArgs = [acks: number | undefined, timeout: number | undefined, topicData: MessageRecord[], options?: Partial<CreateRecordsBatchOptions>];
type ProduceApi = API<ProduceArgs, boolean | ProduceResponse>;

/** The identity a broker deduplicates a batch by, and the records it was sent with (timestamps included). */
interface SentAs {
  producerId: bigint;
  producerEpoch: number;
  sequence: number;
  records: MessageRecord[];
  /** Some attempt got no answer that refused it for certain: it may be in Kafka. */
  inDoubt: boolean;
  /**
   * An answer of this send said it was written at this offset. Kept here because the error the library ends
   * the send with may not carry that answer (its recovery from a neighbour's lost producer state, which the
   * engine refuses, replaces it).
   */
  writtenAt?: bigint;
}

/** The partitions of one Produce call, and whose record of them to mark when the call fails. */
interface Sent {
  by: SentBatches;
  batches: PartitionBatch[];
}

/** Answers saying the broker will not take a batch under the producer id, epoch and sequence it carries. */
const IDENTITY_REFUSED = ['UNKNOWN_PRODUCER_ID', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH'];

/**
 * Produce answers for a partition that say the broker did not append its batch: refusals it gives before
 * appending. NOT_LEADER_OR_FOLLOWER and UNKNOWN_TOPIC_OR_PARTITION are not among them: a leader that loses the
 * partition while it waits for the in-sync replicas (acks=all) answers them after it appended the batch.
 */
const NOT_APPENDED = new Set(['NOT_ENOUGH_REPLICAS', ...IDENTITY_REFUSED, ...REJECTED]);

/** The library's producer as the engine makes it (platformatic-producer.ts). */
type PayloadProducer = Producer<Buffer | string | null, Buffer | string | null, string, string>;

const key = (topic: string, partition: number): string => `${topic}:${partition}`;

/**
 * What each partition's batch in flight was sent as by one producer. The writer keeps at most one batch in
 * flight per partition, and the engine forgets a partition's entry once its outcome is known, so an entry is
 * the current send's own, whichever of the library's attempts wrote it.
 */
export class SentBatches {
  /**
   * A forgotten partition keeps its key with no entry, rather than being deleted: deleting a key per send made
   * V8 rebuild the Map's table every few sends, and a replaced table, in the old generation as the Map is,
   * keeps the entries it had (the records of the sends then in flight) and a link to the table after it. Dead,
   * it is still a root for young-generation collections until the next full one, so each scavenge kept and
   * promoted those records. Measured on the whole sidecar at 1,000 requests/s of 10 messages (two runs each):
   * with the delete 0.8-1.3 MB promoted a scavenge of 3-5 ms (median), pretenuring on or off; without it
   * 0.01 MB of 0.7-0.8 ms.
   * There are as many keys as partitions written, as in the writer's queues.
   */
  readonly #byPartition = new Map<string, SentAs | undefined>();

  forget(topic: string, partition: number): void {
    this.#byPartition.set(key(topic, partition), undefined);
  }

  get(topic: string, partition: number): SentAs | undefined {
    return this.#byPartition.get(key(topic, partition));
  }

  /**
   * The library's Produce `api`, remembering what each of its calls sends. Typed as the library's API lookup
   * asks (it serves every API through one generic call); the arguments are Produce's (acks, timeout, records,
   * options), and only idempotent sends (with a producer id) are kept.
   */
  recording<A extends unknown[], R>(api: API<A, R>): API<A, R> {
    // The library calls its APIs with a callback last; the answer is read on its way back.
    const recorded: APIWithCallback<A, R> = (connection, ...args) => {
      const sent = this.#record(args);
      const callback = args.at(-1);
      if (sent.batches.length > 0 && typeof callback === 'function') {
        // A bound function rather than a closure: measured with the engine alone at 1,000 sends/s, the closure
        // made each young-generation collection promote about 10 MB of the sends' objects and take about 10 ms;
        // bound, about 0.1 MB and 0.5 ms (docs/benchmarks.md, "What survives a young-generation collection").
        // Measured again on the whole sidecar once `forget` stopped deleting keys: the closure 0.74-2.49 MB a
        // scavenge of 3-9 ms, bound 0.01 MB of 0.7 ms (two runs each).
        args[args.length - 1] = answered.bind(undefined, sent, callback);
      }
      // Reflect: the callback is optional in the library's API type, and TypeScript cannot spread that back.
      Reflect.apply(api, undefined, [connection, ...args]);
    };
    const async = (connection: Connection, ...args: A): Promise<R> => {
      const sent = this.#record(args);
      return api.async(connection, ...args).catch((error: unknown) => {
        markDoubts(sent, error);
        throw error;
      });
    };
    return Object.assign(recorded, { key: api.key, version: api.version, async });
  }

  /** Keeps what each partition of a Produce call is sent as; returns those partitions. */
  #record(args: readonly unknown[]): Sent {
    const [, , topicData, options] = args as Partial<ProduceArgs>;
    const { producerId, producerEpoch, sequences } = options ?? {};
    if (!Array.isArray(topicData) || producerId === undefined || sequences === undefined) return { by: this, batches: [] };
    const byPartition = new Map<string, MessageRecord[]>();
    // The engine hands each partition's records over together: a key is made per partition, not per record.
    let current: MessageRecord[] | undefined;
    for (const m of topicData) {
      const previous = current?.[0];
      if (!current || m.topic !== previous?.topic || m.partition !== previous.partition) {
        const k = key(m.topic, m.partition ?? 0);
        current = byPartition.get(k);
        if (!current) byPartition.set(k, (current = []));
      }
      current.push(m);
    }
    const sent: PartitionBatch[] = [];
    for (const [k, records] of byPartition) {
      const { topic, partition = 0 } = records[0]!;
      const before = this.#byPartition.get(k);
      const entry: SentAs = {
        producerId,
        producerEpoch: producerEpoch ?? 0,
        sequence: sequences.getWithDefault(k, 0),
        records,
        inDoubt: before?.inDoubt ?? false,
      };
      if (before?.writtenAt !== undefined) entry.writtenAt = before.writtenAt;
      this.#byPartition.set(k, entry);
      sent.push({ topic, partition, messages: [] });
    }
    return { by: this, batches: sent };
  }
}

/**
 * A failed Produce call: a partition its answer says written keeps that offset; each one not refused for certain
 * may have been appended.
 */
function markDoubts({ by, batches }: Sent, error: unknown): void {
  partitionOutcomes(batches, [], error).forEach((outcome, i) => {
    const entry = by.get(batches[i]!.topic, batches[i]!.partition);
    if (!entry) return;
    if ('baseOffset' in outcome) entry.writtenAt = outcome.baseOffset;
    else if (!NOT_APPENDED.has(kafkaErrorType(outcome.error) ?? '')) entry.inDoubt = true;
  });
}

/** The library's callback of one Produce call, after its partitions are marked when the call failed. */
function answered(sent: Sent, callback: CallableFunction, error: Error | null, answer?: unknown): void {
  if (error) markDoubts(sent, error);
  Reflect.apply(callback, undefined, [error, answer]);
}

/** Answers that end a resend: the broker will never take these records with this identity. */
const FINAL = new Set([...IDENTITY_REFUSED, 'DUPLICATE_SEQUENCE_NUMBER', ...REJECTED]);

export interface ResendSettings {
  /** When to stop trying (ms since the epoch); the engine's write deadline comes after it. */
  until: number;
  requestTimeout: number;
  compression: KafkaCompression;
  /** Pause before attempt `n` (1 = the first resend after the library gave up). */
  backoffMs: (attempt: number) => number;
}

interface Doubt {
  index: number;
  batch: PartitionBatch;
  as: SentAs;
}

/**
 * Resends batches whose fate the library could not learn, with the producer id, epoch and sequence number
 * they were first sent with, each to its partition's current leader, until each is answered written or
 * `until` passes. The broker keeps the sequence of each producer's last batches per partition, so a batch
 * that had landed is answered with its first offset and not written again; one that had not is written now,
 * still before anything the writer queued behind it. This is what Kafka's own producer does until its
 * delivery timeout; the library instead gives up after its retries and starts a fresh producer id, and a
 * resend under a new id would be written twice. A shared request makes this likelier than Kafka's clients
 * see it: the library repeats a shared request to one leader only, so after a leader moves, a partition may
 * get "not leader" answers for attempts that followed one that landed.
 *
 * Returns the outcomes it settled (written, or refused because the topic no longer has the partition), by index
 * into the engine's batches; the others keep the library's.
 */
export async function resendWithFirstIdentity(
  producer: PayloadProducer,
  doubts: readonly Doubt[],
  settings: ResendSettings,
): Promise<Map<number, BatchOutcome>> {
  const settled = new Map<number, BatchOutcome>();
  let pending = [...doubts];
  for (let attempt = 1; pending.length > 0; attempt++) {
    const wait = settings.backoffMs(attempt);
    if (Date.now() + wait >= settings.until) break;
    await sleep(wait);
    if (producer.closed) break;
    const metadata = await producer.metadata({ topics: [...new Set(pending.map((d) => d.batch.topic))], forceUpdate: true, retries: 0 }).catch(() => undefined);
    if (!metadata) continue;
    const requests = new Map<string, { broker: Broker; doubts: Doubt[] }>();
    const finished = new Set<Doubt>();
    for (const d of pending) {
      const { topic, partition } = d.batch;
      const count = metadata.topics.get(topic)?.partitionsCount;
      if (count !== undefined && partition >= count) {
        // The topic was deleted and created again smaller: whatever landed went with the old topic.
        settled.set(d.index, { error: fromKafkaError(new PartitionGoneError(topic, partition, count), `writing to ${topic}/${partition}`) });
        finished.add(d);
        continue;
      }
      const leader = metadata.topics.get(topic)?.partitions[partition]?.leader;
      const broker = leader === undefined ? undefined : metadata.brokers.get(leader);
      if (!broker) continue;
      // One identity per request: the producer id and epoch are the request's, only sequences are per partition.
      const k = `${leader}/${d.as.producerId}/${d.as.producerEpoch}`;
      const request = requests.get(k) ?? { broker, doubts: [] };
      request.doubts.push(d);
      requests.set(k, request);
    }
    await Promise.all(
      [...requests.values()].map(async ({ broker, doubts: mine }) => {
        const outcomes = await resendOnce(producer, broker, mine, settings);
        outcomes.forEach((outcome, i) => {
          const d = mine[i]!;
          if ('baseOffset' in outcome) {
            settled.set(d.index, outcome);
            finished.add(d);
          } else if (FINAL.has(kafkaErrorType(outcome.error) ?? '')) finished.add(d);
        });
      }),
    );
    pending = pending.filter((d) => !finished.has(d));
  }
  return settled;
}

/** One Produce request to `broker` carrying `doubts` with their first identity; an outcome per doubt. */
async function resendOnce(
  producer: PayloadProducer,
  broker: Broker,
  doubts: readonly Doubt[],
  { requestTimeout, compression }: ResendSettings,
): Promise<BatchOutcome[]> {
  const batches = doubts.map((d) => d.batch);
  const { producerId, producerEpoch } = doubts[0]!.as;
  const sequences = new NumericMap();
  for (const { batch, as } of doubts) sequences.set(key(batch.topic, batch.partition), as.sequence);
  try {
    const [api, connection] = await Promise.all([
      new Promise<ProduceApi>((resolve, reject) =>
        producer[kGetApi]<ProduceArgs, boolean | ProduceResponse>('Produce', (e, a) => (a ? resolve(a) : reject(e))),
      ),
      new Promise<Connection>((resolve, reject) => producer[kGetConnection](broker, (e, c) => (c ? resolve(c) : reject(e)))),
    ]);
    const records = doubts.flatMap((d) => d.as.records);
    const answer = await api.async(connection, -1, requestTimeout, records, { producerId, producerEpoch, sequences, compression });
    const offsets =
      typeof answer === 'boolean'
        ? []
        : answer.responses.flatMap(({ name, partitionResponses }) =>
            partitionResponses.map((p) => ({ topic: name, partition: p.index, offset: p.baseOffset })),
          );
    return partitionOutcomes(batches, offsets, undefined);
  } catch (err) {
    return partitionOutcomes(batches, [], err);
  }
}
