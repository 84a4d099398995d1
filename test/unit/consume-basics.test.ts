import { describe, expect, it } from 'vitest';
import { deadLetterRequest, missingDeadLetterTopics } from '../../src/consume/dead-letter.ts';
import { parseSubscriptions } from '../../src/consume/subscriptions.ts';
import { deliveryBody, groupOf } from '../../src/consume/delivery.ts';
import { OffsetTracker } from '../../src/consume/offset-tracker.ts';

describe('offset tracker', () => {
  it('commits the lowest offset not done, across gaps, and the end once all are done', () => {
    const t = new OffsetTracker(5n);
    expect(t.committable()).toBe(5n);
    t.add([5n, 6n, 9n], 12n); // 7, 8 compacted away; 10, 11 control records
    t.markDone(6n);
    t.markDone(9n);
    expect(t.committable()).toBe(5n);
    t.markDone(5n);
    expect(t.committable()).toBe(12n);
    expect(t.pending).toBe(0);
  });
});

describe('delivery body', () => {
  it('groups by message-group header, then key; encodes non-UTF-8 bytes as base64; offsets and timestamps as strings', () => {
    const withHeader = {
      offset: 42n,
      key: Buffer.from('k'),
      value: Buffer.from([0xff, 0xfe]),
      headers: { 'message-group': Buffer.from('user-1') },
      timestamp: '1764000000000',
    };
    expect(groupOf(withHeader)).toBe('user-1');
    expect(groupOf({ ...withHeader, headers: {} })).toBe('k');
    expect(groupOf({ ...withHeader, headers: {}, key: null })).toBeNull();
    expect(deliveryBody('orders-app', 'orders', { partition: 3, group: 'user-1', attempt: 2, records: [withHeader] })).toEqual({
      subscription: 'orders-app',
      topic: 'orders',
      partition: 3,
      message_group: 'user-1',
      attempt: 2,
      messages: [{ offset: '42', key: 'k', value: '//4=', value_encoding: 'base64', headers: { 'message-group': 'user-1' }, timestamp: '1764000000000' }],
    });
  });
});

describe('dead-letter request', () => {
  const record = {
    offset: 7n,
    key: Buffer.from('k'),
    value: Buffer.from([0xff]),
    headers: { 'message-group': Buffer.from('g'), trace: Buffer.from('t1') },
    timestamp: '1',
  };
  it('keeps the group (ordered produce), the bytes and headers, and adds the original coordinates and last error', () => {
    expect(deadLetterRequest('sub', 'orders', 'orders.dlq', { partition: 3, group: 'g', attempt: 5, records: [record] }, 'HTTP 500')).toEqual({
      kind: 'ordered',
      body: {
        topic: 'orders.dlq',
        messages: [
          {
            message_group: 'g',
            key: 'k',
            value: '/w==',
            value_encoding: 'base64',
            headers: {
              trace: 't1',
              'dead-letter-original-topic': 'orders',
              'dead-letter-original-partition': '3',
              'dead-letter-original-offset': '7',
              'dead-letter-error': 'HTTP 500',
              'dead-letter-attempts': '5',
              'dead-letter-subscription': 'sub',
            },
          },
        ],
      },
    });
  });
  it('sends records without a group to partition 0 through plain produce, keeping their order', () => {
    const request = deadLetterRequest(
      'sub',
      'orders',
      'orders.dlq',
      { partition: 1, group: null, attempt: 2, records: [{ ...record, key: null, headers: {} }] },
      'timeout',
    );
    expect(request.kind).toBe('plain');
    expect(request.body.messages[0]).toMatchObject({ partition: 0, key: null });
  });
});

describe('dead-letter topics checked at start', () => {
  it('names the subscriptions whose dead-letter topic Kafka does not have, and only those', () => {
    const base = { topic: 'orders', consumer_group: 'c', endpoint: 'http://127.0.0.1:3000/' };
    const subscriptions = parseSubscriptions({
      subscriptions: [
        { ...base, name: 'has-it', on_exhausted: 'dead-letter', dead_letter_topic: 'orders.dlq' },
        { ...base, name: 'lacks-it', on_exhausted: 'dead-letter', dead_letter_topic: 'orders.dlq-missing' },
        { ...base, name: 'blocks', on_exhausted: 'block' },
      ],
    });
    expect(missingDeadLetterTopics(subscriptions, new Set(['orders', 'orders.dlq'])).map((s) => s.name)).toEqual(['lacks-it']);
    expect(missingDeadLetterTopics(subscriptions, new Set(['orders', 'orders.dlq', 'orders.dlq-missing']))).toEqual([]);
  });
});
