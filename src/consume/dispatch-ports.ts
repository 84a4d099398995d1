import type { Delivery, DeliveryResult } from './delivery.ts';
import type { LeaseGate, LeaseWaitReason } from './delivery-leases.ts';
import type { OnExhausted } from './subscriptions.ts';

/** The dead-letter topic refused the records for good (too large, invalid group): retrying cannot help. */
export class DeadLetterRejected extends Error {
  override name = 'DeadLetterRejected';
}

export interface DispatchPolicy {
  /** Backoff between attempts (src/retry): from this, doubling, up to `retryBackoffMaxMs`; an endpoint's Retry-After is a floor. */
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  maxInFlightGroups: number;
  batchMaxMessages: number;
  maxAttempts: number;
  onExhausted: OnExhausted;
}

/** Hooks for metrics and logs; the dispatcher itself does no I/O. */
export interface DispatchObserver {
  delivered(delivery: Delivery, ms: number): void;
  failed(delivery: Delivery, error: string, retryInMs: number | undefined): void;
  deadLettered(delivery: Delivery, error: string): void;
  deadLetterFailed(delivery: Delivery, err: unknown): void;
  blocked(delivery: Delivery, error: string): void;
  skipped(delivery: Delivery): void;
  /** The group's next delivery waits: another replica holds its lease, or the lease store cannot be reached. */
  leaseWait(delivery: Delivery, reason: LeaseWaitReason): void;
}

export interface DispatchPorts {
  /** One POST to the endpoint; resolves with the outcome, never rejects. */
  deliver(delivery: Delivery): Promise<DeliveryResult>;
  /**
   * Writes the delivery's records to the dead-letter topic; rejects when that failed: it is tried again,
   * unless the error is a `DeadLetterRejected` (it can never succeed), which blocks the group instead.
   */
  deadLetter(delivery: Delivery, lastError: string): Promise<void>;
  /** A group is delivered only while this replica holds its lease: never at the endpoint from two replicas at once. */
  leases: LeaseGate;
  /** Runs `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
  now(): number;
  random(): number;
  observer: DispatchObserver;
}
