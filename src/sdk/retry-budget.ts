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
