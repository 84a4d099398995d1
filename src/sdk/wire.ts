import type { ErrorBody } from '../protocol/error-codes.ts';
import { GROUP_HEADER } from '../protocol/group-header.ts';
import { isUnnameableGroup, UNNAMEABLE_GROUP, type ProduceResponse, type WireMessage } from '../protocol/produce.ts';
import { NonRetriableError } from './errors.ts';
import type { MessageData, OrderedMessage } from './message-types.ts';

const MAX_DEDUP_ID_BYTES = 128;

const invalid = (field: string, message: string): NonRetriableError =>
  new NonRetriableError({ code: 'INVALID_REQUEST', message: `${field}: ${message}`, field });

const isData = (data: unknown): data is MessageData => data === null || typeof data === 'string' || data instanceof Uint8Array;

/** Only for validated messages (validateMessages has checked the types). */
function encodeData(data: MessageData | undefined): { text: string | null; base64: boolean } {
  if (data === undefined || data === null) return { text: null, base64: false };
  if (typeof data === 'string') return { text: data, base64: false };
  return { text: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'), base64: true };
}

function validateHeaders(headers: unknown, path: string): void {
  if (headers === undefined) return;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) throw invalid(`${path}.headers`, 'must be an object of string values');
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === GROUP_HEADER) throw invalid(`${path}.headers.${name}`, 'is reserved: it is set from messageGroup');
    if (typeof value !== 'string') throw invalid(`${path}.headers.${name}`, `must be a string, got ${value === null ? 'null' : typeof value}`);
  }
}

/**
 * Checks what the client can check without the sidecar, before either path (sidecar or Kafka fallback), so
 * both reject the same messages with the same error, and a caller's mistake costs no round trip.
 */
export function validateMessages(topic: string, messages: readonly OrderedMessage[]): void {
  if (typeof topic !== 'string' || topic === '') throw invalid('topic', 'must be a non-empty string');
  if (!Array.isArray(messages) || messages.length === 0) throw invalid('messages', 'must be a non-empty array');
  const ids = new Set<string>();
  messages.forEach((m, i) => {
    const path = `messages[${i}]`;
    if (typeof m !== 'object' || m === null) throw invalid(path, 'must be an object');
    if (typeof m.messageGroup !== 'string' || m.messageGroup === '') throw invalid(`${path}.messageGroup`, 'must be a non-empty string');
    if (isUnnameableGroup(m.messageGroup)) throw invalid(`${path}.messageGroup`, UNNAMEABLE_GROUP);
    if (m.value === undefined) throw invalid(`${path}.value`, 'is required (use null for a tombstone)');
    if (!isData(m.value)) throw invalid(`${path}.value`, `must be a string, Buffer, Uint8Array or null, got ${typeof m.value}`);
    if (m.key !== undefined && !isData(m.key)) throw invalid(`${path}.key`, `must be a string, Buffer, Uint8Array or null, got ${typeof m.key}`);
    validateHeaders(m.headers, path);
    if (m.dedupId !== undefined) {
      const bytes = typeof m.dedupId === 'string' ? Buffer.byteLength(m.dedupId) : 0;
      if (bytes < 1 || bytes > MAX_DEDUP_ID_BYTES) throw invalid(`${path}.dedupId`, `must be a string of 1..${MAX_DEDUP_ID_BYTES} UTF-8 bytes`);
      if (ids.has(m.dedupId)) throw invalid(`${path}.dedupId`, 'repeats the dedupId of an earlier message of this send');
      ids.add(m.dedupId);
    }
  });
}

/** One message on the wire; binary keys and values travel as base64 with their `*_encoding`. */
export function toWireMessage(message: OrderedMessage, dedupId: string | undefined): WireMessage {
  const value = encodeData(message.value);
  const key = encodeData(message.key);
  return {
    message_group: message.messageGroup,
    key: key.text,
    value: value.text,
    ...(key.base64 ? { key_encoding: 'base64' as const } : {}),
    ...(value.base64 ? { value_encoding: 'base64' as const } : {}),
    ...(message.headers === undefined ? {} : { headers: message.headers }),
    ...(dedupId === undefined ? {} : { dedup_id: dedupId }),
  };
}

export const isWireError = (body: unknown): body is ErrorBody =>
  typeof body === 'object' && body !== null && typeof (body as ErrorBody).error?.code === 'string';

const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null;

const OFFSET = /^\d+$/;

/** A result entry whose offset, when it has one, is a Kafka offset (results are ordered by them as BigInts). */
const isReadableResult = (entry: unknown): boolean => {
  if (!isObject(entry)) return false;
  const { offset, partition } = entry as { offset?: unknown; partition?: unknown };
  return !('offset' in (entry as object)) || (typeof offset === 'string' && OFFSET.test(offset) && Number.isSafeInteger(partition));
};

/** A produce answer the SDK can read entry by entry (a null entry would otherwise throw while it is read). */
export const isProduceResponse = (body: unknown): body is ProduceResponse =>
  isObject(body) &&
  Array.isArray((body as ProduceResponse).results) &&
  Array.isArray((body as ProduceResponse).partition_errors) &&
  (body as ProduceResponse).results.every(isReadableResult) &&
  (body as ProduceResponse).partition_errors.every(isObject);
