import type { LoggedRoutes, RouteLog, RouteLogEntry } from '../../src/routing/route-log.ts';

/** The route log in memory: what a compacted topic keeps, the latest entry per group. */
export class FakeRouteLog implements RouteLog {
  readonly entries: RouteLogEntry[] = [];
  failing = false;
  /** What a read rejects with, as KafkaRouteLog does when the log cannot be read within its deadline. */
  readFailure: Error | undefined;
  reads = 0;
  /** Set by `delay`: an append of this group waits for the returned release (a slow acks=all write). */
  #delayed: { group: string; until: Promise<void> } | undefined;

  /** Set by `delayRead`: the next read waits for the returned release (a slow read of the log). */
  #readDelay: Promise<void> | undefined;

  /** The next read answers only once the returned function is called. */
  delayRead(): () => void {
    let release!: () => void;
    this.#readDelay = new Promise<void>((resolve) => (release = resolve));
    return release;
  }

  /** The next append of `group` is acknowledged only once the returned function is called. */
  delay(group: string): () => void {
    let release!: () => void;
    this.#delayed = { group, until: new Promise<void>((resolve) => (release = resolve)) };
    return release;
  }

  async append(entries: readonly RouteLogEntry[]): Promise<void> {
    if (this.failing) throw new Error('route log unreachable');
    const delayed = this.#delayed;
    if (delayed && entries.some((e) => e.group === delayed.group)) {
      this.#delayed = undefined;
      await delayed.until;
    }
    this.entries.push(...entries);
  }

  async read(topic: string): Promise<LoggedRoutes> {
    this.reads++;
    const delay = this.#readDelay;
    this.#readDelay = undefined;
    await delay;
    if (this.readFailure) throw this.readFailure;
    const routes = new Map<string, number>();
    for (const e of this.entries) {
      if (e.topic !== topic) continue;
      if (e.partition === null) routes.delete(e.group);
      else routes.set(e.group, e.partition);
    }
    return { routes, buckets: this.entries.findLast((e) => e.topic === topic)?.buckets };
  }
}
