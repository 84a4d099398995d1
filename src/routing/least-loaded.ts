import { preferredPartition } from './hashing.ts';

/**
 * The assignment rule for a new group, as `route-3.lua` applies it atomically in Redis (walking the
 * group's `preferenceOrder`); this TypeScript statement of it is the reference the tests check the script
 * against. The fewest mapped groups wins; among equally loaded partitions the group's own hash preference
 * decides, so racing replicas agree.
 */
export function leastLoadedPartition(loads: readonly number[], hash: number): number {
  if (loads.length === 0) throw new RangeError('a topic has at least one partition');
  const min = Math.min(...loads);
  const tied: number[] = [];
  loads.forEach((load, partition) => {
    if (load === min) tied.push(partition);
  });
  return preferredPartition(hash, tied);
}

/** (max - min) / mean of the loads: 0 when perfectly balanced; what the load-deviation metric reports. */
export function loadDeviation(loads: readonly number[]): number {
  const total = loads.reduce((a, b) => a + b, 0);
  if (loads.length === 0 || total === 0) return 0;
  return (Math.max(...loads) - Math.min(...loads)) / (total / loads.length);
}
