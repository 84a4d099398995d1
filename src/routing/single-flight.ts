/**
 * Merges concurrent lookups of one key: while one is pending, callers of the same key share its promise,
 * so a burst of requests for a new group asks the store once.
 */
export class SingleFlight<T> {
  readonly #pending = new Map<string, Promise<T>>();

  run(key: string, lookup: () => Promise<T>): Promise<T> {
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = lookup().finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return pending;
  }
}
