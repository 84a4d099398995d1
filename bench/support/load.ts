import { Samples, type Summary } from './stats.ts';

export interface LoadResult {
  seconds: number;
  requests: number;
  /** Messages the far side acknowledged as written. */
  messages: number;
  failures: number;
  firstFailure?: string;
  latency: Summary;
}

/**
 * A closed loop: `concurrency` workers each send one request, wait for its answer, and send the next,
 * until `durationMs` has passed. Requests in flight at the deadline finish and are counted.
 */
export async function closedLoop(concurrency: number, durationMs: number, send: (i: number, worker: number) => Promise<number>): Promise<LoadResult> {
  const latency = new Samples(16_384);
  let requests = 0;
  let messages = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  let next = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (_: unknown, w: number): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const written = await send(next++, w); // not `messages += await ...`: that would add to a stale total
        messages += written;
        requests++;
        latency.push(performance.now() - t0);
      } catch (err) {
        failures++;
        firstFailure ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { seconds: (performance.now() - started) / 1000, requests, messages, failures, firstFailure, latency: latency.summary() };
}

/** One ordered-produce request; resolves with the messages the sidecar reports written, throws otherwise. */
export async function postOrdered(url: string, body: string, expected: number): Promise<number> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
  const written = (JSON.parse(text) as { successful_messages: number }).successful_messages;
  if (written !== expected) throw new Error(`sidecar wrote ${written} of ${expected} messages`);
  return written;
}
