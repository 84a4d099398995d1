import { describe, expect, it } from 'vitest';
import { RefusalTally } from '../../src/routing/refusal-tally.ts';
import { fakeClock } from '../support/fake-clock.ts';

const INTERVAL = 60_000;

/** A tally on a clock the test moves by hand. */
function tally() {
  const clock = fakeClock(1_000);
  return { clock, tally: new RefusalTally(INTERVAL, clock.now) };
}

describe('RefusalTally', () => {
  it('has nothing to say before any refusal, however long it waits', () => {
    const { clock, tally: t } = tally();
    clock.ms += 10 * INTERVAL;
    expect(t.due()).toBeUndefined();
    expect(t.end()).toEqual({ requests: 0, messages: 0 });
  });

  it('hands out one summary per interval at most, counting requests and their messages since the last one', () => {
    const { clock, tally: t } = tally();
    t.refused(3);
    expect(t.due()).toBeUndefined(); // the first refusal starts the interval; the outage line said it began
    clock.ms += INTERVAL - 1;
    t.refused(2);
    expect(t.due()).toBeUndefined();
    clock.ms += 1;
    expect(t.due()).toEqual({ requests: 2, messages: 5, overMs: INTERVAL });
    expect(t.due()).toBeUndefined(); // nothing new, and no new interval either
    t.refused(1);
    clock.ms += INTERVAL / 2;
    expect(t.due()).toBeUndefined();
    clock.ms += INTERVAL / 2;
    expect(t.due()).toEqual({ requests: 1, messages: 1, overMs: INTERVAL });
  });

  it('after a quiet stretch, summarises the next refusal over the whole stretch rather than dropping it', () => {
    const { clock, tally: t } = tally();
    t.refused(1);
    clock.ms += INTERVAL;
    t.due();
    clock.ms += 5 * INTERVAL;
    t.refused(4);
    expect(t.due()).toEqual({ requests: 1, messages: 4, overMs: 5 * INTERVAL });
  });

  it('end gives the whole outage, summarised or not, and starts the next outage from zero', () => {
    const { clock, tally: t } = tally();
    t.refused(2);
    clock.ms += INTERVAL;
    t.due();
    t.refused(7);
    expect(t.end()).toEqual({ requests: 2, messages: 9 });
    expect(t.due()).toBeUndefined();
    t.refused(1);
    expect(t.due()).toBeUndefined(); // a new outage starts a new interval
    expect(t.end()).toEqual({ requests: 1, messages: 1 });
  });
});
