import { describe, expect, it } from 'vitest';
import type { AdminStore, ReassignOutcome, Reassignment, StoredMapping } from '../../src/admin/admin-store.ts';
import { applyChange, type ChangeRequest } from '../../src/admin/mapping-change.ts';
import { StoreUnreachableError } from '../../src/errors/store-errors.ts';
import { createLogger } from '../../src/logging/logger.ts';

/** One mapping in memory; the real apply (not the dry run) can fail before or after it changes the mapping. */
class OneMappingStore implements AdminStore {
  mapping: StoredMapping | undefined = { partition: 1, lastAccess: new Date(0) };
  applyFails: 'before' | 'after' | undefined;
  lookupFails = false;

  async topics(): Promise<string[]> {
    return ['orders'];
  }
  async bucketCount(): Promise<number> {
    return 16;
  }
  async lookup(): Promise<StoredMapping | undefined> {
    if (this.lookupFails) throw new StoreUnreachableError('fake Redis out of reach', { outage: true });
    return this.mapping;
  }
  async scanBuckets(): ReturnType<AdminStore['scanBuckets']> {
    return [];
  }
  async reassign(_topic: string, _buckets: number, r: Reassignment): Promise<ReassignOutcome> {
    const now = new Date(3_600_000);
    if (!this.mapping) return { status: 'missing', partition: -1, lastAccess: undefined, now };
    if (this.mapping.partition !== r.from) return { status: 'changed', partition: this.mapping.partition, lastAccess: this.mapping.lastAccess, now };
    if (r.dryRun) return { status: 'ok', partition: r.from, lastAccess: this.mapping.lastAccess, now };
    // A command that timed out: it may not have run, or have run with its answer lost.
    if (this.applyFails === 'before') throw new StoreUnreachableError('no answer from fake Redis', { outage: true });
    this.mapping = r.to === undefined ? undefined : { partition: r.to, lastAccess: this.mapping.lastAccess };
    if (this.applyFails === 'after') throw new StoreUnreachableError('no answer from fake Redis', { outage: true });
    return { status: 'ok', partition: r.from, lastAccess: new Date(0), now };
  }
  async bumpGeneration(): Promise<number> {
    return 1;
  }
  async partitionLoads(): Promise<{ loads: number[]; beyond: number }> {
    return { loads: [], beyond: 0 };
  }
}

const timing = { minIdleMs: 0, waitMs: 0, sleep: async () => undefined };
const move: ChangeRequest = { topic: 'orders', buckets: 16, group: 'g', from: 1, to: 4 };

function change(store: OneMappingStore, req: ChangeRequest = move) {
  const logged: (number | null)[] = [];
  const lines: string[] = [];
  const log = createLogger('info', {}, (line) => void lines.push(line));
  const done = applyChange(store, timing, req, log, async (partition) => void logged.push(partition));
  return { done, logged, lines };
}

describe('an admin change whose apply in Redis fails without an answer', () => {
  it('sets the route log back to the partition Redis still names when the change did not run', async () => {
    const store = new OneMappingStore();
    store.applyFails = 'before';
    const { done, logged } = change(store);
    await expect(done).rejects.toBeInstanceOf(StoreUnreachableError);
    expect(store.mapping?.partition).toBe(1);
    expect(logged).toEqual([4, 1]);
  });

  it('leaves the log naming the target when the change ran and only its answer was lost', async () => {
    const store = new OneMappingStore();
    store.applyFails = 'after';
    const { done, logged } = change(store);
    await expect(done).rejects.toBeInstanceOf(StoreUnreachableError);
    expect(store.mapping?.partition).toBe(4);
    expect(logged).toEqual([4]);
  });

  it('logs a release back as the mapping it still is', async () => {
    const store = new OneMappingStore();
    store.applyFails = 'before';
    const { done, logged } = change(store, { ...move, to: undefined });
    await expect(done).rejects.toBeInstanceOf(StoreUnreachableError);
    expect(logged).toEqual([null, 1]);
  });

  it('when Redis cannot even be read, says at error level what to check and how to repair the log', async () => {
    const store = new OneMappingStore();
    store.applyFails = 'before';
    store.lookupFails = true;
    const { done, logged, lines } = change(store);
    await expect(done).rejects.toBeInstanceOf(StoreUnreachableError);
    expect(logged).toEqual([4]);
    const errors = lines.map((line) => JSON.parse(line) as { level: string; msg: string }).filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toContain('ordered-sidecar groups get orders g');
    expect(errors[0]!.msg).toContain('ordered-sidecar groups backfill orders');
  });

  it('a change that applies logs the target once', async () => {
    const store = new OneMappingStore();
    const { done, logged } = change(store);
    await expect(done).resolves.toMatchObject({ status: 'ok' });
    expect(logged).toEqual([4]);
  });
});
