import type { Logger } from '../logging/logger.ts';
import type { StoreNotReplicatedError } from '../errors/store-errors.ts';
import type { Clock } from './clock.ts';
import { RefusalTally } from './refusal-tally.ts';
import type { Count } from './router-metrics.ts';
import { RoutingRefusal } from './routing-refusal.ts';

/** Seconds a client is told to wait before retrying a group whose route the replicas have not acknowledged. */
const RETRY_AFTER_S = 1;

/**
 * Routes refused because too few Redis replicas acknowledged them (REDIS_REPLICA_ACKS), as one episode: a
 * warning when the first one is refused, a count at most once per interval while it lasts, and a line
 * when a route is acknowledged again. A lagging or stopped replica refuses every new route, so a line per
 * request would bury the cause.
 */
export class ReplicaAckRefusals {
  readonly #metric: Count;
  readonly #log: Logger;
  readonly #tally: RefusalTally;
  readonly #now: Clock;
  #since: number | undefined;

  constructor(metric: Count, log: Logger, intervalMs: number, now: Clock) {
    this.#metric = metric;
    this.#log = log;
    this.#now = now;
    this.#tally = new RefusalTally(intervalMs, now);
  }

  /** Counts one unacknowledged route (the episode starts with the first); returns what its request is refused with. */
  refusal(group: string, err: StoreNotReplicatedError): RoutingRefusal {
    this.noteShortfall(err);
    return new RoutingRefusal(
      'replica_acks',
      `Redis replicas have not acknowledged the route of MessageGroup "${group}" (${err.message}): a failover now could map it elsewhere, so nothing was written; retry shortly`,
      { retryAfterSeconds: RETRY_AFTER_S, cause: err },
    );
  }

  /** Counts one unacknowledged write (a route, or the record of a hashed one) and starts the episode's log. */
  noteShortfall(err: StoreNotReplicatedError): void {
    this.#metric.inc();
    if (this.#since !== undefined) return;
    this.#since = this.#now();
    this.#log.warn(
      'Redis replicas do not acknowledge new routes in time: new MessageGroups (and groups not cached here) get 503 until they do; refused requests are counted in one line per minute at most',
      { err },
    );
  }

  /** Counts a request refused for it and logs the periodic count when one is due. */
  refused(messages: number): void {
    this.#tally.refused(messages);
    const summary = this.#tally.due();
    if (!summary) return;
    this.#log.warn(
      `Redis replicas still not acknowledging routes: ${summary.requests} requests (${summary.messages} messages) refused with 503 ROUTING_UNAVAILABLE in the last ${Math.round(summary.overMs / 1000)} s`,
      { refusedRequests: summary.requests, refusedMessages: summary.messages, overMs: summary.overMs },
    );
  }

  /** A route was acknowledged: ends the episode, if one was running, with its totals. */
  acknowledged(): void {
    if (this.#since === undefined) return;
    const total = this.#tally.end();
    this.#log.info('Redis replicas acknowledge routes again', {
      shortForMs: this.#now() - this.#since,
      refusedRequests: total.requests,
      refusedMessages: total.messages,
    });
    this.#since = undefined;
  }
}
