import type { RouterStore } from '../../src/redis/router-store.ts';
import { groupHash } from '../../src/routing/hashing.ts';

/**
 * Maps `groups` through the real route script (get-or-assign), `concurrency` calls in flight on the one
 * connection (ioredis writes them back to back: a pipeline). Returns each group's partition.
 */
export async function assignGroups(
  store: RouterStore,
  topic: string,
  buckets: number,
  partitions: number,
  groups: readonly string[],
  concurrency = 512,
): Promise<Int32Array> {
  const state = await store.registerTopic(topic, buckets);
  const result = new Int32Array(groups.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < groups.length) {
      const i = next++;
      const group = groups[i]!;
      result[i] = (await store.route(topic, state, group, groupHash(group), partitions, false)).partition;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, groups.length) }, worker));
  return result;
}

/** Per-partition counts of an assignment. */
export function countByPartition(assignment: ArrayLike<number>, partitions: number): number[] {
  const counts = new Array<number>(partitions).fill(0);
  for (let i = 0; i < assignment.length; i++) counts[assignment[i]!]!++;
  return counts;
}
