import { CodedError } from './coded-error.ts';

/**
 * Failures of the shared store (Redis) as the core sees them. The adapter decides which one a failure is,
 * from the connection's state and the client's error classes; anything else it lets through unchanged, so
 * a programming error stays a 500 and is never mistaken for an outage. Each carries the code (and so the
 * HTTP status) a request it fails is answered with.
 */

/** A failure of the store: ROUTING_UNAVAILABLE (503, retriable) unless the subclass says otherwise. */
export class StoreError extends CodedError {
  constructor(message: string, options: { cause?: unknown } = {}, code: 'ROUTING_UNAVAILABLE' | 'ROUTING_STATE_LOST' = 'ROUTING_UNAVAILABLE') {
    super(code, message, options);
  }
}

/** The store did not answer: its connection is down, or a command got no answer in time. */
export class StoreUnreachableError extends StoreError {
  override name = 'StoreUnreachableError';
  /**
   * True when the store is out of reach as a whole (connection down, or several commands in a row
   * unanswered), false when only this command went unanswered on a connection that otherwise works.
   */
  readonly outage: boolean;

  constructor(message: string, options: { outage: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.outage = options.outage;
  }
}

/** The store answered with an error (out of memory, read-only replica, a script error). Not an outage. */
export class StoreRefusedError extends StoreError {
  override name = 'StoreRefusedError';
}

/**
 * The store made the write, but fewer replicas than required acknowledged it in time: a failover now could
 * promote a replica that never saw it, so nothing may be produced on it yet. Not an outage (the store
 * answers); the same call succeeds once the replicas catch up, because a repeated route rewrites the mapping.
 */
export class StoreNotReplicatedError extends StoreError {
  override name = 'StoreNotReplicatedError';
}

/**
 * The store answered that it cannot serve the command now and will shortly: a Redis Cluster slot moving between
 * masters (ASK, TRYAGAIN, MOVED left over once the client's redirections ran out), a Cluster or master failing
 * over (CLUSTERDOWN, MASTERDOWN, READONLY from a demoted master), a node loading its data (LOADING), a script
 * still running (BUSY). Neither an outage (the store is reachable and says so) nor a defect: the request is
 * refused with a retriable 503, and nothing is done without the store (no degraded routing, no unchecked write).
 */
export class StoreBusyError extends StoreError {
  override name = 'StoreBusyError';
}

/**
 * The store no longer holds the topic's routing state the caller registered: its epoch is gone or another
 * (FLUSHALL, a restart without persistence, a failover to a replica that never had it). Nothing was written;
 * the caller stops assigning new groups of the topic until the state is rebuilt (src/routing/state-loss.ts).
 */
export class StoreStateLostError extends StoreError {
  override name = 'StoreStateLostError';

  constructor(message: string) {
    super(message, {}, 'ROUTING_STATE_LOST');
  }
}

/** New groups of the topic are on hold (a rebuild running, or routes an operator has not vouched for). Nothing was written. */
export class StoreOnHoldError extends StoreError {
  override name = 'StoreOnHoldError';
  readonly reason: string;

  constructor(message: string, reason: string) {
    super(message, {}, 'ROUTING_STATE_LOST');
    this.reason = reason;
  }
}
