import { describe, expect, it } from 'vitest';
import { replayFilter, resetTarget, timestampParam } from '../../src/http/operation-bodies.ts';
import { replayDedupId } from '../../src/consume/dlq-replay.ts';
import { targetText } from '../../src/consume/offset-reset.ts';
import { SidecarError } from '../../src/errors/sidecar-error.ts';

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof SidecarError ? `${err.code} ${err.field}` : String(err);
  }
  return 'accepted';
};

describe('operator call bodies', () => {
  it('reads times as ISO 8601 with a zone or Unix milliseconds, and nothing else', () => {
    expect(timestampParam('to', '2026-12-04T21:00:00Z')).toBe(Date.UTC(2026, 11, 4, 21));
    expect(timestampParam('to', '2026-12-04T22:00:00.5+01:00')).toBe(Date.UTC(2026, 11, 4, 21, 0, 0, 500));
    expect(timestampParam('to', '1796418000000')).toBe(1796418000000);
    for (const bad of ['2026-12-04', '2026-12-04T21:00:00', 'yesterday', '', '-5', '1e12', 1796418000000, null])
      expect(refusal(() => timestampParam('to', bad))).toBe('INVALID_REQUEST to');
  });

  it('refuses a time a JS Date cannot hold, or before 1970 (Kafka reads -1 and -2 as latest and earliest)', () => {
    expect(timestampParam('to', '8640000000000000')).toBe(8.64e15);
    expect(timestampParam('from', '0')).toBe(0);
    for (const bad of ['8640000000000001', '9000000000000000', '1969-12-31T23:59:59Z', '1970-01-01T00:30:00+01:00'])
      expect(refusal(() => timestampParam('to', bad))).toBe('INVALID_REQUEST to');
    expect(refusal(() => resetTarget({ to: '9000000000000000' }))).toBe('INVALID_REQUEST to');
    expect(refusal(() => replayFilter({ from: '9000000000000000' }, 128))).toBe('INVALID_REQUEST from');
  });

  it('shows a reset target without throwing, even for a time the parser would refuse', () => {
    expect(targetText({ kind: 'timestamp', ms: Date.UTC(2026, 11, 4, 21) })).toBe('2026-12-04T21:00:00.000Z');
    expect(targetText({ kind: 'timestamp', ms: 9e15 })).toBe('9000000000000000');
    expect(targetText({ kind: 'earliest' })).toBe('earliest');
  });

  it('takes a reset target of earliest, latest or a time, and refuses anything else', () => {
    expect(resetTarget({ to: 'earliest' })).toEqual({ kind: 'earliest' });
    expect(resetTarget({ to: 'latest' })).toEqual({ kind: 'latest' });
    expect(resetTarget({ to: '1796418000000' })).toEqual({ kind: 'timestamp', ms: 1796418000000 });
    expect(refusal(() => resetTarget({}))).toBe('INVALID_REQUEST to');
    expect(refusal(() => resetTarget({ to: 'earliest', partition: 1 }))).toBe('INVALID_REQUEST body.partition');
    expect(refusal(() => resetTarget('earliest'))).toBe('INVALID_REQUEST body');
  });

  it('takes a replay filter with from before to and a group within MAX_GROUP_BYTES', () => {
    expect(replayFilter({}, 128)).toEqual({ group: undefined, fromMs: undefined, toMs: undefined });
    expect(replayFilter({ message_group: 'g', from: '1000', to: '2000' }, 128)).toEqual({ group: 'g', fromMs: 1000, toMs: 2000 });
    expect(refusal(() => replayFilter({ from: '2000', to: '2000' }, 128))).toBe('INVALID_REQUEST to');
    expect(refusal(() => replayFilter({ message_group: 'x'.repeat(129) }, 128))).toBe('INVALID_REQUEST message_group');
    expect(refusal(() => replayFilter({ message_group: null }, 128))).toBe('INVALID_REQUEST message_group');
    expect(refusal(() => replayFilter({ group: 'g' }, 128))).toBe('INVALID_REQUEST body.group');
  });
});

describe('replay deduplication ids', () => {
  it('name one dead letter: same place, same id; any other place, another id; short whatever the topic name', () => {
    const id = replayDedupId('orders.dlq', 2, 41n);
    expect(replayDedupId('orders.dlq', 2, 41n)).toBe(id);
    expect(new Set([id, replayDedupId('orders.dlq', 2, 42n), replayDedupId('orders.dlq', 3, 41n), replayDedupId('other.dlq', 2, 41n)]).size).toBe(4);
    expect(Buffer.byteLength(replayDedupId('t'.repeat(249), 2 ** 31 - 1, 2n ** 63n - 1n))).toBeLessThanOrEqual(128);
  });
});
