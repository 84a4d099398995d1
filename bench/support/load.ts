import type { LoadResult } from './load-job.ts';
import { Samples } from './stats.ts';

/** A request that failed after part of it was acknowledged (the sidecar answers per partition). */
export class SendFailure extends Error {
  override name = 'SendFailure';
  readonly acknowledged: number;

  constructor(message: string, acknowledged: number) {
    super(message);
    this.acknowledged = acknowledged;
  }
}

/** Sends request `i` from loop `worker`; resolves with the messages acknowledged. */
export type Send = (i: number, worker: number) => Promise<number>;

/** Counts one request's outcome: acknowledged messages (partial ones too, for the Kafka-side check), failures, latency. */
class Tally {
  readonly latency = new Samples(16_384);
  requests = 0;
  messages = 0;
  failures = 0;
  firstFailure: string | undefined;

  async time(send: () => Promise<number>, startedAt = performance.now()): Promise<void> {
    try {
      const written = await send(); // not `this.messages += await ...`: that would add to a stale total
      this.messages += written;
      this.requests++;
      this.latency.push(performance.now() - startedAt);
    } catch (err) {
      this.failures++;
      if (err instanceof SendFailure) this.messages += err.acknowledged;
      this.firstFailure ??= err instanceof Error ? err.message : String(err);
    }
  }

  result(started: number): LoadResult {
    const { requests, messages, failures, firstFailure } = this;
    return { seconds: (performance.now() - started) / 1000, requests, messages, failures, firstFailure, latency: this.latency.summary() };
  }
}

/**
 * A closed loop: `concurrency` workers each send one request, wait for its answer, and send the next,
 * until `durationMs` has passed. Requests in flight at the deadline finish and are counted.
 */
export async function closedLoop(concurrency: number, durationMs: number, send: Send): Promise<LoadResult> {
  const tally = new Tally();
  let next = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (_: unknown, w: number): Promise<void> => {
    while (performance.now() < deadline) await tally.time(() => send(next++, w));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return tally.result(started);
}

/**
 * An open loop: starts `perSecond` requests a second for `durationMs`, whatever the answers, so a slow answer
 * delays no later request. Latency runs from the moment each request is started. Several requests come due
 * together when a timer fires late; they all start at once.
 */
export async function pacedLoop(perSecond: number, durationMs: number, send: Send): Promise<LoadResult> {
  const tally = new Tally();
  const interval = 1000 / perSecond;
  const total = Math.floor(durationMs / interval);
  const pending: Promise<void>[] = [];
  const started = performance.now();
  let i = 0;
  while (i < total) {
    const now = performance.now();
    for (; i < total && started + i * interval <= now; i++) {
      const request = i;
      pending.push(tally.time(() => send(request, 0)));
    }
    if (i < total) await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + i * interval - performance.now())));
  }
  await Promise.all(pending);
  return tally.result(started);
}
