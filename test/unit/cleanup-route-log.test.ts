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
  async cleanupBuckets(topic: string): Promise<RemovedMapping[]> {
    return this.removed.get(topic) ?? [];
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
});
