import { LogSpell } from '../logging/log-spell.ts';
import type { Logger } from '../logging/logger.ts';
import type { RouteStore, TopicRegistration, TopicStamp } from './route-store.ts';

/**
 * Notices admin changes of live mappings and lost state: the store bumps a topic's generation on each admin
 * change, and a replica that sees a generation other than the one it knows drops its cached routes of that
 * topic (`onChanged`). An epoch other than the one it registered means Redis lost the topic's state
 * (`onLost`): the cached routes are kept, they are what routing goes on with until the state is rebuilt.
 */
export class GenerationWatch {
  readonly #store: Pick<RouteStore, 'stamps'>;
  readonly #onChanged: (topic: string) => void;
  readonly #onLost: (topic: string) => void;
  readonly #log: Logger;
  readonly #known = new Map<string, TopicStamp>();
  readonly #failedChecks: LogSpell;

  constructor(store: Pick<RouteStore, 'stamps'>, onChanged: (topic: string) => void, onLost: (topic: string) => void, log: Logger) {
    this.#store = store;
    this.#onChanged = onChanged;
    this.#onLost = onLost;
    this.#log = log;
    this.#failedChecks = new LogSpell(log, 'could not check mapping generations in Redis', 'checking mapping generations in Redis again', 'failedChecks');
  }

  /** The generation and epoch seen when the topic was registered, before any of its routes was cached. */
  baseline(topic: string, registration: TopicRegistration): void {
    this.#known.set(topic, { generation: registration.generation, epoch: registration.epoch });
  }

  /** Compares the generation and epoch of every known topic the store answers for with the store's. Never rejects. */
  async check(): Promise<void> {
    const topics = [...this.#known.keys()];
    if (topics.length === 0) return;
    try {
      const current = await this.#store.stamps(topics);
      const unread = topics.filter((_, i) => current[i]!.status === 'rejected');
      const failure = current.find((c) => c.status === 'rejected');
      if (failure) this.#failedChecks.add({ topics: unread, err: failure.reason });
      else this.#failedChecks.end();
      topics.forEach((topic, i) => {
        const read = current[i]!;
        if (read.status === 'rejected') return;
        const known = this.#known.get(topic)!;
        const stamp = read.value;
        if (stamp.epoch !== known.epoch) {
          // Not a new baseline: it is set when the replica adopts the rebuilt state.
          this.#onLost(topic);
          return;
        }
        if (known.generation !== stamp.generation) {
          this.#onChanged(topic);
          this.#log.info('mappings changed by an operator; dropped cached routes of the topic', { topic });
        }
        this.#known.set(topic, stamp);
      });
    } catch (err) {
      this.#failedChecks.add({ err });
    }
  }
}
