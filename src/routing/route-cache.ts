/** A cached mapping and when Redis last confirmed it (local monotonic ms). */
export interface CachedRoute {
  partition: number;
  hash: number;
  confirmedAt: number;
}

/**
 * Bounded LRU of MessageGroup routes. A Map keeps insertion order, so re-inserting on use makes the
 * first key the least recently used one.
 */
export class RouteCache {
  readonly #entries = new Map<string, CachedRoute>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): CachedRoute | undefined {
    const entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Reads without counting as a use (for background bookkeeping). */
  peek(key: string): CachedRoute | undefined {
    return this.#entries.get(key);
  }

  set(key: string, entry: CachedRoute): void {
    if (this.#capacity === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops every entry whose key starts with `prefix` (a whole topic); rare, so a full scan is fine. */
  deletePrefix(prefix: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key);
  }
}
