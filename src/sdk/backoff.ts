import { setTimeout as sleep } from 'node:timers/promises';
import type { RetryPolicy } from './client-options.ts';

/**
 * Wait before retry number `retry` (1 = the first retry): exponential, capped, with "equal jitter" — half
 * fixed, half random — so clients that failed together spread out yet none hammers a restarting sidecar.
 */
export function backoffMs(policy: Pick<RetryPolicy, 'initialBackoffMs' | 'maxBackoffMs'>, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.max(0, retry - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Sleeps; resolves false instead of sleeping on when the signal fires. */
export async function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
    return true;
  } catch {
    return false;
  }
}
