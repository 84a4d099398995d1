import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CodedError } from '../errors/coded-error.ts';
import { errorMessage, SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import type { RouteLog } from './route-log.ts';
import type { RestoreStore, RouteStore, TopicHold, TopicRegistration, TopicState } from './route-store.ts';
import type { TopicCount } from './router-metrics.ts';

/** How long a topic's rebuild lock lives unless renewed: a replica that dies holding it blocks no one for longer. */
const RESTORE_LOCK_MS = 60_000;
/** How often the holder renews it while its rebuild runs (a long log read, many mappings restored). */
const RESTORE_LOCK_RENEW_MS = RESTORE_LOCK_MS / 3;
/** How long a request waits for another replica's rebuild before it is refused (retriable). */
const RESTORE_WAIT_MS = 5000;
const RESTORE_POLL_MS = 100;
/** Seconds a client is told to wait before retrying a new group of a topic whose state is being rebuilt. */
export const STATE_LOST_RETRY_AFTER_S = 1;
/** What a failed rebuild of a topic without state leaves (logged): the next request's recovery tries again. */
const STILL_HELD = 'new MessageGroups of it stay refused, the next request tries again';

export interface StateLossDeps {
  store: Pick<RouteStore, 'readTopic'> & RestoreStore;
  /** The durable route log; undefined when it is off (ROUTE_LOG=false). */
  routeLog: RouteLog | undefined;
  configuredBuckets: number;
  metrics: { stateLosses: TopicCount; routesRestored: TopicCount };
  log: Logger;
}

export const stateLost = (message: string): SidecarError =>
  new SidecarError('ROUTING_STATE_LOST', message, { field: 'messages', retryAfterSeconds: STATE_LOST_RETRY_AFTER_S, summarized: true });

/** The refusal of a new group of a topic on hold (StoreOnHoldError): rebuilt now, or waiting for an operator. */
export const onHold = (topic: string, reason: string): SidecarError =>
  stateLost(
    reason === 'unproven'
      ? `new MessageGroups of topic "${topic}" are refused until an operator decides: Redis lost the topic's routing state and the route log is off (\`ordered-sidecar groups resume ${topic}\`); nothing was written`
      : `the routing state of topic "${topic}" is being rebuilt; nothing was written, retry shortly`,
  );

/**
 * What a replica does when Redis has no routing state for a topic, or another one than it registered (the
 * epoch route-3.lua checks): Redis lost it. New groups of the topic are not assigned until the state is
 * rebuilt, once, by one replica holding the topic's rebuild lock while the others wait:
 * - with the route log, the topic's mappings are read back from it and restored (loads included) under a
 *   'restoring' hold, then a new epoch is stamped and assigning resumes;
 * - without it, a new epoch is stamped with an 'unproven' hold: the replicas re-seed the routes they have
 *   cached (OrderedMessageRouter), and new groups stay refused until an operator releases the hold
 *   (`ordered-sidecar groups resume`), since a group only a restarted replica knew cannot be proven.
 * The same path makes a topic's first state: a topic Redis does not know may be one it lost.
 */
export class StateLoss {
  readonly #deps: StateLossDeps;
  readonly #owner = randomUUID();
  readonly #lost = new Set<string>();
  readonly #rebuilding = new Map<string, Promise<TopicRegistration>>();

  constructor(deps: StateLossDeps) {
    this.#deps = deps;
  }

  get logged(): boolean {
    return this.#deps.routeLog !== undefined;
  }

  isLost(topic: string): boolean {
    return this.#lost.has(topic);
  }

  /** Marks the topic lost; logs and counts once per loss. */
  noteLost(topic: string): void {
    if (this.#lost.has(topic)) return;
    this.#lost.add(topic);
    this.#deps.metrics.stateLosses.inc({ topic });
    this.#deps.log.error(
      `Redis lost the routing state of topic "${topic}" (FLUSHALL, a restart without persistence, or a failover to a replica without it): new MessageGroups of the topic get 503 ROUTING_STATE_LOST until it is rebuilt${this.logged ? ' from the route log' : '; the route log is off, so cached routes are re-seeded and new groups wait for an operator (docs/operations.md, "When Redis loses its data")'}; cached routes keep flowing`,
      { topic },
    );
  }

  /** The topic's state is usable again. */
  recovered(topic: string): void {
    if (this.#lost.delete(topic)) this.#deps.log.info('routing state of the topic rebuilt; assigning new MessageGroups again', { topic });
  }

  /**
   * The state to route with after a loss of `known` (or when Redis has none at first use): Redis's current
   * one if another replica already rebuilt it, else rebuilt here. Rejects with ROUTING_STATE_LOST while
   * another replica rebuilds for longer than a request should wait.
   */
  recover(topic: string, known: TopicState | undefined): Promise<TopicRegistration> {
    let rebuilding = this.#rebuilding.get(topic);
    if (!rebuilding) {
      rebuilding = this.#recover(topic, known).finally(() => this.#rebuilding.delete(topic));
      this.#rebuilding.set(topic, rebuilding);
    }
    return rebuilding;
  }

  /**
   * The admin command: restores from the log every mapping Redis misses, under a hold, keeping the topic's
   * epoch when it has one. Returns how many mappings were restored.
   */
  async rebuild(topic: string): Promise<number> {
    const { store, routeLog } = this.#deps;
    if (!routeLog)
      throw new SidecarError('CONFLICT', 'the route log is off (ROUTE_LOG=false): there is nothing to rebuild from; see `ordered-sidecar groups resume`');
    const busy = (): never => {
      throw new SidecarError('CONFLICT', `topic "${topic}" is being rebuilt (or resumed) now, by this replica or another; try again when it is done`);
    };
    return this.#underLock(topic, busy, async () => {
      const current = await store.readTopic(topic);
      // No state: the 'restoring' hold a failure leaves is lifted by the next request's recovery (#recover).
      if (!current) return (await this.#restore(topic, this.#deps.configuredBuckets, randomUUID(), STILL_HELD)).restored;
      // State that was never lost: no replica recovers it, so a failure would leave 'restoring' for good.
      // The hold it had before (none, or one an operator must lift) is put back instead.
      const before = await store.readHold(topic);
      try {
        return (await this.#restore(topic, current.buckets, current.epoch, 'the hold the topic had before is put back')).restored;
      } catch (err) {
        throw await this.#putBackHold(topic, before, err);
      }
    });
  }

  /**
   * The admin resume: new groups of the topic may be assigned again; false when Redis has no state of it. Under
   * the rebuild lock: lifting the hold of a rebuild under way would let a group be mapped afresh, elsewhere,
   * before the rebuild puts its logged mapping back.
   */
  resume(topic: string): Promise<boolean> {
    const busy = (): never => {
      throw new SidecarError('CONFLICT', `a replica is rebuilding topic "${topic}" now; its hold ends with the rebuild (resume only if it fails)`);
    };
    return this.#underLock(topic, busy, async () => {
      const { store } = this.#deps;
      const held = await store.readHold(topic);
      if (await store.release(topic)) return true;
      if (held === undefined) return false;
      // A meta with a hold and no epoch: a rebuild after a whole loss that has not succeeded (its log read failed).
      throw new SidecarError(
        'CONFLICT',
        `topic "${topic}" lost its routing state and its rebuild from the route log has not succeeded yet: there is nothing to resume; run \`ordered-sidecar groups rebuild ${topic}\` once the route log can be read`,
      );
    });
  }

  /**
   * `work` under the topic's rebuild lock, renewed while it runs; `busy` when another replica holds the lock. A
   * renewal that finds the lock gone (Redis lost it, or it expired while Redis did not answer) is logged: the
   * work goes on, and another replica's rebuild may overlap it (both restore only what Redis misses).
   */
  async #underLock<T>(topic: string, busy: () => Promise<T>, work: () => Promise<T>): Promise<T> {
    const { store, log } = this.#deps;
    if (!(await store.tryLockRestore(topic, this.#owner, RESTORE_LOCK_MS))) return busy();
    const renewal = setInterval(() => {
      store.extendRestoreLock(topic, this.#owner, RESTORE_LOCK_MS).then(
        (held) => {
          if (!held) log.warn('the rebuild lock of the topic was lost while its rebuild ran; another replica may rebuild it at the same time', { topic });
        },
        (err: unknown) => log.warn('renewing the rebuild lock of the topic failed; it expires unless a later renewal succeeds', { topic, err }),
      );
    }, RESTORE_LOCK_RENEW_MS);
    renewal.unref();
    try {
      return await work();
    } finally {
      clearInterval(renewal);
      await store.unlockRestore(topic, this.#owner).catch(() => undefined);
    }
  }

  /** After a failed admin rebuild of a topic with state: its hold as it was before; returns the error to answer with. */
  async #putBackHold(topic: string, before: TopicHold | undefined, err: unknown): Promise<unknown> {
    const { store, log } = this.#deps;
    try {
      if (before === undefined) await store.release(topic);
      else await store.hold(topic, before);
    } catch (putBackErr) {
      log.error(
        `could not put back the hold of the topic after its rebuild failed: new MessageGroups of it stay refused until the rebuild succeeds or \`ordered-sidecar groups resume ${topic}\``,
        { topic, err: putBackErr },
      );
      return err;
    }
    const now = before === undefined ? 'new MessageGroups are assigned again' : `new MessageGroups stay on hold ("${before}") as before`;
    return retold(
      err,
      `rebuilding topic "${topic}" from the route log failed: ${errorMessage(err)}. The topic is back as it was (${now}); the rebuild can be retried`,
    );
  }

  async #recover(topic: string, known: TopicState | undefined): Promise<TopicRegistration> {
    const { store } = this.#deps;
    // State in Redis (rebuilt by another replica, or never lost: the caller's epoch was just older) is used as it is.
    const current = await store.readTopic(topic);
    if (current) return current;
    return this.#underLock(
      topic,
      () => this.#awaitOthers(topic),
      async () => {
        // Another replica may have finished between the read and the lock.
        const again = await store.readTopic(topic);
        if (again) return again;
        const buckets = known?.buckets ?? this.#deps.configuredBuckets;
        if (this.logged) {
          return (
            await this.#restore(topic, buckets, randomUUID(), STILL_HELD).catch((err: unknown) => {
              // Only the log's failure is told again: a store's error goes on as it is (the router reads an outage from it).
              if (!(err instanceof SidecarError && err.code === 'ROUTE_LOG_UNAVAILABLE')) throw err;
              throw retold(err, `${err.message}; new MessageGroups of the topic wait for its rebuild, retry shortly`);
            })
          ).registration;
        }
        // No log: a topic this replica knew had routes nobody can list any more; a first use has none.
        return await store.stampTopic(topic, buckets, randomUUID(), known ? 'unproven' : undefined);
      },
    );
  }

  /** `onFailure`: what becomes of the topic's new groups when the log cannot be read (logged). */
  async #restore(topic: string, buckets: number, epoch: string, onFailure: string): Promise<{ registration: TopicRegistration; restored: number }> {
    const { store, routeLog, log, metrics } = this.#deps;
    await store.hold(topic, 'restoring');
    const started = performance.now();
    const logged = await routeLog!.read(topic).catch((err: unknown) => {
      log.warn(`rebuilding the routing state of the topic failed: the route log could not be read; ${onFailure}`, {
        topic,
        err,
      });
      throw err;
    });
    const fixedBuckets = logged.buckets ?? buckets;
    const restored = await store.restoreRoutes(topic, fixedBuckets, logged.routes);
    // The restore adds a partition's load per mapping put back, right when the loads went with the mappings; after
    // a partial loss (a bucket gone, the loads kept) that counts the group twice and skews least-loaded. Counted
    // again from the mappings, under the hold (only a cleanup round running meanwhile can leave it one off).
    if (restored > 0) await store.recountLoads(topic, fixedBuckets);
    const registration = await store.stampTopic(topic, fixedBuckets, epoch, undefined);
    metrics.routesRestored.inc({ topic }, restored);
    if (logged.routes.size > 0) {
      log.warn('restored MessageGroup mappings of the topic from the route log', {
        topic,
        logged: logged.routes.size,
        restored,
        ms: Math.round(performance.now() - started),
      });
    }
    return { registration, restored };
  }

  /** Another replica holds the rebuild lock: wait a little for its state, else refuse (retriable). */
  async #awaitOthers(topic: string): Promise<TopicRegistration> {
    const deadline = performance.now() + RESTORE_WAIT_MS;
    while (performance.now() < deadline) {
      await sleep(RESTORE_POLL_MS);
      const current = await this.#deps.store.readTopic(topic);
      if (current) return current;
    }
    throw stateLost(`the routing state of topic "${topic}" is being rebuilt by another replica; nothing was written, retry shortly`);
  }
}

/**
 * `err` told as `message`, for the answer of the request that met it. A defect stays what it is (a 500); a
 * failure of the log or the store keeps its code and status, and, logged where it happened (#restore), its
 * summarized flag and Retry-After.
 */
function retold(err: unknown, message: string): unknown {
  if (!(err instanceof CodedError)) return err;
  return new SidecarError(err.code, message, {
    cause: err,
    ...(err instanceof SidecarError && { summarized: err.summarized }),
    ...(err instanceof SidecarError && err.retryAfterSeconds !== undefined && { retryAfterSeconds: err.retryAfterSeconds }),
  });
}
