import { describe, expect, it, vi } from 'vitest';
import type { ConsumedRecord } from '../../src/consume/consumer-engine.ts';
import type { Delivery, DeliveryResult } from '../../src/consume/delivery.ts';
import type { LeaseAnswer } from '../../src/consume/delivery-leases.ts';
import { DeadLetterRejected, type DispatchPolicy } from '../../src/consume/dispatch-ports.ts';
import { GroupDispatcher } from '../../src/consume/group-dispatcher.ts';

const record = (offset: number, group: string | null): ConsumedRecord => ({
  offset: BigInt(offset),
  key: group === null ? null : Buffer.from(group),
  value: Buffer.from(`v${offset}`),
  headers: {},
  timestamp: '1764000000000',
});

/**
 * A dispatcher whose deliveries, dead letters and timers the test settles by hand. Leases are held at once
 * unless `lease` answers otherwise (a promise: the test settles it); `leases` lists takes and releases.
 */
function harness(policy: Partial<DispatchPolicy> = {}, lease: (group: string | null) => LeaseAnswer | Promise<LeaseAnswer> = () => ({ held: true })) {
  const pending: Array<{ delivery: Delivery; offsets: number[]; resolve: (r: DeliveryResult) => void; reject: (err: Error) => void }> = [];
  const leases: string[] = [];
  const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  const deadLetters: Array<{ offsets: number[]; error: string; resolve: () => void; reject: (e: Error) => void }> = [];
  const events: string[] = [];
  const clock = { now: 0 };
  const dispatcher = new GroupDispatcher(
    { maxInFlightGroups: 64, batchMaxMessages: 1, maxAttempts: 3, onExhausted: 'dead-letter', retryBackoffMs: 100, retryBackoffMaxMs: 1000, ...policy },
    {
      deliver: (delivery) =>
        new Promise((resolve, reject) => pending.push({ delivery, offsets: delivery.records.map((r) => Number(r.offset)), resolve, reject })),
      deadLetter: (delivery, error) =>
        new Promise((resolve, reject) => deadLetters.push({ offsets: delivery.records.map((r) => Number(r.offset)), error, resolve, reject })),
      leases: {
        owner: () => 'me/1',
        ensure: (owner, partition, group) => {
          leases.push(`ensure ${owner} ${partition} ${group}`);
          return lease(group);
        },
        release: (owner, partition, group) => leases.push(`release ${owner} ${partition} ${group}`),
      },
      setTimer: (fn, ms) => {
        const timer = { fn, ms, cancelled: false };
        timers.push(timer);
        return () => (timer.cancelled = true);
      },
      now: () => clock.now,
      random: () => 0.5,
      observer: {
        delivered: (d) => events.push(`delivered ${d.group} ${d.records.map((r) => r.offset).join(',')}`),
        failed: (d, error, wait) => events.push(`failed ${d.group} attempt ${d.attempt}: ${error} retry in ${wait}`),
        deadLettered: (d) => events.push(`dead-lettered ${d.group}`),
        deadLetterFailed: (d) => events.push(`dead letter failed ${d.group}`),
        blocked: (d) => events.push(`blocked ${d.group}`),
        skipped: (d) => events.push(`skipped ${d.group}`),
        leaseWait: (d, reason) => events.push(`lease wait ${d.group} ${reason}`),
      },
    },
  );
  /** Settles the in-flight delivery of `group` (the only one it may have). */
  const settle = async (group: string | null, result: DeliveryResult = { ok: true }) => {
    const i = pending.findIndex((p) => p.delivery.group === group);
    if (i === -1) throw new Error(`no delivery in flight for ${group}`);
    const [p] = pending.splice(i, 1);
    p!.resolve(result);
    await Promise.resolve();
    await Promise.resolve();
  };
  /** Records fetched into a held batch: the partition is open for deliveries. */
  const add = (partition: number, records: ConsumedRecord[], next: bigint) => {
    dispatcher.add(partition, records, next);
    dispatcher.open(partition);
  };
  const fireTimers = () => {
    for (const t of timers.splice(0)) if (!t.cancelled) t.fn();
  };
  return { dispatcher, pending, timers, deadLetters, events, leases, settle, fireTimers, add, clock };
}

const inFlight = (pending: Array<{ delivery: Delivery; offsets: number[] }>) => pending.map((p) => `${p.delivery.group}:${p.offsets.join(',')}`).sort();

describe('GroupDispatcher', () => {
  it('keeps one delivery in flight per group, runs groups in parallel inside one partition, and commits without skipping', async () => {
    const h = harness();
    h.add(0, [record(10, 'a'), record(11, 'b'), record(12, 'a'), record(13, 'c'), record(14, 'b')], 15n);
    expect(inFlight(h.pending)).toEqual(['a:10', 'b:11', 'c:13']);
    expect(h.dispatcher.committable(0)).toBe(10n);

    await h.settle('b');
    expect(inFlight(h.pending)).toEqual(['a:10', 'b:14', 'c:13']);
    expect(h.dispatcher.committable(0)).toBe(10n); // 11 is done but 10 is not: never skip
    await h.settle('a');
    expect(h.dispatcher.committable(0)).toBe(12n);
    await h.settle('c');
    await h.settle('b');
    await h.settle('a');
    expect(h.dispatcher.committable(0)).toBe(15n);
    expect(h.dispatcher.quiescent(0)).toBe(true);
  });

  it('delivers records without a group in partition order, one after another', async () => {
    const h = harness();
    h.add(0, [record(0, null), record(1, null), record(2, 'x')], 3n);
    expect(inFlight(h.pending)).toEqual(['null:0', 'x:2']);
    await h.settle(null);
    expect(inFlight(h.pending)).toEqual(['null:1', 'x:2']);
  });

  it('caps groups in flight at max_in_flight_groups and serves waiting groups in arrival order', async () => {
    const h = harness({ maxInFlightGroups: 2 });
    h.add(0, [record(0, 'a'), record(1, 'b'), record(2, 'c')], 3n);
    h.add(1, [record(0, 'd')], 1n);
    expect(inFlight(h.pending)).toEqual(['a:0', 'b:1']);
    await h.settle('a');
    expect(inFlight(h.pending)).toEqual(['b:1', 'c:2']);
    await h.settle('b');
    expect(inFlight(h.pending)).toEqual(['c:2', 'd:0']);
    expect(h.dispatcher.inFlight).toBe(2);
  });

  it('batches up to batch_max_messages consecutive messages of one group', async () => {
    const h = harness({ batchMaxMessages: 2 });
    h.add(0, [record(0, 'a'), record(1, 'b'), record(2, 'a'), record(3, 'a'), record(4, 'a')], 5n);
    expect(inFlight(h.pending)).toEqual(['a:0,2', 'b:1']);
    await h.settle('a');
    expect(inFlight(h.pending)).toEqual(['a:3,4', 'b:1']);
  });

  it('retries the same messages with backoff and a higher attempt, honouring Retry-After as a floor', async () => {
    const h = harness({ maxAttempts: 5 });
    h.add(0, [record(0, 'a'), record(1, 'a')], 2n);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    expect(h.pending).toHaveLength(0); // the group waits; its next message does not overtake
    expect(h.timers.map((t) => t.ms)).toEqual([75]); // 100 ms, half fixed, half jitter (random 0.5)
    h.fireTimers();
    expect(h.pending[0]!.delivery).toMatchObject({ group: 'a', attempt: 2 });
    expect(h.pending[0]!.offsets).toEqual([0]);
    await h.settle('a', { ok: false, error: 'HTTP 429', retryAfterMs: 5000 });
    expect(h.timers.map((t) => t.ms)).toEqual([5000]);
    h.fireTimers();
    await h.settle('a', { ok: false, error: 'HTTP 503' });
    expect(h.timers.map((t) => t.ms)).toEqual([300]); // 400 ms with jitter
    h.fireTimers();
    await h.settle('a');
    expect(inFlight(h.pending)).toEqual(['a:1']);
    expect(h.pending[0]!.delivery.attempt).toBe(1);
  });

  it('takes a delivery that rejects for a failed attempt: the group retries it, and nothing is left unhandled', async () => {
    const h = harness();
    h.add(0, [record(0, 'a'), record(1, 'a')], 2n);
    h.pending.splice(0, 1)[0]!.reject(new TypeError('Invalid character in header content ["authorization"]'));
    await vi.waitFor(() => expect(h.events).toEqual(['failed a attempt 1: Invalid character in header content ["authorization"] retry in 75']));
    h.fireTimers();
    expect(h.pending[0]!.delivery).toMatchObject({ group: 'a', attempt: 2 });
    expect(h.pending[0]!.offsets).toEqual([0]);
  });

  it('dead-letters after max_attempts, then the group goes on; a failed dead-letter write is tried again', async () => {
    const h = harness({ maxAttempts: 2 });
    h.add(0, [record(0, 'a'), record(1, 'a')], 2n);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    h.fireTimers();
    await h.settle('a', { ok: false, error: 'timeout' });
    expect(h.deadLetters.map((d) => [d.offsets, d.error])).toEqual([[[0], 'timeout']]);
    expect(h.pending).toHaveLength(0);
    h.deadLetters.shift()!.reject(new Error('Kafka down'));
    await Promise.resolve();
    await Promise.resolve();
    expect(h.dispatcher.committable(0)).toBe(0n);
    h.fireTimers();
    expect(h.deadLetters).toHaveLength(1);
    h.deadLetters.shift()!.resolve();
    await Promise.resolve();
    await Promise.resolve();
    expect(h.dispatcher.committable(0)).toBe(1n);
    expect(inFlight(h.pending)).toEqual(['a:1']);
    expect(h.events).toContain('dead-lettered a');
  });

  it('blocks the group when the dead-letter topic refuses the records for good', async () => {
    const h = harness({ maxAttempts: 1 });
    h.add(0, [record(0, 'a'), record(1, 'a')], 2n);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    h.deadLetters.shift()!.reject(new DeadLetterRejected('PAYLOAD_TOO_LARGE: message over the limit'));
    await Promise.resolve();
    await Promise.resolve();
    expect(h.timers).toHaveLength(0);
    expect(h.dispatcher.blockedGroups()).toEqual([
      { partition: 0, group: 'a', offsets: ['0'], attempt: 1, error: 'HTTP 500; dead-letter write rejected: PAYLOAD_TOO_LARGE: message over the limit' },
    ]);
    expect(h.dispatcher.quiescent(0)).toBe(true);
    expect(h.dispatcher.skipBlocked(0, 'a')?.offsets).toEqual(['0']);
    expect(inFlight(h.pending)).toEqual(['a:1']);
  });

  it('blocks an exhausted group while others go on; admin skip or retry moves it', async () => {
    const h = harness({ maxAttempts: 1, onExhausted: 'block' });
    h.add(0, [record(0, 'a'), record(1, 'b'), record(2, 'a'), record(3, 'b')], 4n);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    expect(h.dispatcher.blockedGroups()).toEqual([{ partition: 0, group: 'a', offsets: ['0'], attempt: 1, error: 'HTTP 500' }]);
    await h.settle('b');
    await h.settle('b');
    expect(h.pending).toHaveLength(0);
    expect(h.dispatcher.quiescent(0)).toBe(true);
    expect(h.dispatcher.committable(0)).toBe(0n);

    expect(h.dispatcher.retryBlocked(0, 'a')?.offsets).toEqual(['0']);
    expect(inFlight(h.pending)).toEqual(['a:0']);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    expect(h.dispatcher.skipBlocked(0, 'a')?.offsets).toEqual(['0']);
    expect(inFlight(h.pending)).toEqual(['a:2']);
    await h.settle('a');
    expect(h.dispatcher.committable(0)).toBe(4n);
    expect(h.dispatcher.skipBlocked(0, 'a')).toBeUndefined();
  });

  it('acts on the head the admin call names only: a head that moved is a 409 and nothing changes', async () => {
    const h = harness({ maxAttempts: 1, onExhausted: 'block' });
    h.add(0, [record(5, 'a'), record(6, 'a'), record(7, 'a')], 8n);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    expect(h.dispatcher.blockedGroups()).toEqual([{ partition: 0, group: 'a', offsets: ['5'], attempt: 1, error: 'HTTP 500' }]);
    // The operator is shown offsets 5; meanwhile someone retries: 5 is delivered, 6 blocks.
    expect(h.dispatcher.retryBlocked(0, 'a', '5')?.offsets).toEqual(['5']);
    await h.settle('a');
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    expect(h.dispatcher.blockedGroups()).toEqual([{ partition: 0, group: 'a', offsets: ['6'], attempt: 1, error: 'HTTP 500' }]);

    // The skip the operator confirmed for offsets 5 must not drop 6.
    for (const act of [() => h.dispatcher.skipBlocked(0, 'a', '5'), () => h.dispatcher.retryBlocked(0, 'a', '5')]) {
      expect(act).toThrow(expect.objectContaining({ code: 'CONFLICT', message: expect.stringContaining('is offsets 6, not the head at offset') }));
    }
    expect(h.events.filter((e) => e.startsWith('skipped'))).toEqual([]);
    expect(h.pending).toHaveLength(0);
    expect(h.dispatcher.blockedGroups()).toEqual([{ partition: 0, group: 'a', offsets: ['6'], attempt: 1, error: 'HTTP 500' }]);
    expect(h.dispatcher.committable(0)).toBe(6n);

    // Naming the current head (or no head, as before) acts on it.
    expect(h.dispatcher.skipBlocked(0, 'a', '6')?.offsets).toEqual(['6']);
    expect(h.events.filter((e) => e.startsWith('skipped'))).toEqual(['skipped a']);
    expect(inFlight(h.pending)).toEqual(['a:7']);
  });

  it('after fencing starts nothing new, cancels retries, and is quiescent once in-flight deliveries end', async () => {
    const h = harness();
    h.add(0, [record(0, 'a'), record(1, 'b'), record(2, 'a')], 3n);
    await h.settle('b', { ok: false, error: 'HTTP 500' });
    h.dispatcher.fence(0);
    expect(h.timers[0]!.cancelled).toBe(true);
    let quiet = false;
    void h.dispatcher.whenQuiescent(0).then(() => (quiet = true));
    await Promise.resolve();
    expect(quiet).toBe(false);
    await h.settle('a');
    expect(quiet).toBe(true);
    expect(h.pending).toHaveLength(0);
    expect(h.dispatcher.committable(0)).toBe(1n);
  });

  it('tells when every busy group of a partition waits long for its next attempt, and when the first is due', async () => {
    const h = harness({ retryBackoffMs: 2000, retryBackoffMaxMs: 8000, maxAttempts: 2 });
    h.add(0, [record(0, 'a'), record(1, 'b'), record(2, 'c')], 3n);
    let lull = false;
    void h.dispatcher.whenQuietOrWaiting(0).then(() => (lull = true));
    await h.settle('c');
    await h.settle('a', { ok: false, error: 'HTTP 500' }); // backoff 1500 ms (half of 2000, plus 0.5 of the other half)
    expect(h.dispatcher.nextRetryIn(0), 'b is still at the endpoint').toBeUndefined();
    expect(lull).toBe(false);
    h.clock.now = 100;
    await h.settle('b', { ok: false, error: 'HTTP 503', retryAfterMs: 5000 });
    expect(lull).toBe(true);
    expect(h.dispatcher.nextRetryIn(0)).toBe(1400);
    expect(h.dispatcher.quiescent(0)).toBe(false);

    h.clock.now = 1500;
    h.timers.find((t) => t.ms === 1500)!.fn();
    expect(inFlight(h.pending)).toEqual(['a:0']);
    expect(h.dispatcher.nextRetryIn(0), 'a is being sent again').toBeUndefined();
    await h.settle('a');
    expect(h.dispatcher.nextRetryIn(0)).toBe(3600);

    // b's second attempt fails too: its dead-letter write fails and is tried again after a backoff, which is no
    // wait for a delivery attempt (the write starts without a held batch).
    h.clock.now = 5100;
    h.timers.find((t) => t.ms === 5000)!.fn();
    await h.settle('b', { ok: false, error: 'HTTP 500' });
    h.deadLetters[0]!.reject(new Error('broker away'));
    await Promise.resolve();
    await Promise.resolve();
    expect(h.events).toContain('dead letter failed b');
    expect(h.dispatcher.quiescent(0)).toBe(false);
    expect(h.dispatcher.nextRetryIn(0)).toBeUndefined();
    let again = false;
    void h.dispatcher.whenQuietOrWaiting(0).then(() => (again = true));
    await Promise.resolve();
    expect(again).toBe(false);
    h.dispatcher.fence(0);
    await Promise.resolve();
    expect(again).toBe(true);
    expect(h.dispatcher.quiescent(0)).toBe(true);
  });

  it('counts a wait for a lease another replica holds for a second or more as a long wait, due when the lease is asked again', async () => {
    let answer: LeaseAnswer = { held: false, reason: 'held_elsewhere', retryInMs: 1000, heldForMs: 14_000 };
    const h = harness({}, () => answer);
    h.add(0, [record(0, 'a')], 1n);
    expect(h.events).toContain('lease wait a held_elsewhere');
    expect(h.dispatcher.nextRetryIn(0)).toBe(1000);
    answer = { held: true };
    h.clock.now = 1000;
    h.fireTimers();
    expect(inFlight(h.pending)).toEqual(['a:0']);
    expect(h.dispatcher.nextRetryIn(0)).toBeUndefined();
  });

  it('a lease about to run out, a lease store out of reach, or a short backoff is no long wait: the batch stays held', async () => {
    const answers: Array<Extract<LeaseAnswer, { held: false }>> = [
      { held: false, reason: 'held_elsewhere', retryInMs: 300, heldForMs: 300 },
      { held: false, reason: 'store_unreachable', retryInMs: 1000 },
    ];
    for (const answer of answers) {
      const h = harness({}, () => answer);
      h.add(0, [record(0, 'a')], 1n);
      expect(h.dispatcher.quiescent(0)).toBe(false);
      expect(h.dispatcher.nextRetryIn(0), answer.reason).toBeUndefined();
    }
    const h = harness({ retryBackoffMs: 100 });
    h.add(0, [record(0, 'a')], 1n);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    expect(h.timers.map((t) => t.ms)).toEqual([75]);
    expect(h.dispatcher.nextRetryIn(0)).toBeUndefined();
  });

  it('names the groups holding the most backlog', () => {
    const h = harness({ maxInFlightGroups: 1 });
    h.add(0, [record(0, 'a'), record(1, 'b'), record(2, 'b'), record(3, 'c'), record(4, 'b'), record(5, 'c')], 6n);
    expect(h.dispatcher.hotGroups(2)).toEqual([
      { partition: 0, group: 'b', backlog: 3 },
      { partition: 0, group: 'c', backlog: 2 },
    ]);
  });

  it('starts deliveries of a partition only while it is open; an admin retry on a closed partition waits for the next held batch', async () => {
    const h = harness({ maxAttempts: 1, onExhausted: 'block' });
    h.dispatcher.add(0, [record(0, 'a'), record(1, 'b')], 2n);
    expect(h.pending).toHaveLength(0);
    expect(h.dispatcher.quiescent(0)).toBe(false);
    h.dispatcher.open(0);
    expect(inFlight(h.pending)).toEqual(['a:0', 'b:1']);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    await h.settle('b');
    expect(h.dispatcher.quiescent(0)).toBe(true);
    h.dispatcher.close(0);

    expect(h.dispatcher.retryBlocked(0, 'a')?.offsets).toEqual(['0']);
    expect(h.pending).toHaveLength(0); // no batch held: nothing may reach the endpoint
    expect(h.dispatcher.quiescent(0)).toBe(false);
    // The partition fetched again from its commit point: what it holds is not taken twice.
    h.add(0, [record(0, 'a'), record(1, 'b'), record(2, 'a')], 3n);
    expect(inFlight(h.pending)).toEqual(['a:0']);
    await h.settle('a');
    expect(inFlight(h.pending)).toEqual(['a:2']);
    await h.settle('a');
    expect(h.dispatcher.committable(0)).toBe(3n);
    expect(h.events.filter((e) => e.startsWith('delivered'))).toEqual(['delivered b 1', 'delivered a 0', 'delivered a 2']);
  });

  it('a skip on a closed partition completes the head at once but delivers the backlog only once the partition is open', async () => {
    const h = harness({ maxAttempts: 1, onExhausted: 'block' });
    h.add(0, [record(0, 'a'), record(1, 'a'), record(2, 'b')], 3n);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    await h.settle('b');
    h.dispatcher.close(0);
    expect(h.dispatcher.skipBlocked(0, 'a')?.offsets).toEqual(['0']);
    expect(h.dispatcher.committable(0)).toBe(1n); // the skip's commit can be made before anything is delivered
    expect(h.pending).toHaveLength(0);
    h.dispatcher.open(0);
    expect(inFlight(h.pending)).toEqual(['a:1']);
  });

  it('tells when the deliveries of a released partition have settled', async () => {
    const h = harness();
    h.add(0, [record(0, 'a'), record(1, 'b')], 2n);
    h.dispatcher.release(0);
    expect(h.dispatcher.settling).toBe(2);
    let settled = false;
    void h.dispatcher.whenSettled(0).then(() => (settled = true));
    await h.settle('a');
    await Promise.resolve();
    expect(settled).toBe(false);
    await h.settle('b');
    await Promise.resolve();
    expect(settled).toBe(true);
    expect(h.dispatcher.settling).toBe(0);
    // The next holding starts from the committed offset with nothing of the old one left.
    h.add(0, [record(0, 'a')], 1n);
    expect(inFlight(h.pending)).toEqual(['a:0']);
  });

  it('counts done records behind a blocked head as tracked, so memory is bounded by the tracked limit', async () => {
    const h = harness({ maxAttempts: 1, onExhausted: 'block' });
    h.add(0, [record(0, 'a'), ...Array.from({ length: 50 }, (_, i) => record(i + 1, `g${i}`))], 51n);
    await h.settle('a', { ok: false, error: 'HTTP 500' });
    for (let i = 0; i < 50; i++) await h.settle(`g${i}`);
    expect(h.dispatcher.buffered(0)).toBe(1);
    expect(h.dispatcher.tracked(0)).toBe(51);
    h.dispatcher.skipBlocked(0, 'a');
    expect(h.dispatcher.tracked(0)).toBe(0);
  });

  it('blocks a restored group again at once when its head is the stored one, and delivers it when the head moved on', async () => {
    const h = harness({ maxAttempts: 5, onExhausted: 'block' });
    h.dispatcher.add(0, [record(4, 'a'), record(5, 'b'), record(6, 'a')], 7n, {
      blocks: new Map([
        ['a', { offsets: ['4'], attempt: 5, error: 'HTTP 500' }],
        ['b', { offsets: ['2'], attempt: 3, error: 'HTTP 503' }],
      ]),
      skipped: new Set(),
    });
    h.dispatcher.open(0);
    expect(inFlight(h.pending)).toEqual(['b:5']);
    expect(h.dispatcher.blockedGroups()).toEqual([{ partition: 0, group: 'a', offsets: ['4'], attempt: 5, error: 'HTTP 500' }]);
    expect(h.events).toContain('blocked a');
    expect(h.dispatcher.quiescent(0)).toBe(false);
    await h.settle('b');
    expect(h.dispatcher.quiescent(0)).toBe(true);
    expect(h.dispatcher.retryBlocked(0, 'a')?.attempt).toBe(5);
    expect(h.pending[0]!.delivery).toMatchObject({ group: 'a', attempt: 1 });
  });

  it('drops the offsets of heads skipped before the holding: done at once, never sent, the rest of the group delivered', async () => {
    const h = harness({ maxAttempts: 5, onExhausted: 'block' });
    h.dispatcher.add(0, [record(4, 'a'), record(5, 'a'), record(6, 'b'), record(7, 'a')], 8n, { blocks: new Map(), skipped: new Set([4n, 5n, 9n]) });
    h.dispatcher.open(0);
    expect(inFlight(h.pending).sort()).toEqual(['a:7', 'b:6']);
    expect(h.dispatcher.buffered(0)).toBe(2);
    await h.settle('a');
    await h.settle('b');
    expect(h.dispatcher.committable(0)).toBe(8n);
    // A skipped offset fetched with a later batch of the same holding is dropped as well.
    h.dispatcher.add(0, [record(8, 'a'), record(9, 'a')], 10n);
    expect(inFlight(h.pending)).toEqual(['a:8']);
    await h.settle('a');
    expect(h.pending).toEqual([]);
    expect(h.dispatcher.committable(0)).toBe(10n);
  });

  it("holds a group's lease while it is active: one take for its backlog, released when it goes idle or blocks", async () => {
    const h = harness({ maxAttempts: 1, onExhausted: 'block' });
    h.add(0, [record(0, 'a'), record(1, 'a'), record(2, 'b')], 3n);
    await h.settle('a');
    await h.settle('a');
    expect(h.leases).toEqual(['ensure me/1 0 a', 'ensure me/1 0 b', 'ensure me/1 0 a', 'release me/1 0 a']);
    await h.settle('b', { ok: false, error: 'HTTP 500' });
    expect(h.events.at(-1)).toBe('blocked b');
    expect(h.leases.at(-1)).toBe('release me/1 0 b');
  });

  it("waits while another replica holds the group's lease: nothing delivered, nothing done, the partition not quiescent", async () => {
    let answer: LeaseAnswer = { held: false, reason: 'held_elsewhere', retryInMs: 400, heldForMs: 400 };
    const h = harness({}, (group) => (group === 'a' ? Promise.resolve(answer) : { held: true }));
    h.add(0, [record(0, 'a'), record(1, 'b')], 2n);
    await Promise.resolve();
    await Promise.resolve();
    expect(inFlight(h.pending)).toEqual(['b:1']);
    expect(h.events).toEqual(['lease wait a held_elsewhere']);
    expect(h.timers.map((t) => t.ms)).toEqual([400]);
    await h.settle('b');
    expect(h.dispatcher.committable(0)).toBe(0n);
    expect(h.dispatcher.quiescent(0)).toBe(false);
    expect(h.dispatcher.inFlight).toBe(0);

    answer = { held: true };
    h.fireTimers();
    await Promise.resolve();
    await Promise.resolve();
    expect(inFlight(h.pending)).toEqual(['a:0']);
    await h.settle('a');
    expect(h.dispatcher.committable(0)).toBe(2n);
  });

  it('a lease answered after the partition was fenced starts nothing and is released', async () => {
    let grant!: (a: LeaseAnswer) => void;
    const h = harness({}, () => new Promise((resolve) => (grant = resolve)));
    h.add(0, [record(0, 'a')], 1n);
    h.dispatcher.fence(0);
    expect(h.dispatcher.quiescent(0)).toBe(false);
    grant({ held: true });
    await Promise.resolve();
    await Promise.resolve();
    expect(h.pending).toHaveLength(0);
    expect(h.leases).toEqual(['ensure me/1 0 a', 'release me/1 0 a']);
    expect(h.dispatcher.quiescent(0)).toBe(true);
  });

  it("releases the leases of a released partition's groups once their deliveries end", async () => {
    const h = harness();
    h.add(0, [record(0, 'a'), record(1, 'a')], 2n);
    h.dispatcher.release(0);
    await h.settle('a');
    expect(h.leases).toEqual(['ensure me/1 0 a', 'release me/1 0 a']);
    expect(h.pending).toHaveLength(0);
  });
});
