import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it returns something truthy, and returns that; fails naming `what` (what was awaited,
 * and what was last seen when it is a function) once `timeoutMs` has passed. The one poller of the tests:
 * a condition awaited this way never stands in for a fixed sleep.
 */
export async function eventually<T>(
  what: string | (() => string),
  check: () => T | Promise<T>,
  timeoutMs = 60_000,
  intervalMs = 50,
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | 0 | '' | null | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(intervalMs);
  }
}
