/** At most one pending timer per partition: setting one replaces the partition's earlier timer. */
export class PartitionTimers {
  readonly #timers = new Map<number, NodeJS.Timeout>();

  /** Calls `fire` in `ms` (a timer that does not hold the process open), unless replaced or cleared before. */
  set(partition: number, ms: number, fire: () => void): void {
    clearTimeout(this.#timers.get(partition));
    const timer = setTimeout(() => {
      this.#timers.delete(partition);
      fire();
    }, ms).unref();
    this.#timers.set(partition, timer);
  }

  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
