import { describe, expect, it } from 'vitest';
import { groupHash, preferenceOrder, preferredPartition } from '../../src/routing/hashing.ts';
import { leastLoadedPartition, loadDeviation } from '../../src/routing/least-loaded.ts';

const hashes = (count: number, prefix = 'group-'): number[] => Array.from({ length: count }, (_, i) => groupHash(`${prefix}${i}`));

describe('leastLoadedPartition', () => {
  it('picks the partition with the fewest mapped groups', () => {
    for (const h of hashes(100)) {
      expect(leastLoadedPartition([7, 3, 9, 4], h)).toBe(1);
      expect(leastLoadedPartition([0, 1, 1, 1], h)).toBe(0);
      expect(leastLoadedPartition([5, 5, 5, 2], h)).toBe(3);
    }
  });

  it('breaks ties by the hash preference among the tied partitions only', () => {
    const loads = [1, 0, 1, 0, 1, 0];
    let sawPreferenceOverruled = false;
    for (const h of hashes(500)) {
      const chosen = leastLoadedPartition(loads, h);
      expect(chosen).toBe(preferredPartition(h, [1, 3, 5]));
      if (preferredPartition(h, [0, 1, 2, 3, 4, 5]) % 2 === 0) sawPreferenceOverruled = true;
    }
    // Some groups prefer a busier partition overall, yet never get it.
    expect(sawPreferenceOverruled).toBe(true);
  });

  it('depends only on which partitions are least loaded, so replicas reading loads a moment apart agree', () => {
    for (const h of hashes(100)) {
      const answer = leastLoadedPartition([3, 1, 4, 1, 5], h);
      expect([1, 3]).toContain(answer);
      // Every load shifted alike, or the busier partitions busier still: the same choice.
      expect(leastLoadedPartition([13, 11, 14, 11, 15], h)).toBe(answer);
      expect(leastLoadedPartition([9, 1, 9, 1, 9], h)).toBe(answer);
      // Equal loads: the group's own first preference.
      expect(leastLoadedPartition([2, 2, 2, 2], h)).toBe(preferenceOrder(h, 4)[0]);
    }
  });

  it('keeps max - min <= 1 at every step while assigning 10k groups to 6 empty partitions', () => {
    const loads = [0, 0, 0, 0, 0, 0];
    for (const h of hashes(10_000)) {
      loads[leastLoadedPartition(loads, h)]! += 1;
      expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
    }
    expect(loads.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it('sends new groups to a newly added partition until it catches up', () => {
    const loads = [5, 5, 5, 0];
    const groups = hashes(20, 'new-');
    for (const h of groups.slice(0, 5)) {
      const p = leastLoadedPartition(loads, h);
      expect(p).toBe(3);
      loads[p]! += 1;
    }
    expect(loads).toEqual([5, 5, 5, 5]);
    for (const h of groups.slice(5)) loads[leastLoadedPartition(loads, h)]! += 1;
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
  });

  it('rejects a topic without partitions', () => {
    expect(() => leastLoadedPartition([], 1)).toThrow(RangeError);
  });
});

describe('loadDeviation: (max - min) / mean', () => {
  it('is 0 for no partitions and for all-zero loads', () => {
    expect(loadDeviation([])).toBe(0);
    expect(loadDeviation([0, 0, 0])).toBe(0);
  });

  it('is 0 when perfectly balanced', () => {
    expect(loadDeviation([4, 4, 4])).toBe(0);
  });

  it('follows the formula', () => {
    // max 6, min 2, mean 4 -> 1
    expect(loadDeviation([2, 4, 6])).toBe(1);
    // max 10, min 0, mean 2.5 -> 4
    expect(loadDeviation([10, 0, 0, 0])).toBe(4);
    // max 11, min 9, mean 10 -> 0.2
    expect(loadDeviation([9, 10, 11])).toBeCloseTo(0.2, 12);
  });
});
