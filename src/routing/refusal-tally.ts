import type { Clock } from './clock.ts';

/** Requests and their messages refused, and over how long (ms) when it is a summary of a stretch of time. */
export interface Refusals {
  requests: number;
  messages: number;
}

export interface RefusalSummary extends Refusals {
  overMs: number;
}

/**
 * Counts the requests refused during one outage so the log says how many without a line per request: an
 * outage under load would otherwise bury its own cause. `due` hands out the count since the last summary at
 * most once per `intervalMs`; `end` hands out the outage's total and starts afresh.
 */
export class RefusalTally {
  readonly #intervalMs: number;
  readonly #now: Clock;
  #total: Refusals = { requests: 0, messages: 0 };
  #pending: Refusals = { requests: 0, messages: 0 };
  #lastSummaryAt: number | undefined;

  constructor(intervalMs: number, now: Clock) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Counts one refused request of `messages` messages; the first one of an outage starts the interval. */
  refused(messages: number): void {
    this.#lastSummaryAt ??= this.#now();
    for (const tally of [this.#total, this.#pending]) {
      tally.requests += 1;
      tally.messages += messages;
    }
  }

  /** The refusals since the last summary, when there are any and a full interval has passed; else undefined. */
  due(): RefusalSummary | undefined {
    if (this.#lastSummaryAt === undefined || this.#pending.requests === 0) return undefined;
    const overMs = this.#now() - this.#lastSummaryAt;
    if (overMs < this.#intervalMs) return undefined;
    const summary = { ...this.#pending, overMs };
    this.#pending = { requests: 0, messages: 0 };
    this.#lastSummaryAt = this.#now();
    return summary;
  }

  /** The outage's total refusals; the tally is empty afterwards, ready for the next outage. */
  end(): Refusals {
    const total = this.#total;
    this.#total = { requests: 0, messages: 0 };
    this.#pending = { requests: 0, messages: 0 };
    this.#lastSummaryAt = undefined;
    return total;
  }
}
