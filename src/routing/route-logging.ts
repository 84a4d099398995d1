import { SidecarError } from '../errors/sidecar-error.ts';
import type { RouteLog } from './route-log.ts';
import type { RouteStore, TopicState } from './route-store.ts';
import { STATE_LOST_RETRY_AFTER_S } from './state-loss.ts';

/**
 * Puts a mapping in the route log before it is used: every mapping the store makes (route-3.lua) and every one it
 * records for a route hashed during an outage (record-3.lua), so a rebuild after Redis lost the topic's state
 * puts the group back where it was written.
 */
export class RouteLogging {
  readonly #routeLog: RouteLog | undefined;
  readonly #store: Pick<RouteStore, 'markLogged'>;

  constructor(routeLog: RouteLog | undefined, store: Pick<RouteStore, 'markLogged'>) {
    this.#routeLog = routeLog;
    this.#store = store;
  }

  /** False when the route log is off (ROUTE_LOG=false): nothing is appended. */
  get on(): boolean {
    return this.#routeLog !== undefined;
  }

  /**
   * Appends a mapping to the route log (when on), then lets Redis stop listing it as unlogged, checking that the
   * topic's state is still `state`. A rebuild that read the log before the append was acknowledged made a state
   * without this mapping (a new epoch), where another replica may assign the group elsewhere: the check then
   * fails with StoreStateLostError, nothing was cached or produced, and the caller routes again after the loss.
   * Once it passes, a later loss rebuilds from a log that holds the mapping. One round trip.
   */
  async append(topic: string, state: TopicState, group: string, partition: number): Promise<void> {
    if (!this.#routeLog) return;
    try {
      await this.#routeLog.append([{ topic, group, partition, buckets: state.buckets }]);
    } catch (err) {
      // The log's own refusal (a topic whose settings would lose mappings) is answered as it is: logged where
      // it was found, once, with its code and Retry-After.
      if (err instanceof SidecarError && err.code === 'ROUTE_LOG_UNAVAILABLE') throw err;
      throw new SidecarError(
        'KAFKA_UNAVAILABLE',
        `the route log could not record the partition of the MessageGroup "${group}"; nothing was written, retry shortly`,
        { field: 'messages', cause: err, retryAfterSeconds: STATE_LOST_RETRY_AFTER_S },
      );
    }
    await this.#store.markLogged(topic, state, group);
  }
}
