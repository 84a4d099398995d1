import { ReplyError } from 'ioredis';
import { SidecarError } from '../errors/sidecar-error.ts';

/** A route made without Redis, to be recorded there when it returns. */
export interface ProvisionalRoute {
  topic: string;
  group: string;
  hash: number;
  partition: number;
}

/**
 * Whether an error means "Redis is out of reach" (connection refused or lost, offline, timed out), as
 * opposed to Redis answering with an error or a problem of the request itself, which degrade nothing.
 */
export const isRedisUnreachable = (err: unknown): boolean => !(err instanceof ReplyError) && !(err instanceof SidecarError);

/**
 * Bookkeeping of the degraded mode: on or off, and the routes to record once Redis answers again.
 * Routes made while degraded are recorded before the router trusts Redis again, so a group routed by
 * consistent hashing keeps its partition unless another replica mapped it first.
 */
export class DegradedMode {
  #since: number | undefined;
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

  remember(route: ProvisionalRoute): void {
    this.#provisional.set(`${route.topic}\u0000${route.group}`, route);
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
    return true;
  }
}
