import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SidecarError } from '../errors/sidecar-error.ts';
import { StoreUnreachableError } from '../errors/store-errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { DedupStore, HeldClaim, Outcome } from './dedup-store.ts';

export interface DedupOptions {
  /**
   * How long a claim outlives the last renewal by its sidecar. Claims are renewed every third of it while
   * their messages are queued or being written, so a claim lapses only when its sidecar died.
   */
  leaseMs: number;
  /** How often a retry re-checks an attempt that another sidecar is writing. */
  pollMs: number;
  /** How long a retry waits for an earlier attempt before answering DUPLICATE_IN_FLIGHT (503). */
  maxWaitMs: number;
}

/** Per id: write it now ('claimed'), or it is already in Kafka at this position. */
export type Acquired = 'claimed' | { partition: number; offset: string };

interface LocalClaim extends HeldClaim {
  topic: string;
  settled: Promise<void>;
  resolve: () => void;
}

/**
 * At-most-once writing of messages that carry a deduplication id. Ids are claimed in Redis before the
 * write and settled after it. A retry that finds its id pending waits for that attempt's outcome instead
 * of racing it into Kafka: on the attempt's own promise when this sidecar holds it, else by polling Redis.
 */
export class DedupWindow {
  readonly #store: DedupStore;
  readonly #options: DedupOptions;
  readonly #log: Logger;
  readonly #owner = randomUUID();
  /** Claims this process holds and has not settled yet. */
  readonly #local = new Map<string, LocalClaim>();
  #renewTimer: NodeJS.Timeout | undefined;

  constructor(store: DedupStore, options: DedupOptions, log: Logger) {
    this.#store = store;
    this.#options = options;
    this.#log = log;
  }

  start(): void {
    this.#renewTimer ??= setInterval(() => void this.#renew(), Math.max(100, Math.floor(this.#options.leaseMs / 3)));
    this.#renewTimer.unref();
  }

  stop(): void {
    clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
  }

  /**
   * Claims `ids`, waiting out attempts in flight. On failure, releases what it had claimed, so nothing is
   * left pending that no write will ever settle.
   *
   * Redis out of reach is thrown as it is (StoreUnreachableError: the caller may write without the check)
   * only while no id of the request was seen pending: once one was, an earlier attempt of it is being
   * written, and a write now would repeat it, so the request is answered DUPLICATE_IN_FLIGHT (a retry then
   * finds the outcome). `gone` (the client went away) ends a wait for such an attempt early, with the same
   * error; it never stops a request that does not wait, and nothing is written before the wait ends.
   */
  async acquire(topic: string, ids: readonly string[], gone?: AbortSignal): Promise<Map<string, Acquired>> {
    const acquired = new Map<string, Acquired>();
    const giveUpAt = Date.now() + this.#options.maxWaitMs;
    let remaining = [...ids];
    let sawPending: string | undefined;
    try {
      while (remaining.length > 0) {
        // Our own attempt of an id never races itself, whatever Redis says about its lease.
        const ours = remaining.filter((id) => this.#local.has(key(topic, id)));
        const waiting = ours.length > 0 ? ours : await this.#claimRound(topic, remaining, acquired);
        if (waiting.length === 0) break;
        sawPending ??= waiting[0];
        if (Date.now() >= giveUpAt || gone?.aborted) {
          const why = gone?.aborted ? '; the client went away, so this request stopped waiting for it' : '';
          throw inFlight(`an earlier attempt of ${waiting.length} message(s) is still being written (dedup_id ${waiting[0]})${why}; retry later`);
        }
        await this.#waitFor(topic, waiting, giveUpAt, gone);
        remaining = remaining.filter((id) => !acquired.has(id));
      }
      return acquired;
    } catch (err) {
      const claimed = [...acquired].filter(([, a]) => a === 'claimed').map(([id]) => id);
      await this.release(topic, claimed).catch(() => undefined);
      if (sawPending !== undefined && err instanceof StoreUnreachableError) {
        throw inFlight(`an earlier attempt of dedup_id ${sawPending} was being written, and Redis stopped answering (${err.message}); retry later`, err);
      }
      throw err;
    }
  }

  async settle(topic: string, outcomes: readonly Outcome[]): Promise<void> {
    try {
      await this.#store.settle(
        topic,
        outcomes.map((o) => ({ ...o, sliceKey: this.#local.get(key(topic, o.id))?.sliceKey })),
      );
    } finally {
      for (const { id } of outcomes) this.#settleLocal(topic, id);
    }
  }

  release(topic: string, ids: readonly string[]): Promise<void> {
    return this.settle(
      topic,
      ids.map((id) => ({ id, released: true as const })),
    );
  }

  /** One claim call; records claimed and done ids in `acquired` and returns the ids still pending elsewhere. */
  async #claimRound(topic: string, ids: readonly string[], acquired: Map<string, Acquired>): Promise<string[]> {
    const { states, sliceKey } = await this.#store.claim(topic, ids, this.#owner, this.#options.leaseMs);
    const waiting: string[] = [];
    states.forEach((state, i) => {
      const id = ids[i]!;
      if (state.kind === 'claimed') {
        acquired.set(id, 'claimed');
        this.#registerLocal(topic, id, sliceKey);
      } else if (state.kind === 'done') {
        acquired.set(id, { partition: state.partition, offset: state.offset });
      } else {
        waiting.push(id);
      }
    });
    return waiting;
  }

  /** Waits for our own attempts of `ids` to settle, or one poll interval for another sidecar's; no longer than `gone`. */
  async #waitFor(topic: string, ids: readonly string[], giveUpAt: number, gone: AbortSignal | undefined): Promise<void> {
    const local = ids.map((id) => this.#local.get(key(topic, id))?.settled);
    const left = Math.max(0, giveUpAt - Date.now());
    // Unreferenced timers: a waiting retry must not keep a shutting-down process alive. An abort ends the
    // sleep (its only rejection); the caller looks at `gone` itself.
    const pause = (ms: number) => sleep(ms, undefined, { ref: false, ...(gone ? { signal: gone } : {}) }).catch(() => undefined);
    if (local.every(Boolean)) await Promise.race([Promise.all(local), pause(left)]);
    else await pause(Math.min(this.#options.pollMs, left));
  }

  async #renew(): Promise<void> {
    const byTopic = new Map<string, HeldClaim[]>();
    for (const claim of this.#local.values()) {
      const held = byTopic.get(claim.topic) ?? [];
      held.push(claim);
      byTopic.set(claim.topic, held);
    }
    for (const [topic, claims] of byTopic) {
      try {
        await this.#store.renew(claims, this.#owner, this.#options.leaseMs);
      } catch (err) {
        this.#log.warn('could not renew dedup claims; they lapse if this goes on for a lease', { topic, claims: claims.length, err });
      }
    }
  }

  #registerLocal(topic: string, id: string, sliceKey: string): void {
    let resolve!: () => void;
    const settled = new Promise<void>((r) => (resolve = r));
    this.#local.set(key(topic, id), { topic, id, sliceKey, settled, resolve });
  }

  #settleLocal(topic: string, id: string): void {
    const k = key(topic, id);
    this.#local.get(k)?.resolve();
    this.#local.delete(k);
  }
}

const key = (topic: string, id: string): string => `${topic}\u0000${id}`;

/** DUPLICATE_IN_FLIGHT: a client's retry racing its own earlier attempt, not a fault of the sidecar's, so no error line. */
const inFlight = (message: string, cause?: unknown): SidecarError =>
  new SidecarError('DUPLICATE_IN_FLIGHT', message, { retryAfterSeconds: 1, summarized: true, ...(cause === undefined ? {} : { cause }) });
