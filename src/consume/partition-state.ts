import type { StoredBlock } from './blocked-store.ts';
import type { Delivery } from './delivery.ts';
import type { GroupQueue } from './group-queue.ts';
import type { OffsetTracker } from './offset-tracker.ts';
import type { BlockedGroup } from '../protocol/subscriptions.ts';

/** What the dispatcher holds of one partition during one holding of it (a batch held under one assignment epoch). */
export class PartitionState {
  readonly groups = new Map<string | null, GroupQueue>();
  /** Groups of this partition that are ready, taking their lease, delivering, dead-lettering or in backoff. */
  busy = 0;
  buffered = 0;
  /** Deliveries and dead-letter writes of this partition under way. */
  running = 0;
  /**
   * Deliveries may start: the partition's batch is held by a handler of the current assignment, so the
   * consumer cannot let the partition go before they settle. Ready groups of a closed partition wait.
   */
  open = false;
  fenced = false;
  released = false;
  waiters: Array<() => void> = [];
  /** Busy groups waiting long for their next attempt (GroupDispatcher's LONG_WAIT_MS): each has its `retryAt`. */
  retryWaits = 0;
  /** Resolved once the busy groups, if any, all wait long (GroupDispatcher.whenQuietOrWaiting). */
  lullWaiters: Array<() => void> = [];
  /** Resolved once nothing of this (released) partition state runs any more. */
  settleWaiters: Array<() => void> = [];
  /** Groups found blocked by an earlier owner: their head blocks again at once when it is that same head. */
  restored = new Map<string | null, StoredBlock>();
  /** Offsets an admin skipped that the commit had not passed when this holding began: done as they are fetched. */
  skipped = new Set<bigint>();
  readonly partition: number;
  readonly tracker: OffsetTracker;
  /** The owner id this holding's groups take their leases with (the replica and its assignment epoch). */
  readonly leaseOwner: string;

  constructor(partition: number, tracker: OffsetTracker, leaseOwner: string) {
    this.partition = partition;
    this.tracker = tracker;
    this.leaseOwner = leaseOwner;
  }
}

/** A blocked group as the admin API and status show it. */
export const blockedView = (queue: GroupQueue, head: Delivery): BlockedGroup => ({
  partition: queue.partition,
  group: queue.group,
  offsets: head.records.map((r) => r.offset.toString()),
  attempt: head.attempt,
  error: queue.lastError,
});
