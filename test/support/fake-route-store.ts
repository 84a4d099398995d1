import { StoreNotReplicatedError, StoreOnHoldError, StoreStateLostError, StoreUnreachableError } from '../../src/errors/store-errors.ts';
import { leastLoadedPartition } from '../../src/routing/least-loaded.ts';
import type { RouterMetrics } from '../../src/routing/router-metrics.ts';
import type {
  RestoreStore,
  RouteOutcome,
  RouteStore,
  TopicHold,
  TopicRegistration,
  TopicStamp,
  TopicState,
  TouchEntry,
} from '../../src/routing/route-store.ts';

/**
 * The routing store in memory, for the unit tests of the routing core and what builds on it; `failure` makes
 * its calls fail as an unreachable, unreplicating or defective store would. Like route-3.lua,
 * it writes nothing for a caller whose topic epoch is not the stored one; `lose()` is a FLUSHALL.
 */
export class FakeRouteStore implements RouteStore, RestoreStore {
  readonly mappings = new Map<string, number>();
  readonly generation = new Map<string, string | null>();
  /** Topics whose stamp read fails, as on a Redis Cluster node that does not answer. */
  readonly unreadableTopics = new Set<string>();
  readonly epochs = new Map<string, string>();
  readonly holds = new Map<string, TopicHold>();
  readonly unlogged = new Set<string>();
  readonly locks = new Map<string, string>();
  #epochs = 0;
  readonly calls = { route: 0, record: 0, touch: 0, ping: 0, generations: 0 };
  readonly touched: TouchEntry[] = [];
  /**
   * 'outage': the connection is gone; 'unanswered': one command got no answer; 'defect': a programming error;
   * 'unreplicated': route writes are made but too few replicas acknowledge them (other calls work).
   */
  failure: 'outage' | 'unanswered' | 'defect' | 'unreplicated' | undefined;

  #fail(): void {
    if (this.failure === 'defect') throw new TypeError('a bug');
    if (this.failure === 'unreplicated') return;
    if (this.failure) throw new StoreUnreachableError('fake store out of reach', { outage: this.failure === 'outage' });
  }

  #loads(topic: string, partitions: number): number[] {
    const loads = new Array<number>(partitions).fill(0);
    for (const [key, p] of this.mappings) if (key.startsWith(`${topic}/`)) loads[p]!++;
    return loads;
  }

  /** What FLUSHALL leaves: nothing. */
  lose(): void {
    for (const state of [this.mappings, this.generation, this.epochs, this.holds, this.unlogged, this.locks]) state.clear();
  }

  #checkEpoch(topic: string, state: TopicState): void {
    if (this.epochs.get(topic) !== state.epoch) throw new StoreStateLostError(`lost ${topic}`);
  }

  async readTopic(topic: string): Promise<TopicRegistration | undefined> {
    this.#fail();
    const epoch = this.epochs.get(topic);
    return epoch === undefined ? undefined : { buckets: 16, generation: this.generation.get(topic) ?? null, epoch };
  }

  async route(topic: string, state: TopicState, group: string, hash: number, partitions: number, logged: boolean): Promise<RouteOutcome> {
    this.calls.route++;
    this.#fail();
    this.#checkEpoch(topic, state);
    const key = `${topic}/${group}`;
    const existing = this.mappings.get(key);
    if (existing !== undefined) {
      this.#unacknowledged();
      return { partition: existing, created: false, unlogged: this.unlogged.has(key) };
    }
    const hold = this.holds.get(topic);
    if (hold) throw new StoreOnHoldError(`held ${topic}`, hold);
    const partition = leastLoadedPartition(this.#loads(topic, partitions), hash);
    this.mappings.set(key, partition);
    if (logged) this.unlogged.add(key);
    this.#unacknowledged();
    return { partition, created: true, unlogged: logged };
  }

  async markLogged(topic: string, state: TopicState, group: string): Promise<void> {
    this.#fail();
    this.#checkEpoch(topic, state);
    this.unlogged.delete(`${topic}/${group}`);
  }

  async stamps(topics: readonly string[]): Promise<PromiseSettledResult<TopicStamp>[]> {
    this.calls.generations++;
    this.#fail();
    return topics.map((t) =>
      this.unreadableTopics.has(t)
        ? { status: 'rejected', reason: new Error(`the Redis node of ${t} does not answer`) }
        : { status: 'fulfilled', value: { generation: this.generation.get(t) ?? null, epoch: this.epochs.get(t) ?? null } },
    );
  }

  async tryLockRestore(topic: string, owner: string): Promise<boolean> {
    if (this.locks.has(topic)) return false;
    this.locks.set(topic, owner);
    return true;
  }

  async unlockRestore(topic: string, owner: string): Promise<void> {
    if (this.locks.get(topic) === owner) this.locks.delete(topic);
  }

  async extendRestoreLock(topic: string, owner: string): Promise<boolean> {
    return this.locks.get(topic) === owner;
  }

  async hold(topic: string, reason: TopicHold): Promise<void> {
    this.holds.set(topic, reason);
  }

  async readHold(topic: string): Promise<TopicHold | undefined> {
    return this.holds.get(topic);
  }

  async release(topic: string): Promise<boolean> {
    this.holds.delete(topic);
    return this.epochs.has(topic);
  }

  async recountLoads(): Promise<void> {
    // Loads are counted from the mappings on every read here.
  }

  async restoreRoutes(topic: string, _buckets: number, routes: ReadonlyMap<string, number>): Promise<number> {
    let restored = 0;
    for (const [group, partition] of routes) {
      if (this.mappings.has(`${topic}/${group}`)) continue;
      this.mappings.set(`${topic}/${group}`, partition);
      restored++;
    }
    return restored;
  }

  async stampTopic(topic: string, buckets: number, _epoch: string, hold: TopicHold | undefined): Promise<TopicRegistration> {
    const epoch = `epoch-${++this.#epochs}`;
    this.epochs.set(topic, epoch);
    if (hold) this.holds.set(topic, hold);
    else this.holds.delete(topic);
    return { buckets, generation: this.generation.get(topic) ?? null, epoch };
  }

  /** The write is made (as on a Redis master) but reported unacknowledged. */
  #unacknowledged(): void {
    if (this.failure === 'unreplicated') throw new StoreNotReplicatedError('0 of the 1 required Redis replicas acknowledged the write within 500 ms');
  }

  async record(topic: string, state: TopicState, group: string, _hash: number, partition: number): Promise<number> {
    this.calls.record++;
    this.#fail();
    this.#checkEpoch(topic, state);
    const key = `${topic}/${group}`;
    if (!this.mappings.has(key)) this.mappings.set(key, partition);
    return this.mappings.get(key)!;
  }

  async touch(topic: string, state: TopicState, entries: readonly TouchEntry[]): Promise<boolean[]> {
    this.calls.touch++;
    this.#fail();
    this.#checkEpoch(topic, state);
    this.touched.push(...entries);
    return entries.map((e) => this.mappings.get(`${topic}/${e.group}`) === e.partition);
  }

  async ping(): Promise<void> {
    this.calls.ping++;
    this.#fail();
  }
}

/** The router's instruments as plain counters a test reads back (`value`). */
export function fakeRouterMetrics() {
  const count = () => {
    const c = { value: 0, inc: (n = 1) => void (c.value += n) };
    return c;
  };
  const level = { value: 0, set: (v: number) => void (level.value = v) };
  const topicCount = () => {
    const c = { value: 0, inc: (_labels: { topic: string }, n = 1) => void (c.value += n) };
    return c;
  };
  return {
    cacheHits: count(),
    cacheMisses: count(),
    groupsCreated: topicCount(),
    degradedMode: level,
    degradedRoutes: count(),
    degradedConflicts: count(),
    hashRoutedMessages: count(),
    replicaAckTimeouts: count(),
    stateLosses: topicCount(),
    routesRestored: topicCount(),
  } satisfies RouterMetrics;
}
