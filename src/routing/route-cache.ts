/** A cached mapping and when Redis last confirmed it (local monotonic ms). */
export interface CachedRoute {
  partition: number;
  hash: number;
  /** {@link UNRECORDED} for a route hashed during an outage and not yet recorded and logged. */
  confirmedAt: number;
}

/**
 * `confirmedAt` of a route hashed during an outage (DEGRADED_ROUTING=hash) and not yet recorded in Redis and the
 * route log: never proven, so only its own path (StoreRouting, OutageRecovery) confirms it.
 */
export const UNRECORDED = Number.NEGATIVE_INFINITY;

interface Slot {
  route: CachedRoute;
  /** Set on every hit; eviction gives a used entry a second chance instead of reordering on each hit. */
  used: boolean;
}

/**
 * Bounded cache of MessageGroup routes, per topic then per group, so a hit costs two lookups of strings the
 * request already holds (no composite key to build and hash per message). Eviction is CLOCK-style second
 * chance, an LRU approximation: a hit only flips a flag; the oldest unused entry of the largest topic goes.
 */
export class RouteCache {
  readonly #topics = new Map<string, Map<string, Slot>>();
  readonly #capacity: number;
  #size = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#size;
  }

  get(topic: string, group: string): CachedRoute | undefined {
    const slot = this.#topics.get(topic)?.get(group);
    if (!slot) return undefined;
    slot.used = true;
    return slot.route;
  }

  /** Reads without counting as a use (for background bookkeeping). */
  peek(topic: string, group: string): CachedRoute | undefined {
    return this.#topics.get(topic)?.get(group)?.route;
  }

  set(topic: string, group: string, route: CachedRoute): void {
    if (this.#capacity === 0) return;
    let groups = this.#topics.get(topic);
    if (!groups) {
      groups = new Map();
      this.#topics.set(topic, groups);
    }
    const existing = groups.get(group);
    if (existing) {
      existing.route = route;
      return;
    }
    // Evict before inserting, so the newcomer is never the victim.
    if (this.#size >= this.#capacity) this.#evictOne();
    groups.set(group, { route, used: false });
    this.#size++;
  }

  delete(topic: string, group: string): void {
    if (this.#topics.get(topic)?.delete(group)) this.#size--;
  }

  /** The cached routes of a topic (a copy: re-seeding them after a state loss may await between entries). */
  routesOf(topic: string): [group: string, route: CachedRoute][] {
    return [...(this.#topics.get(topic) ?? [])].map(([group, slot]) => [group, slot.route]);
  }

  /** Drops a whole topic (its mappings were changed by an operator). */
  deleteTopic(topic: string): void {
    this.#size -= this.#topics.get(topic)?.size ?? 0;
    this.#topics.delete(topic);
  }

  #evictOne(): void {
    let largest: Map<string, Slot> | undefined;
    for (const groups of this.#topics.values()) if (!largest || groups.size > largest.size) largest = groups;
    if (!largest) return;
    for (const [group, slot] of largest) {
      largest.delete(group);
      if (slot.used) {
        slot.used = false;
        largest.set(group, slot);
      } else {
        this.#size--;
        return;
      }
    }
  }
}
