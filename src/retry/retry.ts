import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How the sidecar and its SDK wait between attempts, in one place: exponential backoff with jitter, a
 * `Retry-After` as a floor, and the budget that keeps a Kafka client's retries within a write deadline. It
 * imports nothing of the project, so the SDK package ships it as is (packages/sdk compiles src/retry with
 * src/sdk and src/protocol).
 */

/**
 * Node's longest timer (2^31-1 ms, about 24.8 days): a setTimeout/setInterval given more fires after 1 ms, with
 * only a TimeoutOverflowWarning, and AbortSignal.timeout refuses it. Here because this module imports nothing:
 * the server's options (src/config) and the SDK's (src/sdk/client-options.ts) are checked against it too.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Backoff bounds: the first retry waits up to `initialMs`, each next one twice as long, never over `maxMs`. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/**
 * Wait before retry number `retry` (1 = the first retry): exponential, capped, with "equal jitter" — half
 * fixed, half random — so callers that failed together spread out yet none hammers a restarting peer. A
 * `Retry-After` from the peer is a floor: never retry sooner than it asked.
 */
export function backoffMs(backoff: Backoff, retry: number, random: () => number = Math.random, retryAfterMs?: number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(0, retry - 1), 30));
  return Math.min(Math.max(Math.round(ceiling / 2 + random() * (ceiling / 2)), retryAfterMs ?? 0), MAX_TIMER_MS);
}

/**
 * `Retry-After` as delta-seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. At most
 * MAX_TIMER_MS: a peer asking for longer (a date years ahead, a huge number) must not make the wait fire at once.
 */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Math.min(Number(header) * 1000, MAX_TIMER_MS);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), MAX_TIMER_MS);
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

/** kafkajs settings for one producer `send`, retries included. */
export interface RetryBudget {
  retries: number;
  initialRetryTime: number;
  maxRetryTime: number;
  /** Client-side timeout of each produce request, and the broker's ack timeout sent with it. */
  requestTimeout: number;
}

const RETRIES = 6;
/** At the default 30 s deadline: backoff capped at 2 s (about 10 s in all), the rest for the attempts. */
const REFERENCE_DEADLINE_MS = 30_000;
const REFERENCE_MAX_RETRY_MS = 2000;

/**
 * Splits a write deadline between kafkajs's attempts and its backoffs so that one `send` cannot outlast
 * it: (retries + 1) attempts of `requestTimeout` plus `retries` waits of at most `maxRetryTime`. kafkajs
 * itself has no overall deadline (each attempt may take its request timeout, 30 s by default), and the
 * admin tools' idle rule relies on this bound. At the default deadline, about 10 s of backoff rides out a
 * broker failover (leadership moves within 8-16 s; see docs/stack.md).
 */
export function retryBudget(deadlineMs: number): RetryBudget {
  // Shorter deadlines shrink the backoff in proportion; longer ones give the extra time to the attempts.
  const maxRetryTime = Math.floor(REFERENCE_MAX_RETRY_MS * Math.min(1, deadlineMs / REFERENCE_DEADLINE_MS));
  const requestTimeout = Math.floor((deadlineMs - RETRIES * maxRetryTime) / (RETRIES + 1));
  return { retries: RETRIES, initialRetryTime: Math.max(50, Math.floor(maxRetryTime / 10)), maxRetryTime, requestTimeout };
}

/** The longest one `send` can take under `budget`. */
export const worstCaseMs = (b: RetryBudget): number => (b.retries + 1) * b.requestTimeout + b.retries * b.maxRetryTime;
