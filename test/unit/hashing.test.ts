import { describe, expect, it } from 'vitest';
import { bucketOf, groupHash, hashedPartition, partitionScore, preferenceOrder, preferredPartition } from '../../src/routing/hashing.ts';

const hashes = (count: number, prefix = 'group-'): number[] => Array.from({ length: count }, (_, i) => groupHash(`${prefix}${i}`));

describe('groupHash: FNV-1a 32-bit over UTF-8 bytes', () => {
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ])('matches the published FNV-1a vector for %j', (input, expected) => {
    expect(groupHash(input)).toBe(expected);
  });

  it('hashes multi-byte characters as their UTF-8 bytes, not UTF-16 code units', () => {
    const fnv1a = (bytes: number[]): number => {
      let h = 0x811c9dc5;
      for (const byte of bytes) h = Math.imul(h ^ byte, 0x01000193);
      return h >>> 0;
    };
    // "é" is U+00E9: UTF-8 C3 A9; "€" is U+20AC: UTF-8 E2 82 AC.
    expect(groupHash('é')).toBe(fnv1a([0xc3, 0xa9]));
    expect(groupHash('é')).not.toBe(fnv1a([0xe9]));
    expect(groupHash('a€')).toBe(fnv1a([0x61, 0xe2, 0x82, 0xac]));
  });

  it('is an unsigned 32-bit integer', () => {
    for (const h of hashes(1000)) {
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 32);
    }
  });
});

describe('partitionScore', () => {
  it("is murmur3's 32-bit finaliser of hash ^ (partition + 1) * golden ratio, as an unsigned integer", () => {
    // The same arithmetic in exact BigInt, so Math.imul and the unsigned shifts cannot hide an overflow slip.
    const M = 2n ** 32n;
    const reference = (h: number, p: number): number => {
      let x = (BigInt(h) ^ ((BigInt(p + 1) * 0x9e3779b9n) % M)) % M;
      x ^= x >> 16n;
      x = (x * 0x85ebca6bn) % M;
      x ^= x >> 13n;
      x = (x * 0xc2b2ae35n) % M;
      x ^= x >> 16n;
      return Number(x);
    };
    for (const h of hashes(200)) {
      for (let p = 0; p < 16; p++) {
        const score = partitionScore(h, p);
        expect(score).toBe(reference(h, p));
        expect(Number.isInteger(score)).toBe(true);
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThan(2 ** 32);
      }
    }
  });

  it('differs between partitions of the same group', () => {
    const h = groupHash('order-42');
    const scores = new Set(Array.from({ length: 64 }, (_, p) => partitionScore(h, p)));
    expect(scores.size).toBe(64);
  });

  it("mixes group and partition non-linearly (XOR of two groups' scores depends on the partition)", () => {
    // If score(h, p) were L(h) ^ K(p) for a GF(2)-linear L, the winner among partitions would be decided by
    // a fixed binary trie over K(p), giving shares of 1/2, 1/4, 1/8... instead of 1/n.
    const a = groupHash('group-a');
    const b = groupHash('group-b');
    const xors = new Set(Array.from({ length: 8 }, (_, p) => partitionScore(a, p) ^ partitionScore(b, p)));
    expect(xors.size).toBeGreaterThan(1);
  });
});

describe('preferredPartition', () => {
  it('picks the candidate with the highest score', () => {
    for (const h of hashes(200)) {
      const candidates = [0, 3, 5, 7, 11];
      const best = preferredPartition(h, candidates);
      for (const p of candidates) expect(partitionScore(h, best)).toBeGreaterThanOrEqual(partitionScore(h, p));
    }
  });

  it('does not depend on the order of the candidates', () => {
    const candidates = [0, 1, 2, 3, 4, 5, 6, 7];
    for (const h of hashes(200)) {
      const expected = preferredPartition(h, candidates);
      expect(preferredPartition(h, [...candidates].reverse())).toBe(expected);
      expect(preferredPartition(h, [5, 2, 7, 0, 3, 6, 1, 4])).toBe(expected);
      expect(preferredPartition(h, new Set(candidates))).toBe(expected);
    }
  });

  it('throws when there is no candidate', () => {
    expect(() => preferredPartition(1, [])).toThrow(RangeError);
  });
});

describe('hashedPartition', () => {
  it('always returns a partition in range', () => {
    for (const h of hashes(1000)) {
      const p = hashedPartition(h, 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
    }
  });

  it('spreads 100k groups over 12 partitions within 5% of uniform', () => {
    const partitions = 12;
    const counts = new Array<number>(partitions).fill(0);
    for (const h of hashes(100_000)) counts[hashedPartition(h, partitions)]! += 1;
    const expected = 100_000 / partitions;
    const shares = counts.map((c) => +(c / expected).toFixed(3));
    for (const share of shares) expect(Math.abs(share - 1), `share per partition / uniform: ${shares.join(' ')}`).toBeLessThan(0.05);
  });

  it.each([2, 3, 5, 8, 11, 15])('growing from %i partitions moves about 1/(n+1) of groups, all to the new partition', (n) => {
    const groups = hashes(40_000, 'grow-');
    let moved = 0;
    for (const h of groups) {
      const before = hashedPartition(h, n);
      const after = hashedPartition(h, n + 1);
      if (before !== after) {
        moved++;
        expect(after).toBe(n);
      }
    }
    const share = moved / groups.length;
    expect(Math.abs(share * (n + 1) - 1), `moved ${share.toFixed(3)} of groups, expected ~${(1 / (n + 1)).toFixed(3)}`).toBeLessThan(0.1);
  });
});

describe('bucketOf', () => {
  it('is hash modulo the bucket count', () => {
    expect(bucketOf(4097, 4096)).toBe(1);
    expect(bucketOf(0xffffffff, 4096)).toBe(4095);
  });
});

describe('preferenceOrder', () => {
  it('ranks every partition once, and the first of any subset in rank order is that subset’s preferred partition', () => {
    for (let g = 0; g < 200; g++) {
      const hash = groupHash(`group-${g}`);
      const order = preferenceOrder(hash, 16);
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, p) => p));
      expect(order[0]).toBe(hashedPartition(hash, 16));
      const subset = [3, 7, 11, 12];
      expect(order.find((p) => subset.includes(p))).toBe(preferredPartition(hash, subset));
    }
  });
});
