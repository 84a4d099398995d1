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

/** The outcomes of the requests that finished within one phase. */
class Tally {
  readonly latency = new Samples(16_384);
  requests = 0;
  messages = 0;
  failures = 0;
  skipped = 0;
  firstFailure: string | undefined;

  result(seconds: number): LoadResult {
    const { requests, messages, failures, skipped, firstFailure } = this;
    return { seconds, requests, messages, failures, skipped, firstFailure, latency: this.latency.summary() };
  }
}

export interface PhaseMarks {
  /** Called when the measured window opens and when it closes (the orchestrator reads CPU then). */
  measuring(): void;
  measured(): void;
}

/**
 * One uninterrupted run, split in time into warm-up, the measured window and the drain after it: a request
 * counts in the phase in which its answer arrives. The load does not pause between warm-up and measurement, so
 * the window opens on a steady state, and it closes at a fixed time: throughput is answers in the window divided
 * by its length. Answers that arrive after it still count as acknowledged, for the Kafka-side check.
 */
export class PhasedRun {
  readonly #warm = new Tally();
  readonly #run = new Tally();
  readonly #drain = new Tally();
  readonly started = performance.now();
  readonly windowOpens: number;
  readonly windowCloses: number;
  readonly #timers: NodeJS.Timeout[];
  /** The marks not given yet: a run whose last answers beat the closing timer gives them in results(). */
  readonly #pending: (() => void)[];

  constructor(warmupMs: number, durationMs: number, marks: PhaseMarks) {
    this.windowOpens = this.started + warmupMs;
    this.windowCloses = this.windowOpens + durationMs;
    const measuring = (): void => marks.measuring();
    const measured = (): void => marks.measured();
    this.#pending = [measuring, measured];
    const fire = (mark: () => void): void => {
      this.#pending.splice(this.#pending.indexOf(mark), 1);
      mark();
    };
    this.#timers = [setTimeout(() => fire(measuring), warmupMs), setTimeout(() => fire(measured), warmupMs + durationMs)];
  }

  get running(): boolean {
    return performance.now() < this.windowCloses;
  }

  #tallyAt(t: number): Tally {
    return t < this.windowOpens ? this.#warm : t < this.windowCloses ? this.#run : this.#drain;
  }

  /** Sends one request and counts its outcome in the phase it ends in. Messages a failed request did write count as acknowledged. */
  async time(send: () => Promise<number>): Promise<void> {
    const startedAt = performance.now();
    try {
      const written = await send();
      const done = performance.now();
      const tally = this.#tallyAt(done);
      tally.messages += written;
      tally.requests++;
      tally.latency.push(done - startedAt);
    } catch (err) {
      const tally = this.#tallyAt(performance.now());
      tally.failures++;
      if (err instanceof SendFailure) tally.messages += err.acknowledged;
      tally.firstFailure ??= err instanceof Error ? err.message : String(err);
    }
  }

  /** A request due now that was not started (too many in flight). */
  skip(): void {
    this.#tallyAt(performance.now()).skipped++;
  }

  results(): { warm: LoadResult; run: LoadResult; drain: LoadResult } {
    for (const timer of this.#timers) clearTimeout(timer);
    // A paced run at a low rate can see its last answer before the closing timer fires on a busy machine.
    for (const mark of this.#pending.splice(0)) mark();
    const ended = performance.now();
    return {
      warm: this.#warm.result((this.windowOpens - this.started) / 1000),
      run: this.#run.result((this.windowCloses - this.windowOpens) / 1000),
      drain: this.#drain.result(Math.max(0, ended - this.windowCloses) / 1000),
    };
  }
}

/** A closed loop: `concurrency` workers each send one request, wait for its answer and send the next, until the window closes. */
export async function closedLoop(run: PhasedRun, concurrency: number, send: Send): Promise<void> {
  let next = 0;
  const worker = async (_: unknown, w: number): Promise<void> => {
    while (run.running) await run.time(() => send(next++, w));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * An open loop: starts `perSecond` requests a second until the window closes, whatever the answers, so a slow
 * answer delays no later request. Latency runs from the moment each request starts; several requests come due
 * together when a timer fires late, and all start at once. A request due while `maxInFlight` are unanswered is
 * skipped and counted, so a target that cannot keep up shows it without an unbounded backlog.
 */
export async function pacedLoop(run: PhasedRun, perSecond: number, maxInFlight: number, send: Send): Promise<void> {
  const interval = 1000 / perSecond;
  const pending = new Set<Promise<void>>();
  let i = 0;
  while (run.running) {
    for (const now = performance.now(); run.started + i * interval <= now && now < run.windowCloses; i++) {
      if (pending.size >= maxInFlight) {
        run.skip();
        continue;
      }
      const index = i;
      const request = run.time(() => send(index, 0)).finally(() => pending.delete(request));
      pending.add(request);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, run.started + i * interval - performance.now())));
  }
  await Promise.all(pending);
}
