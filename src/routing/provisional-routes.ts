/** A route made by hash without the store (DEGRADED_ROUTING=hash), to be recorded there when it returns. */
export interface ProvisionalRoute {
  topic: string;
  group: string;
  hash: number;
  partition: number;
}

/**
 * The hash-routed groups still to record in the store, at most `limit` of them: a long outage with endless
 * new groups must not grow memory without bound. Routes beyond it are not kept (counted in `unrecorded`), so
 * the store assigns those groups afresh when it returns.
 */
export class ProvisionalRoutes {
  readonly #limit: number;
  readonly #routes = new Map<string, ProvisionalRoute>();
  #unrecorded = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  remember(route: ProvisionalRoute): void {
    if (this.#routes.size >= this.#limit) this.#unrecorded++;
    else this.#routes.set(key(route), route);
  }

  get size(): number {
    return this.#routes.size;
  }

  /** Routes hashed while degraded that were not kept for recording (see the class comment). */
  get unrecorded(): number {
    return this.#unrecorded;
  }

  pending(): ProvisionalRoute[] {
    return [...this.#routes.values()];
  }

  recorded(route: ProvisionalRoute): void {
    this.#routes.delete(key(route));
  }

  /** Starts a new outage's count of unrecorded routes. */
  resetCount(): void {
    this.#unrecorded = 0;
  }
}

const key = (route: ProvisionalRoute): string => `${route.topic}\u0000${route.group}`;
