import { NumericMap, ResponseError, type API, type APIWithCallback, type Connection, type MessageRecord } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { SentBatches } from '../../src/kafka/platformatic-resend.ts';

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
});
