import { LogSpell } from '../logging/log-spell.ts';
import type { Logger } from '../logging/logger.ts';
import type { Clock } from './clock.ts';
import { type CachedRoute, type RouteCache, UNRECORDED } from './route-cache.ts';
import { StoreStateLostError } from '../errors/store-errors.ts';
import type { RouteStore, TopicState, TouchEntry } from './route-store.ts';

/** Touches per store call: enough to amortise the round trip, small enough to keep Redis responsive. */
const TOUCH_CHUNK = 500;

/**
 * Batches the last-access times of groups served from the cache and sends them on `flush`. The store's answer
 * doubles as a confirmation: a route it still maps is proven again from the time the batch was sent, one it
 * no longer maps is dropped from the cache, so the next use asks the store. A topic whose state Redis lost
 * (`onLost`) keeps its cached routes: nothing was confirmed or denied.
 */
export class TouchBatcher {
  readonly #store: Pick<RouteStore, 'touch'>;
  readonly #state: (topic: string) => Promise<TopicState>;
  readonly #onLost: (topic: string) => void;
  readonly #cache: RouteCache;
  readonly #now: Clock;
  readonly #log: Logger;
  /**
   * Groups used since the last flush, per topic then group, with the cached route they were served (its
   * partition and hash never change; a new route is a new object): at most one entry per cached group, and
   * nothing allocated per use.
   */
  #touched = new Map<string, Map<string, CachedRoute>>();
  /** Topics whose touches fail: a spell each, ended (with its count of failed chunks) when a chunk of the topic goes through. */
  readonly #failing = new Map<string, LogSpell>();

  constructor(
    store: Pick<RouteStore, 'touch'>,
    state: (topic: string) => Promise<TopicState>,
    onLost: (topic: string) => void,
    cache: RouteCache,
    now: Clock,
    log: Logger,
  ) {
    this.#store = store;
    this.#state = state;
    this.#onLost = onLost;
    this.#cache = cache;
    this.#now = now;
    this.#log = log;
  }

  noteUse(topic: string, group: string, route: CachedRoute): void {
    let byGroup = this.#touched.get(topic);
    if (!byGroup) {
      byGroup = new Map();
      this.#touched.set(topic, byGroup);
    }
    byGroup.set(group, route);
  }

  /** Sends what accumulated. Never rejects: a failed chunk's routes simply age out of their validity. */
  async flush(): Promise<void> {
    const touched = this.#touched;
    if (touched.size === 0) return;
    this.#touched = new Map();
    for (const [topic, byGroup] of touched) {
      const entries = Array.from(byGroup, ([group, { hash, partition }]): TouchEntry => ({ group, hash, partition }));
      for (let from = 0; from < entries.length; from += TOUCH_CHUNK) await this.#send(topic, entries.slice(from, from + TOUCH_CHUNK));
    }
  }

  async #send(topic: string, chunk: TouchEntry[]): Promise<void> {
    const sentAt = this.#now();
    try {
      const confirmed = await this.#store.touch(topic, await this.#state(topic), chunk);
      const failing = this.#failing.get(topic);
      if (failing) {
        failing.end({ topic });
        this.#failing.delete(topic);
      }
      confirmed.forEach((ok, i) => {
        const { group, partition } = chunk[i]!;
        const cached = this.#cache.peek(topic, group);
        // A route hashed during an outage and not yet recorded and logged is confirmed by its own path only.
        if (!cached || cached.partition !== partition || cached.confirmedAt === UNRECORDED) return;
        if (ok) cached.confirmedAt = Math.max(cached.confirmedAt, sentAt);
        else this.#cache.delete(topic, group);
      });
    } catch (err) {
      if (err instanceof StoreStateLostError) return this.#onLost(topic);
      let failing = this.#failing.get(topic);
      if (!failing) {
        failing = new LogSpell(
          this.#log,
          'could not record last access of MessageGroups in Redis',
          'recording last access of MessageGroups in Redis again',
          'failedChunks',
        );
        this.#failing.set(topic, failing);
      }
      failing.add({ topic, groups: chunk.length, err });
    }
  }
}
