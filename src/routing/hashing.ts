/**
 * A group's partition preferences, computed here only: `route-3.lua` receives the ranking
 * (`preferenceOrder`) and compares loads along it, and the hash fallback (DEGRADED_ROUTING=hash) takes
 * the top choice. Rendezvous (highest-random-weight) hashing: a group prefers the partition with the
 * highest score, so adding a partition moves only about 1/(n+1) of the choices and every replica,
 * with or without Redis, agrees on the same answer.
 */

const encoder = new TextEncoder();
const GOLDEN = 0x9e3779b9;

/** FNV-1a over the UTF-8 bytes: cheap, stable across processes and languages. */
export function groupHash(group: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(group)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Score of `partition` for a group of hash `hash`; an unsigned 32-bit integer. murmur3's finaliser: its
 * multiplications make scores of different partitions independent (XOR and shifts alone are linear and
 * would favour some partitions by 2x or more).
 */
export function partitionScore(hash: number, partition: number): number {
  let x = (hash ^ Math.imul(partition + 1, GOLDEN)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The partition among `candidates` that the group prefers. */
export function preferredPartition(hash: number, candidates: Iterable<number>): number {
  let best = -1;
  let bestScore = -1;
  for (const partition of candidates) {
    const score = partitionScore(hash, partition);
    if (score > bestScore || (score === bestScore && partition < best)) {
      best = partition;
      bestScore = score;
    }
  }
  if (best < 0) throw new RangeError('no candidate partitions');
  return best;
}

/**
 * All partitions, most preferred first: the group's own ranking, which `route-3.lua` walks to find the first
 * least-loaded partition (the script then compares loads only, with no hashing inside Redis).
 */
export function preferenceOrder(hash: number, partitionCount: number): number[] {
  const scores = Array.from({ length: partitionCount }, (_, p) => partitionScore(hash, p));
  return Array.from({ length: partitionCount }, (_, p) => p).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** Consistent hashing over all partitions: the route used when the shared mapping is out of reach. */
export const hashedPartition = (hash: number, partitionCount: number): number =>
  preferredPartition(
    hash,
    Array.from({ length: partitionCount }, (_, p) => p),
  );

/** Index of the Redis hash bucket holding a group's mapping. */
export const bucketOf = (hash: number, buckets: number): number => hash % buckets;
