import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.ts';
import { MappingCleaner, type CleanupStore, type RemovedMapping } from '../../src/routing/cleanup.ts';
import type { LoggedRoutes, RouteLog, RouteLogEntry } from '../../src/routing/route-log.ts';

/** Cleanup's expiries reach the route log as releases (tombstones); a log that fails costs a warning, not the pass. */

class FakeCleanupStore implements CleanupStore {
  readonly removed = new Map<string, RemovedMapping[]>([
    ['orders', [{ group: 'a', partition: 1 }]],
    [
      'payments',
      [
        { group: 'b', partition: 0 },
        { group: 'c', partition: 2 },
      ],
    ],
  ]);

  async tryTakeCleanupTurn(): Promise<boolean> {
    return true;
  }
  async topics(): Promise<string[]> {
    return [...this.removed.keys()];
  }
  async bucketCount(): Promise<number> {
    return 8;
  }
  /** What Redis maps now, per topic and group: a removed group a request mapped again before its release was logged. */
  readonly current = new Map<string, Map<string, number>>();
  /** Called after each read of `mappedPartitions` (a change that lands between the read and the next append). */
  afterRead: ((topic: string) => void) | undefined;
  failReads = false;
  readonly reads: string[][] = [];

  async cleanupBuckets(topic: string): Promise<RemovedMapping[]> {
    return this.removed.get(topic) ?? [];
  }
  async mappedPartitions(topic: string, _buckets: number, groups: readonly string[]): Promise<Map<string, number>> {
    this.reads.push([...groups]);
    if (this.failReads) throw new Error('Redis unreachable');
    const now = this.current.get(topic) ?? new Map<string, number>();
    const found = new Map(groups.filter((g) => now.has(g)).map((g) => [g, now.get(g)!]));
    this.afterRead?.(topic);
    return found;
  }
  async recordCleanupRun(): Promise<void> {}
}

class RecordingRouteLog implements RouteLog {
  readonly entries: RouteLogEntry[] = [];
  failing = false;
  async append(entries: readonly RouteLogEntry[]): Promise<void> {
    if (this.failing) throw new Error('route log unreachable');
    this.entries.push(...entries);
  }
  async read(): Promise<LoggedRoutes> {
    return { routes: new Map(), buckets: undefined };
  }
}

const metrics = {
  cleanupDuration: { startTimer: () => () => 0 },
  cleanupRemoved: { inc: () => undefined },
  cleanupLastSuccess: { set: () => undefined },
};

describe('cleanup and the route log', () => {
  it('writes a release for every mapping it expires', async () => {
    const routeLog = new RecordingRouteLog();
    const cleaner = new MappingCleaner(new FakeCleanupStore(), { groupTtlMs: 3_600_000, cleanupIntervalMs: 60_000 }, metrics, createLogger('error'), routeLog);
    expect(await cleaner.run()).toMatchObject({ ran: true, removed: 3, topics: 2 });
    expect(routeLog.entries).toEqual([
      { topic: 'orders', group: 'a', partition: null, buckets: 8 },
      { topic: 'payments', group: 'b', partition: null, buckets: 8 },
      { topic: 'payments', group: 'c', partition: null, buckets: 8 },
    ]);
  });

  it('goes on when the log cannot take them, with a warning naming the topic', async () => {
    const routeLog = new RecordingRouteLog();
    routeLog.failing = true;
    const lines: string[] = [];
    const log = createLogger('warn', {}, (line) => lines.push(line));
    const cleaner = new MappingCleaner(new FakeCleanupStore(), { groupTtlMs: 3_600_000, cleanupIntervalMs: 60_000 }, metrics, log, routeLog);
    expect(await cleaner.run()).toMatchObject({ ran: true, removed: 3 });
    const warnings = lines.filter((l) => l.includes('could not write expired MessageGroup mappings to the route log'));
    expect(warnings.map((l) => (JSON.parse(l) as { topic: string }).topic)).toEqual(['orders', 'payments']);
  });

  it('writes back, after the releases, the mapping of a group a request made again meanwhile', async () => {
    const store = new FakeCleanupStore();
    // "c" expired, then a request mapped it again on partition 1 and logged that before cleanup's release landed.
    store.current.set('payments', new Map([['c', 1]]));
    const routeLog = new RecordingRouteLog();
    const cleaner = new MappingCleaner(store, { groupTtlMs: 3_600_000, cleanupIntervalMs: 60_000 }, metrics, createLogger('error'), routeLog);
    await cleaner.run();
    expect(routeLog.entries).toEqual([
      { topic: 'orders', group: 'a', partition: null, buckets: 8 },
      { topic: 'payments', group: 'b', partition: null, buckets: 8 },
      { topic: 'payments', group: 'c', partition: null, buckets: 8 },
      { topic: 'payments', group: 'c', partition: 1, buckets: 8 },
    ]);
    // The releases' groups are read back once per round, then the written-back one once more (unchanged: done).
    expect(store.reads).toEqual([['a'], ['b', 'c'], ['c']]);
  });

  it('writes a written-back mapping again when it changed before the write landed, a few times at most', async () => {
    const store = new FakeCleanupStore();
    store.removed.delete('orders');
    const now = new Map([['b', 0]]);
    store.current.set('payments', now);
    let moves = 0;
    // An admin move after every read: what cleanup writes back is always one change behind.
    store.afterRead = () => now.set('b', ++moves % 3);
    const routeLog = new RecordingRouteLog();
    const lines: string[] = [];
    const cleaner = new MappingCleaner(
      store,
      { groupTtlMs: 3_600_000, cleanupIntervalMs: 60_000 },
      metrics,
      createLogger('error', {}, (l) => lines.push(l)),
      routeLog,
    );
    await cleaner.run();
    expect(routeLog.entries.filter((e) => e.group === 'b').map((e) => e.partition)).toEqual([null, 0, 1, 2]);
    expect(lines.some((l) => l.includes('kept changing while cleanup wrote them back'))).toBe(true);
  });

  it('does not read back when the releases were not written, and says so when the read-back fails', async () => {
    const store = new FakeCleanupStore();
    const failing = new RecordingRouteLog();
    failing.failing = true;
    await new MappingCleaner(store, { groupTtlMs: 3_600_000, cleanupIntervalMs: 60_000 }, metrics, createLogger('error'), failing).run();
    expect(store.reads).toEqual([]);

    store.failReads = true;
    const lines: string[] = [];
    const routeLog = new RecordingRouteLog();
    const report = await new MappingCleaner(
      store,
      { groupTtlMs: 3_600_000, cleanupIntervalMs: 60_000 },
      metrics,
      createLogger('error', {}, (l) => lines.push(l)),
      routeLog,
    ).run();
    expect(report).toMatchObject({ ran: true, removed: 3 });
    expect(lines.filter((l) => l.includes('could not check or write back')).map((l) => (JSON.parse(l) as { topic: string }).topic)).toEqual([
      'orders',
      'payments',
    ]);
  });
});
