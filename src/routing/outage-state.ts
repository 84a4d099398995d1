/** Whether this replica is routing without the store (degraded mode), and since when (wall clock, for logs). */
export class OutageState {
  #since: number | undefined;

  get active(): boolean {
    return this.#since !== undefined;
  }

  get since(): number | undefined {
    return this.#since;
  }

  /** True when this call began the outage (false when it was already on). */
  enter(now = Date.now()): boolean {
    if (this.#since !== undefined) return false;
    this.#since = now;
    return true;
  }

  /** True when this call ended the outage. */
  leave(): boolean {
    if (this.#since === undefined) return false;
    this.#since = undefined;
    return true;
  }
}
