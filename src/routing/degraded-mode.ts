/** A route made without Redis, to be recorded there when it returns. */
export interface ProvisionalRoute {
  topic: string;
  group: string;
  hash: number;
  partition: number;
}

/**
 * Bookkeeping of the degraded mode: on or off, and the routes to record once Redis answers again.
 * Routes made while degraded are recorded before the router trusts Redis again, so a group routed by
 * consistent hashing keeps its partition unless another replica mapped it first.
 */
export class DegradedMode {
  #since: number | undefined;
  #unrecorded = 0;
  readonly #provisional = new Map<string, ProvisionalRoute>();

  get active(): boolean {
    return this.#since !== undefined;
  }

  get since(): number | undefined {
    return this.#since;
  }

  enter(now = Date.now()): boolean {
    if (this.#since !== undefined) return false;
    this.#since = now;
    return true;
  }

  /**
   * Remembers a route to record later, up to `limit` routes: a long outage with endless new groups must
   * not grow memory without bound. Routes beyond it are not recorded (counted in `unrecorded`), so Redis
   * assigns those groups afresh when it returns.
   */
  remember(route: ProvisionalRoute, limit: number): void {
    if (this.#provisional.size >= limit) this.#unrecorded++;
    else this.#provisional.set(`${route.topic}\u0000${route.group}`, route);
  }

  /** Routes made while degraded that were not kept for recording (see `remember`). */
  get unrecorded(): number {
    return this.#unrecorded;
  }

  /** The routes still to record; the caller records them, then calls `leave`. */
  pending(): ProvisionalRoute[] {
    return [...this.#provisional.values()];
  }

  recorded(route: ProvisionalRoute): void {
    this.#provisional.delete(`${route.topic}\u0000${route.group}`);
  }

  leave(): boolean {
    if (this.#since === undefined || this.#provisional.size > 0) return false;
    this.#since = undefined;
    this.#unrecorded = 0;
    return true;
  }
}
