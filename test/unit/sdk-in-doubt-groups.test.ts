import { describe, expect, it } from 'vitest';
import { GroupInDoubtError } from '../../src/sdk/index.ts';
import { InDoubtGroups } from '../../src/sdk/in-doubt.ts';
import type { MessageOutcome } from '../../src/sdk/result-types.ts';

describe('InDoubtGroups', () => {
  const unknown = (messageGroup: string, dedupId: string): MessageOutcome => ({
    status: 'unknown',
    messageGroup,
    partition: 0,
    dedupId,
    error: { code: 'TIMEOUT', message: 't', retriable: true },
  });
  const written = (messageGroup: string, dedupId: string): MessageOutcome => ({
    status: 'written',
    messageGroup,
    partition: 0,
    offset: '1',
    duplicate: false,
    dedupId,
  });
  const failed = (messageGroup: string, dedupId: string): MessageOutcome => ({
    status: 'failed',
    messageGroup,
    partition: 0,
    dedupId,
    error: { code: 'X', message: 'x', retriable: false },
  });
  const send = (...ids: (string | undefined)[]) => ids.map((dedupId) => ({ messageGroup: 'g', value: 'v', ...(dedupId === undefined ? {} : { dedupId }) }));

  it('lets through only sends that begin with the in-doubt ids (or with a beginning of them)', () => {
    const doubts = new InDoubtGroups();
    doubts.record('t', [written('g', 'w'), unknown('g', 'd1'), unknown('g', 'd2'), unknown('h', 'e1')]);
    expect(doubts.get('t', 'g')).toEqual(['d1', 'd2']);
    for (const ok of [send('d1'), send('d1', 'd2'), send('d1', 'd2', 'n1'), send('d1', 'd2', undefined)]) expect(() => doubts.check('t', ok)).not.toThrow();
    for (const bad of [send('d2'), send('n1'), send(undefined), send('d1', 'n1'), send('d2', 'd1')])
      expect(() => doubts.check('t', bad)).toThrow(GroupInDoubtError);
    expect(() => doubts.check('other-topic', send('n1'))).not.toThrow();
  });

  it('written ids leave the doubt, unknown ones join it in order; a refused resend keeps it', () => {
    const doubts = new InDoubtGroups();
    doubts.record('t', [unknown('g', 'd1'), unknown('g', 'd2')]);
    doubts.record('t', [failed('g', 'd1')]);
    expect(doubts.get('t', 'g')).toEqual(['d1', 'd2']);
    doubts.record('t', [written('g', 'd1'), unknown('g', 'd2'), unknown('g', 'n1')]);
    expect(doubts.get('t', 'g')).toEqual(['d2', 'n1']);
    doubts.record('t', [written('g', 'd2'), written('g', 'n1')]);
    expect(doubts.get('t', 'g')).toEqual([]);
    expect(() => doubts.check('t', send('anything'))).not.toThrow();
  });
});
