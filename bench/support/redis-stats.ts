import type { Redis } from 'ioredis';

/** Calls and server-side microseconds of one command so far (INFO commandstats). */
export async function commandStats(redis: Redis, command: string): Promise<{ calls: number; usec: number }> {
  const info = await redis.info('commandstats');
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+),usec=(\\d+)`).exec(info);
  return { calls: Number(match?.[1] ?? 0), usec: Number(match?.[2] ?? 0) };
}

/**
 * Redis CPU per EVALSHA while `work` runs, from the commandstats delta. On a shared Redis other clients'
 * scripts are counted too, so this is an upper bound; with 100K calls of our own it is a close one.
 */
export async function scriptCost<T>(redis: Redis, work: () => Promise<T>): Promise<{ result: T; usecPerCall: number; calls: number }> {
  const before = await commandStats(redis, 'evalsha');
  const result = await work();
  const after = await commandStats(redis, 'evalsha');
  const calls = after.calls - before.calls;
  return { result, calls, usecPerCall: calls === 0 ? NaN : (after.usec - before.usec) / calls };
}

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}
