import { describe, expect, it } from 'vitest';
import { SidecarError } from '../../src/errors/sidecar-error.ts';
import type { ErrorCode } from '../../src/protocol/error-codes.ts';
import { parseOrderedRequest, parsePlainRequest, type RequestLimits } from '../../src/produce/validate-request.ts';

const LIMITS: RequestLimits = { maxGroupBytes: 128, maxDedupIdBytes: 16, maxMessageBytes: 1024, maxMessagesPerRequest: 10 };

const ordered = (message: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  topic: 'orders',
  messages: [{ message_group: 'g1', value: 'v', ...message }],
  ...extra,
});

/** Runs `parse` expecting a SidecarError; returns its code and field. */
function rejection(parse: () => unknown): { code: ErrorCode; field: string | undefined } {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(SidecarError);
    const { code, field } = err as SidecarError;
    return { code, field };
  }
  throw new Error('expected the request to be rejected');
}

const rejectOrdered = (body: unknown, limits: RequestLimits = LIMITS) => rejection(() => parseOrderedRequest(body, limits));
const invalidAt = (field: string) => ({ code: 'INVALID_REQUEST', field });
const tooLargeAt = (field: string) => ({ code: 'PAYLOAD_TOO_LARGE', field });

describe('request envelope', () => {
  it.each([null, 'text', 42, [], true])('rejects a body that is not an object: %j', (body) => {
    expect(rejectOrdered(body)).toEqual(invalidAt('body'));
  });

  it('rejects an unknown body field', () => {
    expect(rejectOrdered(ordered({}, { partition: 1 }))).toEqual(invalidAt('body.partition'));
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not a string', 7],
    ['containing "/"', 'a/b'],
    ['containing a space', 'a b'],
    ['longer than 249 characters', 'x'.repeat(250)],
  ])('rejects a topic that is %s', (_, topic) => {
    expect(rejectOrdered({ topic, messages: [{ message_group: 'g', value: 'v' }] })).toEqual(invalidAt('topic'));
  });

  it('accepts a 249-character topic of letters, digits, ".", "_" and "-"', () => {
    const topic = 'aZ09._-'.repeat(35) + 'abcd';
    expect(topic).toHaveLength(249);
    expect(parseOrderedRequest({ topic, messages: [{ message_group: 'g', value: 'v' }] }, LIMITS).topic).toBe(topic);
  });

  it.each([
    ['missing', undefined],
    ['an object', { 0: {} }],
    ['a string', 'm'],
  ])('rejects messages that is %s', (_, messages) => {
    expect(rejectOrdered({ topic: 't', messages })).toEqual(invalidAt('messages'));
  });

  it('rejects an empty messages array', () => {
    expect(rejectOrdered({ topic: 't', messages: [] })).toEqual(invalidAt('messages'));
  });

  it('rejects more messages than maxMessagesPerRequest as PAYLOAD_TOO_LARGE', () => {
    const messages = Array.from({ length: 11 }, () => ({ message_group: 'g', value: 'v' }));
    expect(rejectOrdered({ topic: 't', messages })).toEqual(tooLargeAt('messages'));
    expect(parseOrderedRequest({ topic: 't', messages: messages.slice(1) }, LIMITS).records).toHaveLength(10);
  });
});

describe('ordered messages', () => {
  it.each([null, 'm', 3, [{}]])('rejects a message that is not an object: %j', (message) => {
    expect(rejectOrdered({ topic: 't', messages: [{ message_group: 'g', value: 'v' }, message] })).toEqual(invalidAt('messages[1]'));
  });

  it('rejects an unknown message field (partition belongs to plain produce)', () => {
    expect(rejectOrdered(ordered({ partition: 0 }))).toEqual(invalidAt('messages[0].partition'));
    expect(rejectOrdered(ordered({ timestamp: '1' }))).toEqual(invalidAt('messages[0].timestamp'));
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['a number', 5],
    ['null', null],
    ['"." (a dot segment in an admin path)', '.'],
    ['".."', '..'],
  ])('rejects a message_group that is %s', (_, group) => {
    expect(rejectOrdered(ordered({ message_group: group }))).toEqual(invalidAt('messages[0].message_group'));
  });

  it('counts maxGroupBytes in UTF-8 bytes, not characters', () => {
    const group = '€'.repeat(43); // 43 characters, 129 bytes
    expect(rejectOrdered(ordered({ message_group: group }))).toEqual(invalidAt('messages[0].message_group'));
    expect(parseOrderedRequest(ordered({ message_group: '€'.repeat(42) }), LIMITS).records[0]?.group).toBe('€'.repeat(42));
    expect(parseOrderedRequest(ordered({ message_group: 'x'.repeat(128) }), LIMITS).records).toHaveLength(1);
  });

  it('requires value, but accepts null as a tombstone', () => {
    expect(rejectOrdered({ topic: 't', messages: [{ message_group: 'g' }] })).toEqual(invalidAt('messages[0].value'));
    const [record] = parseOrderedRequest(ordered({ value: null }), LIMITS).records;
    expect(record?.message.value).toBeNull();
  });

  it('treats a missing or null key as no key', () => {
    expect(parseOrderedRequest(ordered({}), LIMITS).records[0]?.message.key).toBeNull();
    expect(parseOrderedRequest(ordered({ key: null }), LIMITS).records[0]?.message.key).toBeNull();
  });

  it.each([
    ['key', 1],
    ['key', { a: 1 }],
    ['value', 1],
    ['value', ['v']],
    ['value', true],
  ])('rejects a non-string %s: %j', (field, bad) => {
    expect(rejectOrdered(ordered({ [field]: bad }))).toEqual(invalidAt(`messages[0].${field}`));
  });

  it.each([
    ['key_encoding', 'hex'],
    ['value_encoding', 'UTF8'],
    ['key_encoding', 1],
  ])('rejects %s=%j', (field, encoding) => {
    expect(rejectOrdered(ordered({ key: 'k', [field]: encoding }))).toEqual(invalidAt(`messages[0].${field}`));
  });

  it('treats a null encoding as the default utf8', () => {
    expect(parseOrderedRequest(ordered({ value: 'aGk=', value_encoding: null }), LIMITS).records[0]?.message.value).toBe('aGk=');
  });

  it.each(['abc', 'aGVsbG8', 'aGV sbG8=', 'aGVsbG8-', '====', 'a==='])('rejects invalid base64 %j', (text) => {
    expect(rejectOrdered(ordered({ value: text, value_encoding: 'base64' }))).toEqual(invalidAt('messages[0].value'));
    expect(rejectOrdered(ordered({ key: text, key_encoding: 'base64' }))).toEqual(invalidAt('messages[0].key'));
  });

  it.each([
    ['not an object', 'h'],
    ['an array', ['a']],
    ['null', null],
  ])('rejects headers that are %s', (_, headers) => {
    expect(rejectOrdered(ordered({ headers }))).toEqual(invalidAt('messages[0].headers'));
  });

  it('rejects a non-string header value', () => {
    expect(rejectOrdered(ordered({ headers: { ok: 'x', trace: 1 } }))).toEqual(invalidAt('messages[0].headers.trace'));
    expect(rejectOrdered(ordered({ headers: { trace: null } }))).toEqual(invalidAt('messages[0].headers.trace'));
  });

  it.each(['message-group', 'Message-Group', 'MESSAGE-GROUP'])('rejects the reserved header %j', (name) => {
    expect(rejectOrdered(ordered({ headers: { [name]: 'other' } }))).toEqual(invalidAt(`messages[0].headers.${name}`));
  });

  it('rejects the whole request when any message is bad, naming its index', () => {
    const body = {
      topic: 't',
      messages: [
        { message_group: 'a', value: '1' },
        { message_group: 'b', value: '2' },
        { message_group: 'c', value: 3 },
      ],
    };
    expect(rejectOrdered(body)).toEqual(invalidAt('messages[2].value'));
  });
});

describe('message size (key + value + header names and values)', () => {
  // key "k" (1) + value "vv" (2) + header "h"/"x" (2) + "message-group"/"g" (13 + 1) = 19 bytes
  const body = ordered({ message_group: 'g', key: 'k', value: 'vv', headers: { h: 'x' } });

  it('counts the bytes of key, value, headers and the message-group header', () => {
    const [record] = parseOrderedRequest(body, { ...LIMITS, maxMessageBytes: 19 }).records;
    expect(record?.bytes).toBe(19);
  });

  it('rejects a message one byte over maxMessageBytes as PAYLOAD_TOO_LARGE', () => {
    expect(rejectOrdered(body, { ...LIMITS, maxMessageBytes: 18 })).toEqual(tooLargeAt('messages[0]'));
  });

  it('counts UTF-8 bytes of strings and decoded bytes of base64', () => {
    const [utf8] = parseOrderedRequest(ordered({ message_group: 'g', value: 'é€' }), LIMITS).records;
    expect(utf8?.bytes).toBe(2 + 3 + 14);
    const [base64] = parseOrderedRequest(ordered({ message_group: 'g', value: 'aGVsbG8=', value_encoding: 'base64' }), LIMITS).records;
    expect(base64?.bytes).toBe(5 + 14);
  });

  it('counts header names and values in UTF-8 bytes', () => {
    const [record] = parseOrderedRequest(ordered({ message_group: 'g', value: '', headers: { ü: 'ü' } }), LIMITS).records;
    expect(record?.bytes).toBe(4 + 14);
  });
});

describe('valid ordered requests', () => {
  it('produce records with the message-group header and the original group', () => {
    const request = parseOrderedRequest(
      {
        topic: 'orders',
        messages: [
          { message_group: 'order-1', key: 'k', value: 'hello', headers: { trace: 't1' } },
          { message_group: 'order-2', value: null },
        ],
      },
      LIMITS,
    );
    expect(request.topic).toBe('orders');
    expect(request.records).toHaveLength(2);
    const [first, second] = request.records;
    expect(first?.group).toBe('order-1');
    expect(first?.message).toEqual({ key: 'k', value: 'hello', headers: { trace: 't1', 'message-group': 'order-1' } });
    expect(second?.group).toBe('order-2');
    expect(second?.message).toEqual({ key: null, value: null, headers: { 'message-group': 'order-2' } });
  });

  it('decode base64 keys and values to Buffers', () => {
    const [record] = parseOrderedRequest(ordered({ key: 'AAH/', key_encoding: 'base64', value: 'aGVsbG8=', value_encoding: 'base64' }), LIMITS).records;
    expect(Buffer.isBuffer(record?.message.key)).toBe(true);
    expect([...(record?.message.key as Buffer)]).toEqual([0x00, 0x01, 0xff]);
    expect((record?.message.value as Buffer).toString('utf8')).toBe('hello');
  });

  it('keep utf8 strings as strings, also when the encoding is explicit', () => {
    const [record] = parseOrderedRequest(ordered({ value: 'aGVsbG8=', value_encoding: 'utf8' }), LIMITS).records;
    expect(record?.message.value).toBe('aGVsbG8=');
  });

  it('accept an empty base64 string as an empty Buffer', () => {
    const [record] = parseOrderedRequest(ordered({ value: '', value_encoding: 'base64' }), LIMITS).records;
    expect(Buffer.isBuffer(record?.message.value)).toBe(true);
    expect((record?.message.value as Buffer).length).toBe(0);
  });
});

describe('plain requests', () => {
  const plain = (message: Record<string, unknown>) => ({ topic: 't', messages: [{ value: 'v', ...message }] });
  const rejectPlain = (body: unknown) => rejection(() => parsePlainRequest(body, LIMITS));

  it.each([-1, 1.5, '1', true, {}])('rejects partition %j', (partition) => {
    expect(rejectPlain(plain({ partition }))).toEqual(invalidAt('messages[0].partition'));
  });

  it('accepts an explicit partition, and no or null partition as "Kafka decides"', () => {
    expect(parsePlainRequest(plain({ partition: 0 }), LIMITS).records[0]?.partition).toBe(0);
    expect(parsePlainRequest(plain({ partition: 7 }), LIMITS).records[0]?.partition).toBe(7);
    expect(parsePlainRequest(plain({}), LIMITS).records[0]?.partition).toBeUndefined();
    expect(parsePlainRequest(plain({ partition: null }), LIMITS).records[0]?.partition).toBeUndefined();
  });

  it('rejects message_group, which belongs to ordered produce', () => {
    expect(rejectPlain(plain({ message_group: 'g' }))).toEqual(invalidAt('messages[0].message_group'));
  });

  it('adds no message-group header and counts only key, value and headers', () => {
    const [record] = parsePlainRequest(plain({ key: 'k', headers: { a: 'b' } }), LIMITS).records;
    expect(record?.message.headers).toEqual({ a: 'b' });
    expect(record?.bytes).toBe(1 + 1 + 2);
  });

  it('still rejects the reserved message-group header', () => {
    expect(rejectPlain(plain({ headers: { 'message-group': 'g' } }))).toEqual(invalidAt('messages[0].headers.message-group'));
  });
});

describe('dedup_id', () => {
  it('is optional and carried on the record', () => {
    const { records } = parseOrderedRequest(
      {
        topic: 'orders',
        messages: [
          { message_group: 'g', value: 'a', dedup_id: 'id-1' },
          { message_group: 'g', value: 'b' },
        ],
      },
      LIMITS,
    );
    expect(records.map((r) => r.dedupId)).toEqual(['id-1', undefined]);
  });

  it.each([
    ['an empty string', ''],
    ['a number', 7],
    ['over the byte limit', 'x'.repeat(17)],
  ])('is rejected when %s', (_why, dedupId) => {
    expect(() => parseOrderedRequest({ topic: 'orders', messages: [{ message_group: 'g', value: 'a', dedup_id: dedupId }] }, LIMITS)).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST', field: 'messages[0].dedup_id' }),
    );
  });

  it('may not repeat within one request', () => {
    const body = {
      topic: 'orders',
      messages: [
        { message_group: 'g', value: 'a', dedup_id: 'same' },
        { message_group: 'h', value: 'b', dedup_id: 'same' },
      ],
    };
    expect(() => parseOrderedRequest(body, LIMITS)).toThrow(expect.objectContaining({ field: 'messages[1].dedup_id' }));
  });
});
