import { describe, expect, it } from 'vitest';
import type { ConsumerEngine, TopicPartitionOffset } from '../../src/consume/consumer-engine.ts';
import { OffsetCommitter } from '../../src/consume/offset-committer.ts';
import type { Logger } from '../../src/logging/logger.ts';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quiet };

/** Commits as Kafka applies them, in the order they land; each call waits until the test lets it land. */
function landingEngine() {
  const landed: string[] = [];
  const waiting: Array<{ offsets: TopicPartitionOffset[]; land: () => void }> = [];
  const engine: Pick<ConsumerEngine, 'commit'> = {
    commit: (offsets) =>
      new Promise<void>((resolve) =>
        waiting.push({
          offsets,
          land: () => {
            landed.push(...offsets.map((o) => `${o.partition}@${o.offset}`));
            resolve();
          },
        }),
      ),
  };
  return { engine, landed, waiting };
}

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
};

describe('OffsetCommitter', () => {
  it('sends one commit at a time, the next with the newest committable offset, so an older one never lands after a newer one', async () => {
    const { engine, landed, waiting } = landingEngine();
    const committer = new OffsetCommitter(engine, 'orders', 'orders-app', quiet);
    let committable = 1n;
    const first = committer.commit([0], () => committable);
    await until(() => waiting.length === 1);
    committable = 3n;
    const second = committer.commit([0], () => committable);
    committable = 7n;
    const third = committer.commit([0], () => committable);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.offsets.map((o) => o.offset)).toEqual([1n]);
    waiting[0]!.land();
    expect(await first).toBe(true);
    // The second call reads the committable offset when its turn comes: 7; the third then has nothing to send.
    await until(() => waiting.length === 2);
    expect(waiting[1]!.offsets.map((o) => o.offset)).toEqual([7n]);
    waiting[1]!.land();
    expect(await second).toBe(true);
    expect(await third).toBe(true);
    expect(waiting).toHaveLength(2);
    expect(landed).toEqual(['0@1', '0@7']);
    expect(committer.committed(0)).toBe(7n);
  });

  it('keeps one commit waiting behind a stuck one, shared by every call made meanwhile (no queue of retries to drain behind)', async () => {
    const { engine, waiting } = landingEngine();
    const committer = new OffsetCommitter(engine, 'orders', 'orders-app', quiet);
    const stuck = committer.commit([0], () => 1n);
    await until(() => waiting.length === 1);
    const ticks = Array.from({ length: 12 }, () => committer.commit([0], () => 2n));
    const drain = committer.commit([0, 1], () => 3n);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(waiting).toHaveLength(1);
    waiting[0]!.land();
    await until(() => waiting.length === 2);
    expect(waiting[1]!.offsets.map((o) => `${o.partition}@${o.offset}`)).toEqual(['0@3', '1@3']);
    waiting[1]!.land();
    expect(await Promise.all([stuck, drain, ...ticks])).toEqual(Array.from({ length: 14 }, () => true));
    expect(waiting).toHaveLength(2);
  });

  it('goes on after a refused commit: the next call sends the offset again', async () => {
    let calls = 0;
    const engine: Pick<ConsumerEngine, 'commit'> = {
      commit: async () => {
        calls++;
        if (calls === 1) throw new Error('REBALANCE_IN_PROGRESS');
      },
    };
    const committer = new OffsetCommitter(engine, 'orders', 'orders-app', quiet);
    expect(await committer.commit([0], () => 5n)).toBe(false);
    expect(committer.committed(0)).toBeUndefined();
    expect(await committer.commit([0], () => 5n)).toBe(true);
    expect(committer.committed(0)).toBe(5n);
  });
});
