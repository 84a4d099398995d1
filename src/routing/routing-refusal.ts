import { SidecarError } from '../errors/sidecar-error.ts';

/** Why the router refused to route: the store is out of reach (degraded mode), or its replicas did not acknowledge the route. */
export type RefusalReason = 'outage' | 'replica_acks';

/**
 * A request the router refused (503 ROUTING_UNAVAILABLE, nothing written), carrying its reason so callers
 * count it without re-deriving why. Its log line is the periodic count of whoever refused it (`summarized`).
 */
export class RoutingRefusal extends SidecarError {
  readonly reason: RefusalReason;

  constructor(reason: RefusalReason, message: string, options: { retryAfterSeconds: number; cause?: unknown }) {
    super('ROUTING_UNAVAILABLE', message, { field: 'messages', summarized: true, ...options });
    this.name = 'RoutingRefusal';
    this.reason = reason;
  }
}
