import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/protocol/error-codes.ts';
import { SidecarError, errorMessage, invalid, storeUnavailable } from '../../src/errors/sidecar-error.ts';
import { CodedError } from '../../src/errors/coded-error.ts';
import {
  StoreBusyError,
  StoreNotReplicatedError,
  StoreOnHoldError,
  StoreRefusedError,
  StoreStateLostError,
  StoreUnreachableError,
} from '../../src/errors/store-errors.ts';
import { fromKafkaError } from '../../src/kafka/kafka-errors.ts';
import { produceStatus } from '../../src/http/produce-routes.ts';
import type { PartitionError, ProduceResponse } from '../../src/protocol/produce.ts';

const partitionError = (partition: number, retriable: boolean): PartitionError => ({
  partition,
  code: retriable ? 'KAFKA_WRITE_FAILED' : 'KAFKA_REJECTED',
  error: 'x',
  retriable,
  message_count: 1,
});

const response = (successful: number, errors: PartitionError[]): ProduceResponse => ({
  topic: 't',
  partition_responses: successful > 0 ? [{ partition: 0, base_offset: '0', message_count: successful }] : [],
  partition_errors: errors,
  total_messages: successful + errors.reduce((n, e) => n + e.message_count, 0),
  successful_messages: successful,
  duplicate_messages: 0,
  results: [],
});

describe('produceStatus', () => {
  it('is 200 when every message was written', () => {
    expect(produceStatus(response(3, []))).toBe(200);
  });

  it('is 207 when some partitions failed but some messages were written', () => {
    expect(produceStatus(response(2, [partitionError(1, true)]))).toBe(207);
    expect(produceStatus(response(1, [partitionError(1, false)]))).toBe(207);
  });

  it('is 503 when nothing was written and every failure is retriable', () => {
    expect(produceStatus(response(0, [partitionError(0, true), partitionError(1, true)]))).toBe(503);
  });

  it('is 422 when nothing was written and no failure is retriable', () => {
    expect(produceStatus(response(0, [partitionError(0, false), partitionError(1, false)]))).toBe(422);
  });

  it('is 207 when nothing was written but only some failures are retriable, so a retry of those may pass', () => {
    expect(produceStatus(response(0, [partitionError(0, true), partitionError(1, false)]))).toBe(207);
  });
});

describe('SidecarError', () => {
  const expected: Record<ErrorCode, [status: number, retriable: boolean]> = {
    INVALID_REQUEST: [400, false],
    PAYLOAD_TOO_LARGE: [413, false],
    UNSUPPORTED_MEDIA_TYPE: [415, false],
    UNKNOWN_TOPIC: [404, false],
    NOT_FOUND: [404, false],
    METHOD_NOT_ALLOWED: [405, false],
    UNAUTHORIZED: [401, false],
    FORBIDDEN: [403, false],
    CONFLICT: [409, false],
    SUBSCRIPTION_RUNNING: [409, false],
    DUPLICATE_IN_FLIGHT: [503, true],
    ROUTING_UNAVAILABLE: [503, true],
    ROUTING_STATE_LOST: [503, true],
    ROUTE_LOG_UNAVAILABLE: [503, true],
    KAFKA_UNAVAILABLE: [503, true],
    KAFKA_WRITE_FAILED: [503, true],
    KAFKA_REJECTED: [422, false],
    SHUTTING_DOWN: [503, true],
    OVERLOADED: [503, true],
    INTERNAL: [500, false],
    STATE_FORMAT_UNSUPPORTED: [503, true],
  };

  it('covers exactly the documented codes', () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s maps to HTTP %j', (code, [status, retriable]) => {
    const err = new SidecarError(code as ErrorCode, 'boom');
    expect(err.status).toBe(status);
    expect(err.retriable).toBe(retriable);
    expect(err.toJSON()).toEqual({ error: { code, message: 'boom', retriable } });
  });

  it('marks retriable exactly the 503 codes', () => {
    for (const { status, retriable } of Object.values(ERROR_CODES)) expect(retriable).toBe(status === 503);
  });

  it('includes field in toJSON only when given, and serialises through JSON.stringify', () => {
    const err = new SidecarError('INVALID_REQUEST', 'bad', { field: 'messages[3].message_group' });
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      error: { code: 'INVALID_REQUEST', message: 'bad', field: 'messages[3].message_group', retriable: false },
    });
    expect(Object.keys(new SidecarError('INTERNAL', 'x').toJSON().error)).not.toContain('field');
  });

  it('is an Error that keeps its cause, which toJSON never exposes', () => {
    const cause = new Error('secret detail');
    const err = new SidecarError('INTERNAL', 'internal error', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('SidecarError');
    expect(err.cause).toBe(cause);
    expect(JSON.stringify(err)).not.toContain('secret detail');
  });

  it('invalid() builds an INVALID_REQUEST naming the field', () => {
    const err = invalid('topic', 'is required');
    expect(err.code).toBe('INVALID_REQUEST');
    expect(err.field).toBe('topic');
    expect(err.message).toBe('topic: is required');
  });

  it('errorMessage() reads Errors and stringifies anything else', () => {
    expect(errorMessage(new Error('e'))).toBe('e');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
  });
});

describe('one error base (CodedError) for the store and Kafka errors', () => {
  const cause = new Error('the client said so');
  const storeErrors = [
    [new StoreUnreachableError('down', { outage: true, cause }), 'ROUTING_UNAVAILABLE'],
    [new StoreRefusedError('OOM', { cause }), 'ROUTING_UNAVAILABLE'],
    [new StoreBusyError('TRYAGAIN', { cause }), 'ROUTING_UNAVAILABLE'],
    [new StoreNotReplicatedError('0 of 1 replicas', { cause }), 'ROUTING_UNAVAILABLE'],
    [new StoreStateLostError('epoch gone'), 'ROUTING_STATE_LOST'],
    [new StoreOnHoldError('on hold', 'restoring'), 'ROUTING_STATE_LOST'],
  ] as const;

  it.each(storeErrors.map(([err, code]) => [err.name, err, code] as const))('%s carries one code, its status and retriability', (_name, err, code) => {
    expect(err).toBeInstanceOf(CodedError);
    expect({ code: err.code, status: err.status, retriable: err.retriable }).toEqual({ code, ...ERROR_CODES[code] });
  });

  it('a store error answers with its own code and keeps it as the cause; anything else is not a store failure', () => {
    for (const [err] of storeErrors) {
      const answer = storeUnavailable(err, 'routing')!;
      expect([answer.code, answer.status, answer.cause]).toEqual([err.code, err.status, err]);
    }
    expect(storeUnavailable(new TypeError('a bug'), 'routing')).toBeUndefined();
  });

  it('a Kafka error is one too, keeping the client error as the cause', () => {
    const err = fromKafkaError(cause, 'writing');
    expect(err).toBeInstanceOf(CodedError);
    expect([err.code, err.status, err.retriable, err.cause]).toEqual(['KAFKA_WRITE_FAILED', 503, true, cause]);
  });
});
