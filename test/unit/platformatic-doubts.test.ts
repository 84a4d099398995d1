import { NumericMap, ResponseError, type API, type APIWithCallback, type Connection, type MessageRecord } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { SentBatches } from '../../src/kafka/platformatic-resend.ts';
import { stillInDoubt } from '../../src/kafka/kafka-errors.ts';
import { SidecarError } from '../../src/errors/sidecar-error.ts';

/** Kafka's numeric error codes of the answers below. */
const NOT_LEADER_OR_FOLLOWER = 6;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const NOT_ENOUGH_REPLICAS = 19;
const NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20;
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45;

/** One Produce answer of topic `t`: partition i answers codes[i] (0: written at offset 10 + i). */
function answer(codes: number[]): ResponseError {
  const partitionResponses = codes.map((errorCode, index) => ({ index, errorCode, baseOffset: errorCode === 0 ? BigInt(10 + index) : -1n }));
  const errors = Object.fromEntries(
    codes.flatMap((code, i) => (code === 0 ? [] : [[`/responses/0/partition_responses/${i}`, [code, null] as [number, null]]])),
  );
  return new ResponseError(0, 11, errors, { responses: [{ name: 't', partitionResponses }] });
}

/** Sends one record to each of `partitions` through the recording API, which answers with `error`. */
function sendThrough(by: SentBatches, partitions: number, error: Error): void {
  const produce: APIWithCallback<unknown[], unknown> = (_connection, ...args) => {
    const callback = args.at(-1);
    if (typeof callback === 'function') callback(error);
  };
  const api: API<unknown[], unknown> = Object.assign(produce, { key: 0, version: 11, async: () => Promise.reject(error) });
  const records: MessageRecord[] = Array.from({ length: partitions }, (_, partition) => ({ topic: 't', partition, value: Buffer.from('v') }));
  const sequences = new NumericMap();
  let called = false;
  by.recording(api)({} as Connection, -1, 1000, records, { producerId: 7n, producerEpoch: 0, sequences }, () => (called = true));
  expect(called).toBe(true);
}

describe('SentBatches: which failed partitions may be in Kafka (platformatic)', () => {
  it('holds a partition in doubt when its answer can come after the leader appended it; not when Kafka refused it before', () => {
    const by = new SentBatches();
    const codes = [0, NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS_AFTER_APPEND, NOT_ENOUGH_REPLICAS, OUT_OF_ORDER_SEQUENCE_NUMBER];
    sendThrough(by, codes.length, answer(codes));
    const inDoubt = codes.map((_, p) => by.get('t', p)?.inDoubt);
    // A leader that loses leadership (or the replica) while it waits for acks=all answers NOT_LEADER_OR_FOLLOWER
    // (UNKNOWN_TOPIC_OR_PARTITION) after appending; NOT_ENOUGH_REPLICAS and an identity refusal come before any append.
    expect(inDoubt).toEqual([false, true, true, true, false, false]);
  });

  it('keeps the offset of a partition its answer called written, whatever error the library ends the send with', () => {
    const by = new SentBatches();
    // A neighbour's answer says the broker lost the producer's state: the library's recovery, which the engine
    // refuses, then ends the send with an error that no longer carries this answer.
    sendThrough(by, 2, answer([0, OUT_OF_ORDER_SEQUENCE_NUMBER]));
    expect(by.get('t', 0)).toMatchObject({ writtenAt: 10n, inDoubt: false });
    expect(by.get('t', 1)?.writtenAt).toBeUndefined();
    // A later attempt of the same send keeps it; the next send (after `forget`) starts without it.
    sendThrough(by, 1, answer([NOT_LEADER_OR_FOLLOWER]));
    expect(by.get('t', 0)).toMatchObject({ writtenAt: 10n, inDoubt: true });
    by.forget('t', 0);
    sendThrough(by, 1, answer([NOT_ENOUGH_REPLICAS]));
    expect(by.get('t', 0)?.writtenAt).toBeUndefined();
  });
});

describe('stillInDoubt: a batch no resend settled', () => {
  const batch = { topic: 't', partition: 3, messages: [] };

  it('is never reported refused: an attempt after the refusal may have been written', () => {
    const refused = new SidecarError('UNKNOWN_TOPIC', 'writing to t/3: unknown topic or partition');
    const { error } = stillInDoubt({ error: refused }, batch) as { error: SidecarError };
    expect(error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true, cause: refused });
    expect(error.message).toMatch(/t\/3: .*may or may not be in Kafka/);
  });

  it('keeps an outcome that already says so, and a written one', () => {
    const unknown = { error: new SidecarError('KAFKA_WRITE_FAILED', 'no answer; it may or may not be in Kafka') };
    expect(stillInDoubt(unknown, batch)).toBe(unknown);
    expect(stillInDoubt({ baseOffset: 5n }, batch)).toEqual({ baseOffset: 5n });
  });
});
