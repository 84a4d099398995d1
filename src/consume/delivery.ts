import { isUtf8 } from 'node:buffer';
import { GROUP_HEADER } from '../protocol/group-header.ts';
import type { DeliveredMessage, DeliveryBody } from '../protocol/delivery.ts';
import type { ConsumedRecord } from './consumer-engine.ts';

/** Consecutive messages of one MessageGroup of one partition, sent to the endpoint as one POST. */
export interface Delivery {
  partition: number;
  /** The MessageGroup, or null for records without one (delivered in partition order, one at a time). */
  group: string | null;
  attempt: number;
  records: ConsumedRecord[];
}

/** What one attempt came to; `ok: false` means the same messages are tried again. */
export type DeliveryResult = { ok: true } | { ok: false; error: string; retryAfterMs?: number };

/** A record's group: its `message-group` header, else its key, else none. */
export function groupOf(record: ConsumedRecord): string | null {
  const header = record.headers[GROUP_HEADER];
  if (header !== undefined) return header.toString('utf8');
  return record.key === null ? null : record.key.toString('utf8');
}

/** Bytes as the produce API takes them: a UTF-8 string, or base64 (flagged) when they are not valid UTF-8. */
export function encodeBytes(buf: Buffer | null): { text: string | null; base64: boolean } {
  if (buf === null) return { text: null, base64: false };
  return isUtf8(buf) ? { text: buf.toString('utf8'), base64: false } : { text: buf.toString('base64'), base64: true };
}

function message(record: ConsumedRecord): DeliveredMessage {
  const key = encodeBytes(record.key);
  const value = encodeBytes(record.value);
  const headers: Record<string, string> = {};
  for (const [name, header] of Object.entries(record.headers)) if (header !== undefined) headers[name] = header.toString('utf8');
  return {
    offset: record.offset.toString(),
    key: key.text,
    ...(key.base64 ? { key_encoding: 'base64' as const } : {}),
    value: value.text,
    ...(value.base64 ? { value_encoding: 'base64' as const } : {}),
    headers,
    timestamp: record.timestamp,
  };
}

export function deliveryBody(subscription: string, topic: string, delivery: Delivery): DeliveryBody {
  return {
    subscription,
    topic,
    partition: delivery.partition,
    message_group: delivery.group,
    attempt: delivery.attempt,
    messages: delivery.records.map(message),
  };
}
