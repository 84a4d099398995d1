import { randomUUID } from 'node:crypto';
import { Admin, Consumer, findErrorBy, type GenericError, type Message } from '@platformatic/kafka';
import type { ConsumedRecord } from '../../consume/consumer-engine.ts';
import { GroupActiveError, type GroupOffsetsAdmin, type OffsetRange, type OffsetTarget } from '../../consume/group-offsets-admin.ts';
import type { KafkaConnection } from '../kafka-connection.ts';
import { platformaticSecurity } from '../kafka-security.ts';

/** ListOffsets' special timestamps. */
const EARLIEST = -2n;
const LATEST = -1n;

/**
 * What the group coordinator answers an offset commit without a member id (generation -1) while the group
 * has members: the commit is refused, nothing is written.
 */
const GROUP_ACTIVE = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'NON_EMPTY_GROUP']);

const groupActive = (err: unknown): boolean =>
  err instanceof Error && [...GROUP_ACTIVE].some((apiId) => findErrorBy<GenericError>(err, 'apiId', apiId) !== null);

function toRecord(m: Message): ConsumedRecord {
  const headers: Record<string, Buffer | undefined> = {};
  for (const [name, value] of m.headerEntries) headers[name.toString('utf8')] ??= value;
  return { offset: m.offset, key: m.key ?? null, value: m.value ?? null, headers, timestamp: m.timestamp.toString() };
}

/** Records handed over at once per partition while reading (bounds memory to partitions × this). */
const READ_CHUNK = 500;
/** A read that receives nothing this long before reaching its ends (records deleted under it, say) fails. */
const READ_IDLE_MS = 15_000;

/** The iterator's next result, or undefined when none came within `ms`. */
async function nextWithin<T>(iterator: AsyncIterator<T>, ms: number): Promise<IteratorResult<T> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([iterator.next(), idle]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The group-offsets port on @platformatic/kafka: its Admin commits offsets the way Kafka's own admin
 * client does (generation -1, no member), which the coordinator refuses while the group has members.
 */
export class PlatformaticGroupAdmin implements GroupOffsetsAdmin {
  readonly #connection: KafkaConnection;
  readonly #admin: Admin;

  constructor(connection: KafkaConnection) {
    this.#connection = connection;
    this.#admin = new Admin({ clientId: connection.clientId, bootstrapBrokers: connection.brokers, ...platformaticSecurity(connection) });
  }

  async groupMembers(groupId: string): Promise<number> {
    const group = (await this.#admin.describeGroups({ groups: [groupId] })).get(groupId);
    return group?.members.size ?? 0;
  }

  async offsetsAt(topic: string, target: OffsetTarget): Promise<Map<number, bigint>> {
    const count = (await this.#admin.metadata({ topics: [topic] })).topics.get(topic)?.partitionsCount ?? 0;
    const list = async (timestamp: bigint) => {
      const [listed] = await this.#admin.listOffsets({
        topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp })) }],
      });
      return new Map((listed?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
    };
    if (target.kind !== 'timestamp') return list(target.kind === 'earliest' ? EARLIEST : LATEST);
    const [byTime, ends] = await Promise.all([list(BigInt(target.ms)), list(LATEST)]);
    // No record at or after the time: Kafka answers -1, which means the log end.
    return new Map([...ends].map(([p, end]) => [p, byTime.get(p) !== undefined && byTime.get(p)! >= 0n ? byTime.get(p)! : end]));
  }

  async committed(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const [group] = await this.#admin.listConsumerGroupOffsets({ groups: [groupId] });
    const partitions = group?.topics.find((t) => t.name === topic)?.partitions ?? [];
    return new Map(partitions.filter((p) => p.committedOffset >= 0n).map((p) => [p.partitionIndex, p.committedOffset]));
  }

  async setCommitted(groupId: string, topic: string, offsets: Map<number, bigint>): Promise<void> {
    try {
      await this.#admin.alterConsumerGroupOffsets({
        groupId,
        topics: [{ name: topic, partitionOffsets: [...offsets].map(([partition, offset]) => ({ partition, offset })) }],
      });
    } catch (err) {
      if (groupActive(err)) throw new GroupActiveError(`consumer group "${groupId}" has members`, { cause: err });
      throw err;
    }
  }

  async read(topic: string, ranges: Map<number, OffsetRange>, onRecords: (partition: number, records: ConsumedRecord[]) => Promise<void>): Promise<void> {
    const open = new Map([...ranges].filter(([, r]) => r.start < r.end));
    if (open.size === 0) return;
    // A group of its own, never committed to: the broker forgets it once this reader leaves.
    const consumer = new Consumer({
      clientId: this.#connection.clientId,
      bootstrapBrokers: this.#connection.brokers,
      ...platformaticSecurity(this.#connection),
      groupId: `${this.#connection.clientId}.reader.${randomUUID()}`,
      autocommit: false,
      maxWaitTime: 500,
    });
    try {
      const stream = await consumer.consume({
        topics: [topic],
        mode: 'manual',
        offsets: [...ranges].map(([partition, r]) => ({ topic, partition, offset: r.start })),
        autocommit: false,
      });
      const pending = new Map<number, ConsumedRecord[]>();
      const messages = (stream as AsyncIterable<Message>)[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = await nextWithin(messages, READ_IDLE_MS);
          if (next === undefined) {
            const where = [...open].map(([p, r]) => `${p}:${r.start}..${r.end}`).join(' ');
            throw new Error(`reading ${topic} stalled: nothing arrived for ${READ_IDLE_MS} ms before the end of partitions ${where}`);
          }
          if (next.done) break;
          const message = next.value;
          const range = open.get(message.partition);
          if (!range || message.offset < range.start || message.offset >= range.end) continue;
          const chunk = pending.get(message.partition) ?? [];
          pending.set(message.partition, chunk);
          chunk.push(toRecord(message));
          const last = message.offset + 1n >= range.end;
          if (last || chunk.length >= READ_CHUNK) {
            pending.delete(message.partition);
            await onRecords(message.partition, chunk);
          }
          if (last) open.delete(message.partition);
          if (open.size === 0) break;
        }
      } finally {
        await stream.close().catch(() => undefined);
      }
    } finally {
      await consumer.close(true).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.#admin.close();
  }
}
