import type { Logger } from '../logging/logger.ts';
import type { RouteStore } from './route-store.ts';

/**
 * Notices admin changes of live mappings: the store bumps a topic's generation on each, and a replica that
 * sees a generation other than the one it knows drops its cached routes of that topic (`onChanged`).
 */
export class GenerationWatch {
  readonly #store: Pick<RouteStore, 'generations'>;
  readonly #onChanged: (topic: string) => void;
  readonly #log: Logger;
  readonly #known = new Map<string, string | null>();

  constructor(store: Pick<RouteStore, 'generations'>, onChanged: (topic: string) => void, log: Logger) {
    this.#store = store;
    this.#onChanged = onChanged;
    this.#log = log;
  }

  /** The generation seen when the topic was registered, before any of its routes was cached. */
  baseline(topic: string, generation: string | null): void {
    this.#known.set(topic, generation);
  }

  /** Compares every known topic's generation with the store's. Never rejects. */
  async check(): Promise<void> {
    const topics = [...this.#known.keys()];
    if (topics.length === 0) return;
    try {
      const current = await this.#store.generations(topics);
      topics.forEach((topic, i) => {
        const generation = current[i] ?? null;
        if (this.#known.get(topic) !== generation) {
          this.#onChanged(topic);
          this.#log.info('mappings changed by an operator; dropped cached routes of the topic', { topic });
        }
        this.#known.set(topic, generation);
      });
    } catch (err) {
      this.#log.warn('could not check mapping generations in Redis', { err });
    }
  }
}
