import { describe, expect, it } from 'vitest';
import { StoreStateLostError, StoreUnreachableError } from '../../src/errors/store-errors.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { OutageRecovery } from '../../src/routing/outage-recovery.ts';
import { ProvisionalRoutes, type ProvisionalRoute } from '../../src/routing/provisional-routes.ts';
import { RouteCache, UNRECORDED } from '../../src/routing/route-cache.ts';
import { RouteLogging } from '../../src/routing/route-logging.ts';
import type { TopicState } from '../../src/routing/route-store.ts';
import { FakeRouteLog } from '../support/fake-route-log.ts';

/** The recovery with a store that records every route where it was hashed (unless `mapped` says otherwise). */
function setUp(
  options: { lost?: Set<string>; markLost?: Set<string>; mapped?: Map<string, number>; unreachable?: Set<string>; rebuiltMeanwhile?: boolean } = {},
) {
  const topicState = { current: { buckets: 64, epoch: 'e1' } as TopicState };
  const routeLog = new FakeRouteLog();
  const recordedWith: { group: string; logged: boolean }[] = [];
  const store = {
    ping: async () => undefined,
    record: async (_topic: string, _state: TopicState, group: string, _hash: number, partition: number, logged: boolean) => {
      if (options.lost?.has(group)) {
        // Another path's rebuild adopted a new epoch while this record ran.
        if (options.rebuiltMeanwhile) topicState.current = { buckets: 64, epoch: 'e2' };
        throw new StoreStateLostError('gone');
      }
      if (options.unreachable?.has(group)) throw new StoreUnreachableError('Redis unreachable', { outage: true });
      recordedWith.push({ group, logged });
      return options.mapped?.get(group) ?? partition;
    },
  };
  const markLogged = async (_topic: string, _state: TopicState, group: string) => {
    if (options.markLost?.has(group)) throw new StoreStateLostError('gone');
  };
  const provisional = new ProvisionalRoutes(100);
  const cache = new RouteCache(100);
  const lost: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const conflicts = { count: 0, inc: () => void conflicts.count++ };
  const recovery = new OutageRecovery({
    store,
    state: async () => topicState.current,
    provisional,
    cache,
    logging: new RouteLogging(routeLog, { markLogged }),
    onLost: (topic) => void lost.push(topic),
    conflicts,
    log: createLogger('info', {}, (line) => void lines.push(JSON.parse(line) as Record<string, unknown>)),
    now: () => 1000,
  });
  const hashed = (group: string, partition: number): ProvisionalRoute => {
    const route = { topic: 'orders', group, hash: group.length, partition };
    provisional.remember(route);
    cache.set('orders', group, { partition, hash: route.hash, confirmedAt: UNRECORDED });
    return route;
  };
  return { recovery, routeLog, recordedWith, provisional, cache, lost, lines, conflicts, hashed };
}

describe('OutageRecovery', () => {
  it('records each hashed route in Redis, listed unlogged, then appends it to the route log and confirms it', async () => {
    const t = setUp();
    t.hashed('a', 1);
    t.hashed('b', 2);
    expect(await t.recovery.attempt()).toBe(true);
    expect(t.recordedWith).toEqual([
      { group: 'a', logged: true },
      { group: 'b', logged: true },
    ]);
    expect(t.routeLog.entries).toEqual([
      { topic: 'orders', group: 'a', partition: 1, buckets: 64 },
      { topic: 'orders', group: 'b', partition: 2, buckets: 64 },
    ]);
    expect(t.cache.peek('orders', 'a')).toEqual({ partition: 1, hash: 1, confirmedAt: 1000 });
    expect(t.provisional.size).toBe(0);
  });

  it('ends the outage when the route log cannot take them, leaving each unconfirmed for its next lookup to log', async () => {
    const t = setUp();
    t.hashed('a', 1);
    t.hashed('b', 2);
    t.routeLog.failing = true;
    expect(await t.recovery.attempt()).toBe(true);
    expect(t.recordedWith.map((r) => r.group)).toEqual(['a', 'b']);
    expect(t.cache.peek('orders', 'a')).toEqual({ partition: 1, hash: 1, confirmedAt: UNRECORDED });
    expect(t.cache.peek('orders', 'b')).toEqual({ partition: 2, hash: 1, confirmedAt: UNRECORDED });
    const warnings = t.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ unlogged: 2 });
  });

  it('leaves a route whose topic state Redis lost to the request path, has the topic rebuilt, and ends the outage', async () => {
    const t = setUp({ lost: new Set(['a']) });
    t.hashed('a', 1);
    t.hashed('b', 2);
    expect(await t.recovery.attempt()).toBe(true);
    expect(t.lost).toEqual(['orders']);
    expect(t.cache.peek('orders', 'a')).toEqual({ partition: 1, hash: 1, confirmedAt: UNRECORDED });
    expect(t.routeLog.entries.map((e) => e.group)).toEqual(['b']);
    expect(t.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('treats a state lost between the append and its check like a lost record', async () => {
    const t = setUp({ markLost: new Set(['a']) });
    t.hashed('a', 1);
    expect(await t.recovery.attempt()).toBe(true);
    expect(t.lost).toEqual(['orders']);
    expect(t.cache.peek('orders', 'a')?.confirmedAt).toBe(UNRECORDED);
  });

  it('does not report a loss when the state it used was already replaced (a rebuild under way)', async () => {
    const t = setUp({ lost: new Set(['a']), rebuiltMeanwhile: true });
    t.hashed('a', 1);
    expect(await t.recovery.attempt()).toBe(true);
    expect(t.lost).toEqual([]);
  });

  it("keeps Redis's partition, unconfirmed, for a conflicting route the log cannot take", async () => {
    const t = setUp({ mapped: new Map([['a', 3]]) });
    t.hashed('a', 1);
    t.routeLog.failing = true;
    expect(await t.recovery.attempt()).toBe(true);
    expect(t.conflicts.count).toBe(1);
    expect(t.cache.peek('orders', 'a')).toEqual({ partition: 3, hash: 1, confirmedAt: UNRECORDED });
  });

  it('still warns of the routes left unlogged when Redis fails before the attempt ends', async () => {
    const t = setUp({ unreachable: new Set(['b']) });
    t.hashed('a', 1);
    t.hashed('b', 2);
    t.routeLog.failing = true;
    await expect(t.recovery.attempt()).rejects.toBeInstanceOf(StoreUnreachableError);
    expect(t.lines.filter((l) => l.level === 'warn')).toEqual([expect.objectContaining({ unlogged: 1, topics: ['orders'] })]);
    expect(t.provisional.pending().map((r) => r.group)).toEqual(['b']);
  });

  it("logs and counts a conflict, and follows Redis's partition", async () => {
    const t = setUp({ mapped: new Map([['a', 3]]) });
    t.hashed('a', 1);
    expect(await t.recovery.attempt()).toBe(true);
    expect(t.conflicts.count).toBe(1);
    expect(t.routeLog.entries).toEqual([{ topic: 'orders', group: 'a', partition: 3, buckets: 64 }]);
    expect(t.cache.peek('orders', 'a')?.partition).toBe(3);
    expect(t.lines.some((l) => l.level === 'error' && l.group === 'a')).toBe(true);
  });
});
