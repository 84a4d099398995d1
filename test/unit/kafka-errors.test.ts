import { MultipleErrors, NetworkError, ResponseError } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { fromKafkaError } from '../../src/kafka/kafka-errors.ts';
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
});
