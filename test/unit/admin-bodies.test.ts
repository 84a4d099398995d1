import { describe, expect, it } from 'vitest';
import { isBlockedHead, isBlockedList, isChange, isGroupPage, isLoads, isMapping, isTopicList } from '../../src/cli/admin-bodies.ts';

const blocked = { partition: 0, group: null, offsets: ['4'], attempt: 2, error: 'HTTP 500' };
const change = { topic: 't', group: 'g', previous_partition: 1, partition: null, last_access: '2026-01-01T00:00:00.000Z', released: true };

describe('the CLI checks the admin answers it reads', () => {
  it('accepts the shapes the sidecar sends, extra fields included', () => {
    expect(isTopicList({ topics: ['a', 'b'] })).toBe(true);
    expect(isMapping({ topic: 't', group: 'g', partition: 3, last_access: '2026-01-01T00:00:00.000Z' })).toBe(true);
    expect(isGroupPage({ groups: [{ group: 'g', partition: 0, last_access: 'x' }], next_cursor: null })).toBe(true);
    expect(isLoads({ topic: 't', partitions: [{ partition: 0, groups: 2 }], total: 2, max_minus_min: 0, deviation: 0, added_later: 1 })).toBe(true);
    expect(isChange(change)).toBe(true);
    expect(isBlockedList({ subscription: 's', blocked_groups: [blocked, { ...blocked, group: 'g', error: undefined }] })).toBe(true);
    expect(isBlockedHead({ subscription: 's', action: 'skip', head: blocked })).toBe(true);
  });

  it('refuses an answer with a renamed or mistyped field', () => {
    expect(isTopicList({ topic: ['a'] })).toBe(false);
    expect(isMapping({ topic: 't', group: 'g', partition: '3', last_access: 'x' })).toBe(false);
    expect(isGroupPage({ groups: [], nextCursor: null })).toBe(false);
    expect(isLoads({ topic: 't', partitions: [{ partition: 0, count: 2 }], total: 2, max_minus_min: 0, deviation: 0 })).toBe(false);
    expect(isChange({ ...change, released: 'yes' })).toBe(false);
    expect(isBlockedList({ blocked: [blocked] })).toBe(false);
    expect(isBlockedHead({ head: { ...blocked, offsets: [4] } })).toBe(false);
    expect(isBlockedHead(undefined)).toBe(false);
  });
});
