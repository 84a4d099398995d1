import { MultipleErrors, NetworkError, ResponseError } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { fromKafkaError, partitionOutcomes } from '../../src/kafka/kafka-errors.ts';
import { kafkaErrorType } from '../../src/protocol/kafka-refusals.ts';

/** What @platformatic/kafka's send rejects with: one MultipleErrors per send, one entry per attempt. */
const sendFailure = (...attempts: Error[]): MultipleErrors =>
  new MultipleErrors('Producing messages failed.', [new MultipleErrors(`produce failed ${attempts.length} times.`, attempts)]);
/** A Produce (API 0) answer with an error for one partition, by Kafka's numeric error code. */
const partitionError = (code: number): ResponseError => new ResponseError(0, 11, { '/responses/0/partitionResponses/0': [code, null] }, {});
const NOT_LEADER_OR_FOLLOWER = 6;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const MESSAGE_TOO_LARGE = 10;
const RECORD_LIST_TOO_LARGE = 18;

describe('Kafka errors of either client', () => {
  it("reads kafkajs's type", () => {
    expect(kafkaErrorType(Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' }))).toBe('MESSAGE_TOO_LARGE');
  });

  it("finds @platformatic/kafka's error name nested in the attempts", () => {
    expect(kafkaErrorType(sendFailure(partitionError(MESSAGE_TOO_LARGE)))).toBe('MESSAGE_TOO_LARGE');
    expect(fromKafkaError(sendFailure(partitionError(MESSAGE_TOO_LARGE)), 'writing').code).toBe('KAFKA_REJECTED');
  });

  it('counts a refusal wherever it appears, else the last name', () => {
    const timedOut = new NetworkError('Request timed out');
    expect(kafkaErrorType(sendFailure(partitionError(NOT_LEADER_OR_FOLLOWER), timedOut, partitionError(RECORD_LIST_TOO_LARGE)))).toBe('RECORD_LIST_TOO_LARGE');
    expect(kafkaErrorType(sendFailure(partitionError(NOT_LEADER_OR_FOLLOWER), partitionError(UNKNOWN_TOPIC_OR_PARTITION)))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('maps a failure with no Kafka error name to a retriable write failure', () => {
    const error = fromKafkaError(sendFailure(new NetworkError('Connection closed')), 'writing');
    expect(error.code).toBe('KAFKA_WRITE_FAILED');
    expect(error.retriable).toBe(true);
  });

  it("names the attempts' distinct errors, the last first, not only the library's summary", () => {
    const closed = new NetworkError('Connection closed');
    const error = fromKafkaError(sendFailure(closed, new NetworkError('Request timed out'), closed), 'writing to t/0');
    expect(error.message).toBe('writing to t/0: Producing messages failed. (Connection closed; Request timed out)');
    expect(fromKafkaError(new Error('plain'), 'writing to t/0').message).toBe('writing to t/0: plain');
    expect(fromKafkaError('a string', 'writing to t/0').message).toBe('writing to t/0: a string');
  });
});

/** A Produce answer as @platformatic/kafka's parser builds it: every partition with its code and base offset. */
function produceAnswer(partitions: { topic: string; partition: number; code: number; offset?: bigint }[]): ResponseError {
  const topics = [...new Set(partitions.map((p) => p.topic))];
  const responses = topics.map((name) => ({
    name,
    partitionResponses: partitions.filter((p) => p.topic === name).map((p) => ({ index: p.partition, errorCode: p.code, baseOffset: p.offset ?? -1n })),
  }));
  const errors: Record<string, [number, null]> = {};
  responses.forEach((t, i) =>
    t.partitionResponses.forEach((p, j) => {
      if (p.errorCode !== 0) errors[`/responses/${i}/partition_responses/${j}`] = [p.errorCode, null];
    }),
  );
  return new ResponseError(0, 11, errors, { responses, throttleTimeMs: 0, nodeEndpoints: [] });
}
const NOT_ENOUGH_REPLICAS = 19;
const batch = (topic: string, partition: number) => ({ topic, partition, messages: [] });

describe('outcomes per partition of a shared Produce request', () => {
  const batches = [batch('a', 0), batch('b', 0), batch('a', 1)];

  it('reports the written partitions with their offsets and the refused one with its own error', () => {
    const answer = produceAnswer([
      { topic: 'a', partition: 0, code: 0, offset: 5n },
      { topic: 'b', partition: 0, code: MESSAGE_TOO_LARGE },
    ]);
    const [written, refused, unanswered] = partitionOutcomes(batches, [], sendFailure(answer));
    expect(written).toEqual({ baseOffset: 5n });
    expect(refused).toMatchObject({ error: { code: 'KAFKA_REJECTED', retriable: false } });
    // Not in any answer: unknown, and never the neighbour's refusal.
    expect(unanswered).toMatchObject({ error: { code: 'KAFKA_WRITE_FAILED', retriable: true } });
  });

  it('keeps a write an earlier attempt reported when a later attempt lost the connection', () => {
    const first = produceAnswer([
      { topic: 'a', partition: 0, code: 0, offset: 7n },
      { topic: 'b', partition: 0, code: NOT_ENOUGH_REPLICAS },
      { topic: 'a', partition: 1, code: 0, offset: 70n },
    ]);
    const outcomes = partitionOutcomes(batches, [], sendFailure(first, new NetworkError('Connection closed')));
    expect(outcomes[0]).toEqual({ baseOffset: 7n });
    expect(outcomes[1]).toMatchObject({ error: { code: 'KAFKA_WRITE_FAILED', retriable: true } });
    expect(outcomes[2]).toEqual({ baseOffset: 70n });
  });

  it('takes the offsets another broker reported (the error’s `produced`) as written', () => {
    const failure = Object.assign(sendFailure(new NetworkError('Connection closed')), { produced: { offsets: [{ topic: 'b', partition: 0, offset: 3n }] } });
    const outcomes = partitionOutcomes(batches, [], failure);
    expect(outcomes[1]).toEqual({ baseOffset: 3n });
    expect(outcomes[0]).toMatchObject({ error: { code: 'KAFKA_WRITE_FAILED', retriable: true } });
  });

  it('reads a successful send’s offsets, and calls a partition the answer left out unknown', () => {
    const outcomes = partitionOutcomes(
      batches,
      [
        { topic: 'a', partition: 0, offset: 1n },
        { topic: 'b', partition: 0, offset: 2n },
      ],
      undefined,
    );
    expect(outcomes.slice(0, 2)).toEqual([{ baseOffset: 1n }, { baseOffset: 2n }]);
    expect(outcomes[2]).toMatchObject({ error: { code: 'KAFKA_WRITE_FAILED', retriable: true } });
  });
});
