import { SidecarError, invalid } from '../errors/sidecar-error.ts';
import { GROUP_HEADER } from '../protocol/group-header.ts';
import { topicNameProblem } from '../protocol/topic-name.ts';
import { isUnnameableGroup, UNNAMEABLE_GROUP } from '../protocol/produce.ts';
import type { OrderedRecord, PlainRecord, ProduceRequest } from './produce-types.ts';
import type { OutgoingRecord } from '../writer/partition-writer.ts';

export interface RequestLimits {
  maxGroupBytes: number;
  maxDedupIdBytes: number;
  maxMessageBytes: number;
  maxMessagesPerRequest: number;
}

type Json = Record<string, unknown>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ENCODINGS = ['utf8', 'base64'] as const;
const COMMON_FIELDS = ['key', 'value', 'headers', 'key_encoding', 'value_encoding'];
const ORDERED_FIELDS = new Set(['message_group', 'dedup_id', ...COMMON_FIELDS]);
const PLAIN_FIELDS = new Set(['partition', ...COMMON_FIELDS]);
const ENVELOPE_FIELDS = new Set(['topic', 'messages']);

/**
 * A string with a lone UTF-16 surrogate has no UTF-8 form: encoding turns the surrogate into U+FFFD, so two
 * such strings that differ only there would pass as different here and be one in Redis and Kafka.
 */
export const LONE_SURROGATE = 'holds a lone UTF-16 surrogate (\\uD800-\\uDFFF not in a pair), which has no UTF-8 form';

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function rejectUnknown(value: Json, allowed: Set<string>, at: string | number): void {
  // for...in: no array of keys per message (a parsed JSON object has no inherited enumerable keys).
  for (const key in value) {
    if (!allowed.has(key)) throw invalid(`${pathOf(at)}.${key}`, `unknown field (allowed: ${[...allowed].join(', ')})`);
  }
}

/**
 * Where a problem is: a message's index, made into `messages[i]` only for an error message (a string per
 * message would be built for nothing on the hot path), or a path as it is.
 */
const pathOf = (at: string | number): string => (typeof at === 'number' ? `messages[${at}]` : at);

const ENCODING_FIELD = { key: 'key_encoding', value: 'value_encoding' } as const;

/** A key or value: a UTF-8 string, or base64 when `<field>_encoding` says so; null is Kafka's null. */
function payload(message: Json, field: 'key' | 'value', at: number): Buffer | string | null {
  const raw = message[field];
  const encoding = message[ENCODING_FIELD[field]] ?? 'utf8';
  if (!ENCODINGS.includes(encoding as (typeof ENCODINGS)[number])) {
    throw invalid(`${pathOf(at)}.${field}_encoding`, `must be "utf8" or "base64"`);
  }
  if (raw === undefined || raw === null) {
    if (field === 'value' && raw === undefined) throw invalid(`${pathOf(at)}.value`, 'is required (use null for a tombstone)');
    return null;
  }
  if (typeof raw !== 'string') throw invalid(`${pathOf(at)}.${field}`, `must be a string, got ${typeof raw}`);
  if (encoding === 'utf8') {
    // Written as UTF-8, a lone surrogate would become U+FFFD: what Kafka holds would not be what was sent.
    if (!raw.isWellFormed()) throw invalid(`${pathOf(at)}.${field}`, LONE_SURROGATE);
    return raw;
  }
  if (!BASE64.test(raw)) throw invalid(`${pathOf(at)}.${field}`, 'is not valid base64');
  return Buffer.from(raw, 'base64');
}

function headers(message: Json, at: number): Record<string, string> {
  const raw = message.headers;
  if (raw === undefined) return NO_HEADERS;
  const path = pathOf(at);
  if (!isObject(raw)) throw invalid(`${path}.headers`, 'must be an object of string values');
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw invalid(`${path}.headers.${name}`, 'must be a string');
    if (!value.isWellFormed()) throw invalid(`${path}.headers.${name}`, LONE_SURROGATE);
    if (!name.isWellFormed()) throw invalid(`${path}.headers`, `a header name ${LONE_SURROGATE}`);
    if (name.toLowerCase() === GROUP_HEADER) throw invalid(`${path}.headers.${name}`, `is reserved: the sidecar sets it from message_group`);
  }
  return raw as Record<string, string>;
}

/** Optional idempotency id. Two messages of one request sharing one would make the outcome ambiguous. */
function dedupId(message: Json, at: number, limits: RequestLimits, seen: Set<string>): string | undefined {
  const id = message.dedup_id;
  if (id === undefined || id === null) return undefined;
  const path = pathOf(at);
  if (typeof id !== 'string' || id === '') throw invalid(`${path}.dedup_id`, 'must be a non-empty string');
  if (!id.isWellFormed()) throw invalid(`${path}.dedup_id`, LONE_SURROGATE);
  if (Buffer.byteLength(id) > limits.maxDedupIdBytes) throw invalid(`${path}.dedup_id`, `is over the limit of ${limits.maxDedupIdBytes} bytes`);
  if (seen.has(id)) throw invalid(`${path}.dedup_id`, 'repeats the dedup_id of an earlier message in this request');
  seen.add(id);
  return id;
}

const byteLength = (v: Buffer | string | null): number => (v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);

const GROUP_HEADER_BYTES = Buffer.byteLength(GROUP_HEADER);
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * Key, value and headers of one message, with its size. Runs once per message on the hot path: the request's
 * own headers object is reused when there is nothing to add, and one object is built when the group is.
 */
function commonRecord(message: Json, at: number, limits: RequestLimits, group?: { name: string; bytes: number }): OutgoingRecord {
  const key = payload(message, 'key', at);
  const value = payload(message, 'value', at);
  const own = headers(message, at);
  let bytes = byteLength(key) + byteLength(value);
  for (const name in own) bytes += Buffer.byteLength(name) + Buffer.byteLength(own[name]!);
  let all = own;
  if (group) {
    all = own === NO_HEADERS ? { [GROUP_HEADER]: group.name } : { ...own, [GROUP_HEADER]: group.name };
    bytes += GROUP_HEADER_BYTES + group.bytes;
  }
  if (bytes > limits.maxMessageBytes) {
    const path = pathOf(at);
    const counted = group ? 'key, value and headers, with the message-group header the sidecar adds' : 'key, value and headers';
    throw new SidecarError(
      'PAYLOAD_TOO_LARGE',
      `${path}: message is ${bytes} bytes (${counted}), over the limit of ${limits.maxMessageBytes} (MAX_MESSAGE_BYTES)`,
      {
        field: path,
      },
    );
  }
  return { message: { key, value, headers: all }, bytes };
}

function envelope(body: unknown, limits: RequestLimits): { topic: string; messages: unknown[] } {
  if (!isObject(body)) throw invalid('body', 'must be a JSON object with "topic" and "messages"');
  rejectUnknown(body, ENVELOPE_FIELDS, 'body');
  const { topic, messages } = body;
  if (typeof topic !== 'string' || topic === '') throw invalid('topic', 'is required and must be a non-empty string');
  const problem = topicNameProblem(topic);
  if (problem) throw invalid('topic', problem);
  if (!Array.isArray(messages)) throw invalid('messages', 'is required and must be an array');
  if (messages.length === 0) throw invalid('messages', 'must not be empty');
  if (messages.length > limits.maxMessagesPerRequest) {
    throw new SidecarError('PAYLOAD_TOO_LARGE', `messages: ${messages.length} messages, over the limit of ${limits.maxMessagesPerRequest} per request`, {
      field: 'messages',
    });
  }
  return { topic, messages };
}

/** Validates a whole ordered produce request up front, so a bad message means nothing of the request is written. */
export function parseOrderedRequest(body: unknown, limits: RequestLimits): ProduceRequest<OrderedRecord> {
  const { topic, messages } = envelope(body, limits);
  const seenIds = new Set<string>();
  const records = messages.map((message, i): OrderedRecord => {
    if (!isObject(message)) throw invalid(pathOf(i), 'must be an object');
    rejectUnknown(message, ORDERED_FIELDS, i);
    const group = message.message_group;
    if (typeof group !== 'string' || group === '') throw invalid(`${pathOf(i)}.message_group`, 'is required and must be a non-empty string');
    if (!group.isWellFormed()) throw invalid(`${pathOf(i)}.message_group`, LONE_SURROGATE);
    if (isUnnameableGroup(group)) throw invalid(`${pathOf(i)}.message_group`, UNNAMEABLE_GROUP);
    const groupBytes = Buffer.byteLength(group);
    if (groupBytes > limits.maxGroupBytes) throw invalid(`${pathOf(i)}.message_group`, `is ${groupBytes} bytes, over the limit of ${limits.maxGroupBytes}`);
    const { message: record, bytes } = commonRecord(message, i, limits, { name: group, bytes: groupBytes });
    return { group, dedupId: dedupId(message, i, limits, seenIds), message: record, bytes };
  });
  return { topic, records };
}

/** Validates a plain produce request (Kafka's own semantics: explicit partition, or the key decides). */
export function parsePlainRequest(body: unknown, limits: RequestLimits): ProduceRequest<PlainRecord> {
  const { topic, messages } = envelope(body, limits);
  const records = messages.map((message, i): PlainRecord => {
    if (!isObject(message)) throw invalid(pathOf(i), 'must be an object');
    rejectUnknown(message, PLAIN_FIELDS, i);
    const partition = message.partition;
    if (partition !== undefined && partition !== null && !(Number.isInteger(partition) && (partition as number) >= 0)) {
      throw invalid(`${pathOf(i)}.partition`, 'must be a non-negative integer');
    }
    const { message: record, bytes } = commonRecord(message, i, limits);
    return { partition: (partition as number | null | undefined) ?? undefined, message: record, bytes };
  });
  return { topic, records };
}
