import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { DedupStore, Outcome } from '../redis/dedup-store.ts';

export interface DedupOptions {
  /** How long a claim protects a message being written; after it, a retry may write the message again. */
  leaseMs: number;
  /** How often a retry re-checks an attempt that another sidecar is writing. */
  pollMs: number;
}

/** Per id: write it now ('claimed'), or it is already in Kafka at this position. */
export type Acquired = 'claimed' | { partition: number; offset: string };

/**
 * At-most-once writing of messages that carry a deduplication id. Ids are claimed in Redis before the
 * write and settled after it. A retry that finds its id pending waits for that attempt's outcome instead
 * of racing it into Kafka: locally on the attempt's promise, across sidecars by polling Redis.
 */
export class DedupWindow {
  readonly #store: DedupStore;
  readonly #options: DedupOptions;
  readonly #owner = randomUUID();
  /** Ids this process has claimed and not yet settled, resolved on settle. */
  readonly #local = new Map<string, { settled: Promise<void>; resolve: () => void }>();

  constructor(store: DedupStore, options: DedupOptions) {
    this.#store = store;
    this.#options = options;
  }

  async acquire(topic: string, ids: readonly string[]): Promise<Map<string, Acquired>> {
    const acquired = new Map<string, Acquired>();
    const giveUpAt = Date.now() + this.#options.leaseMs + this.#options.pollMs;
    let remaining = [...ids];
    while (remaining.length > 0) {
      const states = await this.#store.claim(topic, remaining, this.#owner, this.#options.leaseMs);
      const waiting: string[] = [];
      states.forEach((state, i) => {
        const id = remaining[i]!;
        if (state.kind === 'claimed') {
          acquired.set(id, 'claimed');
          this.#registerLocal(topic, id);
        } else if (state.kind === 'done') {
          acquired.set(id, { partition: state.partition, offset: state.offset });
        } else {
          waiting.push(id);
        }
      });
      if (waiting.length > 0 && Date.now() > giveUpAt) {
        await this.release(topic, [...acquired].filter(([, a]) => a === 'claimed').map(([id]) => id));
        throw new SidecarError('DUPLICATE_IN_FLIGHT', `an earlier attempt of ${waiting.length} message(s) is still being written (dedup_id ${waiting[0]}); retry later`);
      }
      if (waiting.length > 0) await this.#waitFor(topic, waiting);
      remaining = waiting;
    }
    return acquired;
  }

  async settle(topic: string, outcomes: readonly Outcome[]): Promise<void> {
    try {
      await this.#store.settle(topic, outcomes);
    } finally {
      for (const { id } of outcomes) this.#settleLocal(topic, id);
    }
  }

  release(topic: string, ids: readonly string[]): Promise<void> {
    return this.settle(topic, ids.map((id) => ({ id, released: true as const })));
  }

  async #waitFor(topic: string, ids: readonly string[]): Promise<void> {
    const local = ids.map((id) => this.#local.get(`${topic}\u0000${id}`)?.settled);
    if (local.every(Boolean)) await Promise.all(local);
    else await sleep(this.#options.pollMs);
  }

  #registerLocal(topic: string, id: string): void {
    let resolve!: () => void;
    const settled = new Promise<void>((r) => (resolve = r));
    this.#local.set(`${topic}\u0000${id}`, { settled, resolve });
  }

  #settleLocal(topic: string, id: string): void {
    const key = `${topic}\u0000${id}`;
    this.#local.get(key)?.resolve();
    this.#local.delete(key);
  }
}
