export interface BackoffPolicy {
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
}

/**
 * Wait before attempt `attempt + 1`: exponential from `retryBackoffMs`, capped at `retryBackoffMaxMs`, with
 * "equal jitter" (half fixed, half random) so replicas retrying together spread out. A `Retry-After` from
 * the endpoint is a floor: the sidecar never retries sooner than the application asked.
 */
export function retryDelayMs(attempt: number, policy: BackoffPolicy, random: () => number, retryAfterMs?: number): number {
  const exponential = Math.min(policy.retryBackoffMaxMs, policy.retryBackoffMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = Math.round(exponential / 2 + (random() * exponential) / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** `Retry-After` as delta-seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
