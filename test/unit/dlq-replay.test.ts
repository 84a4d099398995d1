import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/consume/consumer-engine.ts';
import { DEAD_LETTER_HEADERS } from '../../src/consume/dead-letter.ts';
import { REPLAY_HEADER, replayDeadLetters, type ReplayLimits } from '../../src/consume/dlq-replay.ts';
import type { GroupOffsetsAdmin } from '../../src/consume/group-offsets-admin.ts';
import type { Subscription } from '../../src/consume/subscriptions.ts';
import { SidecarError } from '../../src/errors/sidecar-error.ts';
import type { ProduceService } from '../../src/produce/produce-service.ts';
import { parseOrderedRequest, parsePlainRequest } from '../../src/produce/validate-request.ts';
import type { ProduceResponse } from '../../src/protocol/produce.ts';

const DLQ = 'orders.dlq';

const subscription = {
  name: 'orders-app',
  topic: 'orders',
  onExhausted: 'dead-letter',
  deadLetterTopic: DLQ,
} as Subscription;

/** A dead letter at `offset` of the dead-letter topic's partition 0, of `group` (null: none), with a value of `size` bytes. */
function deadLetter(offset: number, group: string | null, size = 4): ConsumedRecord {
  const headers: Record<string, Buffer> = {
    [DEAD_LETTER_HEADERS.subscription]: Buffer.from(subscription.name),
    [DEAD_LETTER_HEADERS.partition]: Buffer.from('0'),
  };
  if (group !== null) headers['message-group'] = Buffer.from(group);
  return { offset: BigInt(offset), key: null, value: Buffer.from(String(offset).padEnd(size, '.')), headers, timestamp: '1' };
}

/** The dead-letter topic, one partition holding `records`, handed over in one chunk as the reader does. */
function deadLetterTopic(records: ConsumedRecord[]): GroupOffsetsAdmin {
  const end = BigInt(records.length);
  return {
    groupMembers: async () => 0,
    offsetsAt: async (_topic, target) => new Map([[0, target.kind === 'latest' ? end : 0n]]),
    committed: async () => new Map(),
    setCommitted: async () => undefined,
    read: async (_topic, _ranges, onRecords) => onRecords(0, records),
    close: async () => undefined,
  };
}

/**
 * The produce path as far as a replay sees it: each call is validated with the sidecar's own request
 * validation under `limits` (so a call it would refuse is refused here too) and written whole.
 */
function producePath(limits: ReplayLimits) {
  const calls: string[][] = [];
  const validation = { maxGroupBytes: 128, maxDedupIdBytes: 128, maxMessageBytes: limits.maxMessageBytes, maxMessagesPerRequest: limits.maxMessagesPerRequest };
  const written = (values: Array<Buffer | string | null>): ProduceResponse => {
    calls.push(values.map((v) => String(v).replace(/\.+$/, '')));
    return {
      topic: subscription.topic,
      partition_responses: [],
      partition_errors: [],
      total_messages: values.length,
      successful_messages: values.length,
      duplicate_messages: 0,
      results: [],
    };
  };
  const produce = {
    ordered: async (body: unknown) => written(parseOrderedRequest(body, validation).records.map((r) => r.message.value)),
    plainOnce: async (body: unknown) => written(parsePlainRequest(body, validation).records.map((r) => r.message.value)),
  } as unknown as ProduceService;
  return { produce, calls };
}

const noFilter = { group: undefined, fromMs: undefined, toMs: undefined };

describe('dead-letter replay', () => {
  it('splits a run of one kind into calls of at most MAX_MESSAGES_PER_REQUEST, written in offset order', async () => {
    const limits = { maxMessagesPerRequest: 2, maxMessageBytes: 1024, maxRequestBytes: 1024 * 1024 };
    const { produce, calls } = producePath(limits);
    const records = [0, 1, 2, 3, 4].map((o) => deadLetter(o, 'g')).concat([deadLetter(5, null), deadLetter(6, 'g'), deadLetter(7, 'h')]);
    const result = await replayDeadLetters(subscription, deadLetterTopic(records), produce, noFilter, limits);
    expect(calls).toEqual([['0', '1'], ['2', '3'], ['4'], ['5'], ['6', '7']]);
    expect(result).toMatchObject({ read: 8, replayed: 8, duplicates: 0 });
  });

  it('keeps the message bytes of one call within the request budget (a message alone may fill it)', async () => {
    const limits = { maxMessagesPerRequest: 100, maxMessageBytes: 1024, maxRequestBytes: 700 };
    const { produce, calls } = producePath(limits);
    // Each replayed message is 200 value bytes plus about 115 of headers: two fit in 700, three do not.
    const records = [0, 1, 2, 3, 4].map((o) => deadLetter(o, 'g', 200));
    await replayDeadLetters(subscription, deadLetterTopic(records), produce, noFilter, limits);
    expect(calls).toEqual([['0', '1'], ['2', '3'], ['4']]);
  });

  it('stops at a dead letter that the replay header takes over MAX_MESSAGE_BYTES, after writing what came before it, and names it', async () => {
    // The dead letter itself fits (it was written under the same limit); with dead-letter-replay-of it does not.
    const base = deadLetter(1, 'g', 0);
    const headerBytes = Object.entries(base.headers).reduce((n, [k, v]) => n + k.length + v!.length, 0);
    const maxMessageBytes = 1000;
    const records = [deadLetter(0, 'g'), deadLetter(1, 'g', maxMessageBytes - headerBytes), deadLetter(2, 'g')];
    const limits = { maxMessagesPerRequest: 10, maxMessageBytes, maxRequestBytes: 1024 * 1024 };
    const { produce, calls } = producePath(limits);
    const replay = replayDeadLetters(subscription, deadLetterTopic(records), produce, noFilter, limits);
    await expect(replay).rejects.toThrow(SidecarError);
    await expect(replay).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringMatching(
        new RegExp(`^replay stopped at ${DLQ} partition 0 offset 1, after 1 replayed: .*${REPLAY_HEADER}.*MAX_MESSAGE_BYTES \\(1000\\)`),
      ),
    });
    // Offset 0 is written; offset 2 is not (its group's order: it must not pass offset 1).
    expect(calls).toEqual([['0']]);
  });
});
