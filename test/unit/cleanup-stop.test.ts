import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.ts';
import { MappingCleaner, type CleanupStore, type RemovedMapping } from '../../src/routing/cleanup.ts';

/** A shutdown does not wait for a whole cleanup pass: the pass ends after the round in progress. */

/** Two topics of three rounds each (192 buckets); the first round waits until the test releases it. */
class SlowCleanupStore implements CleanupStore {
  readonly rounds: string[] = [];
  readonly firstRoundBegun = Promise.withResolvers<void>();
  readonly #release = Promise.withResolvers<void>();
  recorded = 0;

  release(): void {
    this.#release.resolve();
  }

  async tryTakeCleanupTurn(): Promise<boolean> {
    return true;
  }
  async topics(): Promise<string[]> {
    return ['orders', 'payments'];
  }
  async bucketCount(): Promise<number> {
    return 192;
  }
  async cleanupBuckets(topic: string, from: number, to: number): Promise<RemovedMapping[]> {
    this.rounds.push(`${topic} ${from}-${to}`);
    if (this.rounds.length === 1) {
      this.firstRoundBegun.resolve();
      await this.#release.promise;
    }
    return [{ group: `${topic}-${from}`, partition: 0 }];
  }
  async mappedPartitions(): Promise<Map<string, number>> {
    return new Map();
  }
  async recordCleanupRun(): Promise<void> {
    this.recorded++;
  }
}

const metrics = {
  cleanupDuration: { startTimer: () => () => 0 },
  cleanupRemoved: { inc: () => undefined },
  cleanupLastSuccess: { set: () => undefined },
};

describe('cleanup stopping', () => {
  it('ends the pass after the round in progress, not recorded as a completed run', async () => {
    const store = new SlowCleanupStore();
    const lines: string[] = [];
    const log = createLogger('info', {}, (line) => lines.push(line));
    const cleaner = new MappingCleaner(store, { groupTtlMs: 3_600_000, cleanupIntervalMs: 60_000 }, metrics, log);
    const pass = cleaner.run();
    await store.firstRoundBegun.promise;
    const stopping = cleaner.stop();
    store.release();
    await stopping;
    expect(await pass).toMatchObject({ ran: true, removed: 1 });
    expect(store.rounds).toEqual(['orders 0-64']);
    expect(store.recorded).toBe(0);
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['MessageGroup cleanup stopped for shutdown; the rest waits for the next run']);
  });

  it('runs every round of every topic when not stopped', async () => {
    const store = new SlowCleanupStore();
    store.release();
    const cleaner = new MappingCleaner(store, { groupTtlMs: 3_600_000, cleanupIntervalMs: 60_000 }, metrics, createLogger('error'));
    expect(await cleaner.run()).toMatchObject({ ran: true, removed: 6, topics: 2 });
    expect(store.rounds).toHaveLength(6);
    expect(store.recorded).toBe(1);
  });
});
