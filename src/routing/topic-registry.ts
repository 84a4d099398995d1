import type { Logger } from '../logging/logger.ts';
import type { RouteStore, TopicRegistration, TopicState } from './route-store.ts';

/**
 * Each topic's stored state as this replica registered it (bucket count and epoch), read from the store on
 * first use (once per process; a failed registration is retried by the next use). A topic the store has no
 * state for goes through `establish` (StateLoss: it may be one Redis lost). `onRegistered` receives the
 * registration before any route of the topic is cached, which makes it the baseline for admin changes and
 * state losses.
 */
export class TopicRegistry {
  readonly #store: Pick<RouteStore, 'readTopic'>;
  readonly #configured: number;
  readonly #establish: (topic: string) => Promise<TopicRegistration>;
  readonly #onRegistered: (topic: string, registration: TopicRegistration) => void;
  readonly #log: Logger;
  readonly #states = new Map<string, Promise<TopicState>>();
  readonly #settled = new Map<string, TopicState>();

  constructor(
    store: Pick<RouteStore, 'readTopic'>,
    configuredBuckets: number,
    establish: (topic: string) => Promise<TopicRegistration>,
    onRegistered: (topic: string, registration: TopicRegistration) => void,
    log: Logger,
  ) {
    this.#store = store;
    this.#configured = configuredBuckets;
    this.#establish = establish;
    this.#onRegistered = onRegistered;
    this.#log = log;
  }

  state(topic: string): Promise<TopicState> {
    let state = this.#states.get(topic);
    if (!state) {
      state = this.#register(topic).then(
        (registration) => {
          this.adopt(topic, registration);
          if (registration.buckets !== this.#configured) {
            this.#log.warn('topic keeps the bucket count it was first used with', { topic, configured: this.#configured, stored: registration.buckets });
          }
          return registration;
        },
        (err: unknown) => {
          this.#states.delete(topic);
          throw err;
        },
      );
      this.#states.set(topic, state);
    }
    return state;
  }

  async buckets(topic: string): Promise<number> {
    return (await this.state(topic)).buckets;
  }

  /** The state registered last, if any (without waiting for a registration in progress). */
  known(topic: string): TopicState | undefined {
    return this.#settled.get(topic);
  }

  /** Routes with `registration` from now on (a rebuilt or re-registered state). */
  adopt(topic: string, registration: TopicRegistration): void {
    const state = { buckets: registration.buckets, epoch: registration.epoch };
    this.#settled.set(topic, state);
    this.#states.set(topic, Promise.resolve(state));
    this.#onRegistered(topic, registration);
  }

  async #register(topic: string): Promise<TopicRegistration> {
    return (await this.#store.readTopic(topic)) ?? this.#establish(topic);
  }
}
