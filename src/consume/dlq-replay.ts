import { createHash } from 'node:crypto';
import { SidecarError } from '../errors/sidecar-error.ts';
import { GROUP_HEADER } from '../protocol/group-header.ts';
import type { ProduceService } from '../produce/produce-service.ts';
import type { ProduceResponse } from '../protocol/produce.ts';
import type { ConsumedRecord } from './consumer-engine.ts';
import { bytes, DEAD_LETTER_HEADERS } from './dead-letter.ts';
import type { GroupOffsetsAdmin, OffsetRange } from './group-offsets-admin.ts';
import { kafkaCall } from './kafka-call.ts';
import type { Subscription } from './subscriptions.ts';

/** Header a replayed message carries: the dead letter it was produced from, `<topic>/<partition>/<offset>`. */
export const REPLAY_HEADER = 'dead-letter-replay-of';

/** Which dead letters a replay takes: one MessageGroup, and dead-letter times `[fromMs, toMs)`. */
export interface ReplayFilter {
  group: string | undefined;
  fromMs: number | undefined;
  toMs: number | undefined;
}

export interface ReplayResult {
  subscription: string;
  dead_letter_topic: string;
  topic: string;
  /** The dead-letter topic's offsets read, per partition (`[start_offset, end_offset)`). */
  partitions: Array<{ partition: number; start_offset: string; end_offset: string }>;
  /** Records read in those ranges. */
  read: number;
  /** Dead letters of this subscription that matched the filter, produced again (duplicates included). */
  replayed: number;
  /** Of those, how many an earlier replay had already produced (not written again). */
  duplicates: number;
  /** Present when Redis was out of reach: those messages were written without the duplicate check. */
  dedup_unavailable?: true;
}

/** A replay's deduplication id: one per dead letter, so a second replay of it is reported, not written. */
export function replayDedupId(deadLetterTopic: string, partition: number, offset: bigint): string {
  // Hashed: topic names run to 249 characters, dedup ids to MAX_DEDUP_ID_BYTES.
  const topic = createHash('sha256').update(deadLetterTopic).digest('hex').slice(0, 16);
  return `dlq-replay:${topic}:${partition}:${offset}`;
}

const header = (r: ConsumedRecord, name: string): string | undefined => r.headers[name]?.toString('utf8');

/** The message as the produce API takes it: key, value and every header but the group (produce sets it), plus the replay marker. */
function replayMessage(deadLetterTopic: string, partition: number, r: ConsumedRecord): { headers: Record<string, string> } & Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.headers)) if (value !== undefined && name.toLowerCase() !== GROUP_HEADER) headers[name] = value.toString('utf8');
  headers[REPLAY_HEADER] = `${deadLetterTopic}/${partition}/${r.offset}`;
  return { ...bytes(r.key, 'key'), ...bytes(r.value, 'value'), headers };
}

/**
 * How much one replay produce call may carry: the produce path's own request limits, so a replay call is
 * never one an HTTP client could not send (and never refused where the replay's earlier calls were written).
 */
export interface ReplayLimits {
  /** MAX_MESSAGES_PER_REQUEST: most messages in one call. */
  maxMessagesPerRequest: number;
  /** MAX_MESSAGE_BYTES: largest message, counted as the produce path counts it (key + value + headers). */
  maxMessageBytes: number;
  /** MAX_BODY_BYTES: most message bytes in one call (a call of one message may hold up to maxMessageBytes). */
  maxRequestBytes: number;
}

/** A replayed message's size as request validation counts it: key, value, header names and values, and the group header. */
function replaySize(r: ConsumedRecord, message: { headers: Record<string, string> }, group: string | undefined): number {
  let size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const [name, value] of Object.entries(message.headers)) size += Buffer.byteLength(name) + Buffer.byteLength(value);
  if (group !== undefined) size += Buffer.byteLength(GROUP_HEADER) + Buffer.byteLength(group);
  return size;
}

interface Tally {
  read: number;
  replayed: number;
  duplicates: number;
  dedupUnavailable: boolean;
}

/**
 * Produces the subscription's dead letters again to its topic through the ordered produce path, so each goes
 * to its MessageGroup's partition (the router's rules hold) in the order it was dead-lettered. Each carries a
 * deduplication id derived from its place in the dead-letter topic, so replaying the same dead letters again
 * within DEDUP_WINDOW writes nothing twice. Dead letters without a group go back to their original partition.
 */
export async function replayDeadLetters(
  subscription: Subscription,
  admin: GroupOffsetsAdmin,
  produce: ProduceService,
  filter: ReplayFilter,
  limits: ReplayLimits,
): Promise<ReplayResult> {
  const dlq = subscription.deadLetterTopic;
  if (dlq === undefined)
    throw new SidecarError('CONFLICT', `subscription "${subscription.name}" has no dead_letter_topic (on_exhausted: ${subscription.onExhausted})`);
  // Ends fixed before reading: dead letters written while the replay runs (a replayed message failing again) wait for the next one.
  const [starts, ends] = await kafkaCall(`read the offsets of ${dlq}`, () =>
    Promise.all([
      admin.offsetsAt(dlq, filter.fromMs === undefined ? { kind: 'earliest' } : { kind: 'timestamp', ms: filter.fromMs }),
      admin.offsetsAt(dlq, filter.toMs === undefined ? { kind: 'latest' } : { kind: 'timestamp', ms: filter.toMs }),
    ]),
  );
  if (ends.size === 0) throw new SidecarError('UNKNOWN_TOPIC', `dead-letter topic "${dlq}" does not exist`);
  const ranges = new Map<number, OffsetRange>();
  for (const [partition, end] of ends) ranges.set(partition, { start: starts.get(partition) ?? end, end });
  const tally: Tally = { read: 0, replayed: 0, duplicates: 0, dedupUnavailable: false };
  await kafkaCall(`read ${dlq}`, () =>
    admin.read(dlq, ranges, async (partition, records) => {
      tally.read += records.length;
      const mine = records.filter(
        (r) => header(r, DEAD_LETTER_HEADERS.subscription) === subscription.name && (filter.group === undefined || header(r, GROUP_HEADER) === filter.group),
      );
      await replayChunk(subscription, produce, dlq, partition, mine, tally, limits);
    }),
  );
  return {
    subscription: subscription.name,
    dead_letter_topic: dlq,
    topic: subscription.topic,
    partitions: [...ranges]
      .sort(([a], [b]) => a - b)
      .map(([partition, r]) => ({ partition, start_offset: r.start.toString(), end_offset: (r.end > r.start ? r.end : r.start).toString() })),
    read: tally.read,
    replayed: tally.replayed,
    duplicates: tally.duplicates,
    ...(tally.dedupUnavailable ? { dedup_unavailable: true as const } : {}),
  };
}

/**
 * One partition's chunk, in offset order: consecutive grouped records in ordered requests, ungrouped ones in
 * plain requests, each request within `limits` and written before the next is sent (so a group's order holds
 * across requests). A dead letter over MAX_MESSAGE_BYTES once the replay header is added stops the replay
 * there (what came before it is written): replaying the rest without it would break its group's order.
 */
async function replayChunk(
  subscription: Subscription,
  produce: ProduceService,
  dlq: string,
  partition: number,
  records: ConsumedRecord[],
  tally: Tally,
  limits: ReplayLimits,
) {
  const messages = records.map((r) => replayMessage(dlq, partition, r));
  const groups = records.map((r) => header(r, GROUP_HEADER));
  const sizes = records.map((r, n) => replaySize(r, messages[n]!, groups[n]));
  let i = 0;
  while (i < records.length) {
    const grouped = groups[i] !== undefined;
    let j = i;
    let bytes = 0;
    while (
      j < records.length &&
      (groups[j] !== undefined) === grouped &&
      j - i < limits.maxMessagesPerRequest &&
      sizes[j]! <= limits.maxMessageBytes &&
      (j === i || bytes + sizes[j]! <= limits.maxRequestBytes)
    ) {
      bytes += sizes[j]!;
      j += 1;
    }
    if (j === i) {
      const r = records[i]!;
      throw new SidecarError(
        'PAYLOAD_TOO_LARGE',
        `replay stopped at ${dlq} partition ${partition} offset ${r.offset}, after ${tally.replayed} replayed: that dead letter is ${sizes[i]} bytes ` +
          `with the ${REPLAY_HEADER} header, over MAX_MESSAGE_BYTES (${limits.maxMessageBytes}); raise MAX_MESSAGE_BYTES to replay it, ` +
          'or leave it out with from/to or message_group',
      );
    }
    const run = records.slice(i, j);
    const ids = run.map((r) => replayDedupId(dlq, partition, r.offset));
    const sent = messages.slice(i, j);
    const response = grouped
      ? await produce.ordered({
          topic: subscription.topic,
          messages: sent.map((m, n) => ({ ...m, message_group: groups[i + n], dedup_id: ids[n] })),
        })
      : await produce.plainOnce(
          { topic: subscription.topic, messages: sent.map((m, n) => ({ ...m, partition: Number(header(run[n]!, DEAD_LETTER_HEADERS.partition) ?? 0) })) },
          ids,
        );
    count(response, tally, dlq, partition, run[0]!.offset);
    i = j;
  }
}

function count(response: ProduceResponse, tally: Tally, dlq: string, partition: number, firstOffset: bigint): void {
  tally.replayed += response.successful_messages;
  tally.duplicates += response.duplicate_messages;
  if (response.dedup_unavailable) tally.dedupUnavailable = true;
  const failed = response.partition_errors[0];
  if (failed) {
    // What was produced stays produced, and a second replay skips it: running the replay again is the retry.
    throw new SidecarError(
      failed.retriable ? 'KAFKA_WRITE_FAILED' : 'KAFKA_REJECTED',
      `replay stopped at ${dlq} partition ${partition} from offset ${firstOffset}, after ${tally.replayed} replayed: ${failed.code} ${failed.error}; ` +
        'running it again is safe (dead letters already replayed are not written twice within DEDUP_WINDOW)',
    );
  }
}
