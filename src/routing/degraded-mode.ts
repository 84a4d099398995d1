import type { Logger } from '../logging/logger.ts';
import { StoreNotReplicatedError, StoreUnreachableError } from '../errors/store-errors.ts';
import type { Clock } from './clock.ts';
import { groupHash, hashedPartition } from './hashing.ts';
import { OutageRecovery } from './outage-recovery.ts';
import { OutageState } from './outage-state.ts';
import { ProvisionalRoutes, type ProvisionalRoute } from './provisional-routes.ts';
import { RefusalTally } from './refusal-tally.ts';
import { type RouteCache, UNRECORDED } from './route-cache.ts';
import type { RouterMetrics } from './router-metrics.ts';
import type { RouteLogging } from './route-logging.ts';
import type { RouteStore, TopicState } from './route-store.ts';
import { RoutingRefusal } from './routing-refusal.ts';

/** A route, whether it was proven (by the store, or a cached confirmation still inside its validity window), and how it was found. */
export interface Resolution {
  partition: number;
  proven: boolean;
  via: RouteSource;
}

/** Where a route came from: this replica's cache, the store's route script, or the hash (degraded). */
export type RouteSource = 'cache' | 'script' | 'hash';

export interface DegradedModeDeps {
  store: Pick<RouteStore, 'ping' | 'record'>;
  state: (topic: string) => Promise<TopicState>;
  partitions: (topic: string) => Promise<number>;
  cache: RouteCache;
  /** Puts the routes recorded after an outage in the route log. */
  logging: RouteLogging;
  /** Redis no longer holds a topic's state this replica registered (found while recording): rebuild it. */
  onLost: (topic: string) => void;
  /** Unprovable routes during an outage: refused (503), or hashed (may split a group). */
  degradedRouting: 'reject' | 'hash' | undefined;
  /** The route cache's size: as many hashed routes are kept for recording (see ProvisionalRoutes), 1,000 at least. */
  routeCacheSize: number;
  metrics: Pick<RouterMetrics, 'degradedMode' | 'degradedRoutes' | 'degradedConflicts'>;
  /** A hashed route the store recorded on too few replicas (counted with the router's other unacknowledged routes). */
  onShortfall: (err: StoreNotReplicatedError) => void;
  log: Logger;
  now: Clock;
}

/** Fewest hashed routes kept for recording, however small the cache. */
const MIN_PROVISIONAL = 1000;
/** Seconds a client is told to wait before retrying a group this replica cannot route during an outage. */
const OUTAGE_RETRY_AFTER_S = 1;
/** How often an outage probes the store. */
const RECOVERY_INTERVAL_MS = 1000;
/** During an outage, at most one log line per this long counts the requests refused meanwhile. */
export const REFUSAL_SUMMARY_INTERVAL_MS = 60_000;

/**
 * Routing while the store is out of reach, as one part: the outage state, the routes this replica cannot
 * prove (refused, or hashed with DEGRADED_ROUTING=hash), the periodic count of refused requests, and the
 * recovery that probes the store every second and records the hashed routes before the outage ends.
 */
export class DegradedMode {
  readonly #deps: DegradedModeDeps;
  readonly #outage = new OutageState();
  readonly #provisional: ProvisionalRoutes;
  readonly #recovery: OutageRecovery;
  readonly #refusals: RefusalTally;
  #recoveryTimer: NodeJS.Timeout | undefined;
  /** The attempt running: the next tick waits for none and starts none (an attempt over many routes outlasts a tick). */
  #attempt: Promise<void> | undefined;

  constructor(deps: DegradedModeDeps) {
    this.#deps = deps;
    const { store, state, cache, logging, onLost, metrics, log, now } = deps;
    this.#provisional = new ProvisionalRoutes(Math.max(MIN_PROVISIONAL, deps.routeCacheSize));
    const conflicts = metrics.degradedConflicts;
    this.#recovery = new OutageRecovery({ store, state, provisional: this.#provisional, cache, logging, onLost, conflicts, log, now });
    this.#refusals = new RefusalTally(REFUSAL_SUMMARY_INTERVAL_MS, now);
  }

  /** True while routing without the store. */
  get active(): boolean {
    return this.#outage.active;
  }

  /** Stops the probes; resolves once an attempt under way has ended (its hashed routes recorded, or not). */
  async stop(): Promise<void> {
    this.#stopProbes();
    await this.#attempt;
  }

  #stopProbes(): void {
    clearInterval(this.#recoveryTimer);
    this.#recoveryTimer = undefined;
  }

  /** Begins the outage (once) and its recovery probes. */
  enter(err: StoreUnreachableError): void {
    if (!this.#outage.enter()) return;
    this.#provisional.resetCount();
    this.#deps.metrics.degradedMode.set(1);
    const how = this.#deps.degradedRouting === 'hash' ? 'other groups by consistent hashing (DEGRADED_ROUTING=hash)' : 'other groups get 503';
    this.#deps.log.error(
      `Redis unreachable: routing in degraded mode (routes cached within their validity; ${how}); refused requests are counted in one line per minute at most`,
      { err },
    );
    this.#recoveryTimer = setInterval(() => this.#probe(), RECOVERY_INTERVAL_MS);
    this.#recoveryTimer.unref();
  }

  /**
   * A group whose route this replica cannot prove while the store is out of reach. By default it is refused
   * (another replica may have it mapped, or map it meanwhile, elsewhere). With `degradedRouting: 'hash'`, a
   * group this replica knows keeps its cached partition, however old; another takes its consistent-hash
   * partition, which every replica computes alike, and is recorded in the store later.
   */
  async routeUnproven(topic: string, group: string): Promise<Resolution> {
    const { cache, metrics } = this.#deps;
    if (this.#deps.degradedRouting !== 'hash') {
      throw new RoutingRefusal(
        'outage',
        `Redis is out of reach and this replica cannot prove the partition of MessageGroup "${group}" (not in its cache); nothing was written, retry shortly`,
        { retryAfterSeconds: OUTAGE_RETRY_AFTER_S },
      );
    }
    metrics.degradedRoutes.inc();
    const known = cache.peek(topic, group);
    if (known) return { partition: known.partition, proven: false, via: 'cache' };
    const hash = groupHash(group);
    const partition = hashedPartition(hash, await this.#deps.partitions(topic));
    this.#provisional.remember({ topic, group, hash, partition });
    // Never "confirmed": while degraded it is the route, afterwards the store decides.
    cache.set(topic, group, { partition, hash, confirmedAt: UNRECORDED });
    return { partition, proven: false, via: 'hash' };
  }

  /** Records a route hashed during an outage that was not recorded then; returns the partition the store maps. */
  record(route: ProvisionalRoute, state: TopicState): Promise<number> {
    return this.#recovery.record(route, state);
  }

  /** Counts a request refused for the outage; its log line is the periodic summary, not one per request. */
  refused(messages: number): void {
    if (!this.#outage.active) return;
    this.#refusals.refused(messages);
    this.#logRefusalSummary();
  }

  #logRefusalSummary(): void {
    const summary = this.#refusals.due();
    if (!summary) return;
    this.#deps.log.warn(
      `Redis still unreachable: ${summary.requests} requests (${summary.messages} messages) refused with 503 ROUTING_UNAVAILABLE in the last ${Math.round(summary.overMs / 1000)} s`,
      {
        refusedRequests: summary.requests,
        refusedMessages: summary.messages,
        overMs: summary.overMs,
        degradedForMs: Date.now() - (this.#outage.since ?? Date.now()),
      },
    );
  }

  #probe(): void {
    // A summary is due even when no request comes to trigger one.
    this.#logRefusalSummary();
    this.#attempt ??= this.#tryRecover().finally(() => (this.#attempt = undefined));
  }

  async #tryRecover(): Promise<void> {
    let done: boolean;
    try {
      done = await this.#recovery.attempt();
    } catch (err) {
      if (err instanceof StoreNotReplicatedError) this.#deps.onShortfall(err);
      else if (!(err instanceof StoreUnreachableError)) this.#deps.log.error('recording degraded-mode routes failed; still degraded', { err });
      return; // try again on the next tick
    }
    const since = this.#outage.since ?? Date.now();
    if (done && this.#outage.leave()) {
      this.#stopProbes();
      this.#deps.metrics.degradedMode.set(0);
      const refused = this.#refusals.end();
      this.#deps.log.info('Redis reachable again: routing through Redis', {
        degradedForMs: Date.now() - since,
        refusedRequests: refused.requests,
        refusedMessages: refused.messages,
        unrecordedRoutes: this.#provisional.unrecorded,
      });
    }
  }
}
