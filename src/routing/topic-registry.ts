import type { Logger } from '../logging/logger.ts';
import type { RouteStore, TopicRegistration } from './route-store.ts';

/**
 * Each topic's bucket count, registered in the store on first use (once per process; a failed registration
 * is retried by the next use). `onRegistered` receives the topic's generation, read before any route of the
 * topic is cached, which makes it the baseline for admin changes.
 */
export class TopicRegistry {
  readonly #store: Pick<RouteStore, 'registerTopic'>;
  readonly #configured: number;
  readonly #onRegistered: (topic: string, registration: TopicRegistration) => void;
  readonly #log: Logger;
  readonly #buckets = new Map<string, Promise<number>>();

  constructor(
    store: Pick<RouteStore, 'registerTopic'>,
    configuredBuckets: number,
    onRegistered: (topic: string, registration: TopicRegistration) => void,
    log: Logger,
  ) {
    this.#store = store;
    this.#configured = configuredBuckets;
    this.#onRegistered = onRegistered;
    this.#log = log;
  }

  buckets(topic: string): Promise<number> {
    let buckets = this.#buckets.get(topic);
    if (!buckets) {
      buckets = this.#store.registerTopic(topic, this.#configured).then(
        (registration) => {
          this.#onRegistered(topic, registration);
          if (registration.buckets !== this.#configured) {
            this.#log.warn('topic keeps the bucket count it was first used with', { topic, configured: this.#configured, stored: registration.buckets });
          }
          return registration.buckets;
        },
        (err: unknown) => {
          this.#buckets.delete(topic);
          throw err;
        },
      );
      this.#buckets.set(topic, buckets);
    }
    return buckets;
  }
}
