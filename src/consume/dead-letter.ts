import { GROUP_HEADER } from '../protocol/group-header.ts';
import { encodeBytes, type Delivery } from './delivery.ts';
import type { Subscription } from './subscriptions.ts';

/** Headers a dead-lettered message carries, besides its own (docs/consumption.md). */
export const DEAD_LETTER_HEADERS = {
  topic: 'dead-letter-original-topic',
  partition: 'dead-letter-original-partition',
  offset: 'dead-letter-original-offset',
  error: 'dead-letter-error',
  attempts: 'dead-letter-attempts',
  subscription: 'dead-letter-subscription',
} as const;

const ERROR_HEADER_CHARS = 1000;

/** A produce request body for the sidecar's own produce path: `ordered` keeps the group; `plain` is for records without one. */
export interface DeadLetterRequest {
  kind: 'ordered' | 'plain';
  body: { topic: string; messages: Array<Record<string, unknown>> };
}

/** A key or value as the produce API takes it (the delivery body's own encoding). */
export function bytes(buf: Buffer | null, field: 'key' | 'value'): Record<string, unknown> {
  const { text, base64 } = encodeBytes(buf);
  return base64 ? { [field]: text, [`${field}_encoding`]: 'base64' } : { [field]: text };
}

/**
 * The dead-letter write of one exhausted delivery: the same key, value and headers, in order, under the same
 * MessageGroup (so the dead-letter topic keeps the group's order too). Records without a group all go to
 * partition 0, which keeps their partition order.
 */
export function deadLetterRequest(subscription: string, topic: string, deadLetterTopic: string, delivery: Delivery, lastError: string): DeadLetterRequest {
  const messages = delivery.records.map((r) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(r.headers)) {
      // The produce path sets the group header itself, from message_group.
      if (value !== undefined && name.toLowerCase() !== GROUP_HEADER) headers[name] = value.toString('utf8');
    }
    headers[DEAD_LETTER_HEADERS.topic] = topic;
    headers[DEAD_LETTER_HEADERS.partition] = String(delivery.partition);
    headers[DEAD_LETTER_HEADERS.offset] = r.offset.toString();
    headers[DEAD_LETTER_HEADERS.error] = lastError.slice(0, ERROR_HEADER_CHARS);
    headers[DEAD_LETTER_HEADERS.attempts] = String(delivery.attempt);
    headers[DEAD_LETTER_HEADERS.subscription] = subscription;
    const common = { ...bytes(r.key, 'key'), ...bytes(r.value, 'value'), headers };
    return delivery.group === null ? { ...common, partition: 0 } : { ...common, message_group: delivery.group };
  });
  return { kind: delivery.group === null ? 'plain' : 'ordered', body: { topic: deadLetterTopic, messages } };
}

/**
 * The subscriptions whose dead-letter topic is not among `existing`. Such a topic fails only when a group
 * runs out of attempts (the write is refused for good and the group blocks), so the start says so first.
 */
export const missingDeadLetterTopics = (subscriptions: readonly Subscription[], existing: ReadonlySet<string>): Subscription[] =>
  subscriptions.filter((s) => s.deadLetterTopic !== undefined && !existing.has(s.deadLetterTopic));
