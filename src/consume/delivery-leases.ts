import { StoreUnreachableError } from '../errors/store-errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { GroupLeaseStore, LeasedGroup } from './group-lease-store.ts';

/**
 * Why a group may not be delivered now: another replica holds its lease, the lease store cannot be reached
 * (the Redis adapter says so from its connection's state), or it answered with an error (busy, refused).
 */
export type LeaseWaitReason = 'held_elsewhere' | 'store_unreachable' | 'store_failed';
type StoreFailure = Exclude<LeaseWaitReason, 'held_elsewhere'>;

/**
 * Whether a delivery of a group may start now; if not, when to ask again, and (held elsewhere) how long the other
 * owner's lease has left unless it gives it up first.
 */
export type LeaseAnswer =
  { held: true } | { held: false; reason: StoreFailure; retryInMs: number } | { held: false; reason: 'held_elsewhere'; retryInMs: number; heldForMs: number };

/** What the dispatcher needs of the leases: one group is at the endpoint from one replica (and epoch) at a time. */
export interface LeaseGate {
  /** The owner id deliveries of a partition taken now hold their leases with (this replica and its assignment epoch). */
  owner(): string;
  /** Held: a delivery may start (answered at once when the lease is fresh, so the common case costs no round trip). */
  ensure(owner: string, partition: number, group: string | null): LeaseAnswer | Promise<LeaseAnswer>;
  /** The group went idle (or blocked): its lease is given up. */
  release(owner: string, partition: number, group: string | null): void;
}

export interface LeasePolicy {
  /** How long a lease lives unless renewed. */
  ttlMs: number;
  /** A delivery starts only with this much of its lease left (ack_timeout plus a margin), so the lease outlives it. */
  minRemainingMs: number;
  renewEveryMs: number;
}

/**
 * A delivery ends within ack_timeout. It starts only with ack_timeout + 2 s of lease left, renewals every 2 s
 * keep the lease at ack_timeout + 10 s, so about 8 s of lost renewals (Redis unreachable) pass before new
 * deliveries pause, and none outlives its lease.
 */
export const leasePolicy = (ackTimeoutMs: number): LeasePolicy => ({ ttlMs: ackTimeoutMs + 10_000, minRemainingMs: ackTimeoutMs + 2000, renewEveryMs: 2000 });

/** How soon a group waiting for another owner's lease (or for the store) asks again, at most. */
const RECHECK_MS = 1000;

const HELD: LeaseAnswer = { held: true };

interface Lease extends LeasedGroup {
  owner: string;
  /** Local clock: the lease was renewed when the request was sent, so it lives at least until then + ttl. */
  until: number;
}

interface Waiting extends LeasedGroup {
  owner: string;
  key: string;
  resolve(answer: LeaseAnswer): void;
}

export interface LeaseClock {
  now(): number;
  setTimer(fn: () => void, ms: number): () => void;
}

const keyOf = (owner: string, partition: number, group: string | null) => `${owner}\n${partition}\n${JSON.stringify(group)}`;

function byOwner<T extends { owner: string }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const list = out.get(item.owner);
    if (list) list.push(item);
    else out.set(item.owner, [item]);
  }
  return out;
}

/**
 * The delivery leases of one subscription on this replica. A group's lease is taken when the group becomes
 * active (its first delivery), renewed for every held lease in one store call every `renewEveryMs`, and
 * released when the group goes idle: a store round trip per group activation, not per message. Takes and
 * releases asked for in the same turn of the event loop go in one call. Any store failure means no lease:
 * the group waits (it is neither delivered nor skipped) and asks again.
 */
export class DeliveryLeases implements LeaseGate {
  readonly #store: GroupLeaseStore;
  readonly #subscription: string;
  readonly #policy: LeasePolicy;
  readonly #clock: LeaseClock;
  readonly #owner: () => string;
  readonly #log: Logger;
  readonly #held = new Map<string, Lease>();
  /** Released, not yet sent: a group active again before the call keeps its lease. */
  readonly #releasing = new Map<string, Lease>();
  #waiting: Waiting[] = [];
  readonly #calls = new Set<Promise<void>>();
  #cancelRenew: (() => void) | undefined;
  #unreachable = false;

  constructor(deps: { store: GroupLeaseStore; subscription: string; policy: LeasePolicy; clock: LeaseClock; owner: () => string; log: Logger }) {
    this.#store = deps.store;
    this.#subscription = deps.subscription;
    this.#policy = deps.policy;
    this.#clock = deps.clock;
    this.#owner = deps.owner;
    this.#log = deps.log;
  }

  owner(): string {
    return this.#owner();
  }

  /** Leases held (or released and not yet sent). */
  get held(): number {
    return this.#held.size + this.#releasing.size;
  }

  ensure(owner: string, partition: number, group: string | null): LeaseAnswer | Promise<LeaseAnswer> {
    const key = keyOf(owner, partition, group);
    const lease = this.#held.get(key) ?? this.#releasing.get(key);
    if (lease && this.#releasing.delete(key)) this.#held.set(key, lease);
    if (lease && lease.until - this.#clock.now() >= this.#policy.minRemainingMs) return HELD;
    return new Promise((resolve) => {
      this.#waiting.push({ owner, partition, group, key, resolve });
      if (this.#waiting.length === 1) queueMicrotask(() => this.#track(this.#takeWaiting()));
    });
  }

  release(owner: string, partition: number, group: string | null): void {
    const key = keyOf(owner, partition, group);
    const lease = this.#held.get(key);
    if (!lease) return;
    this.#held.delete(key);
    this.#releasing.set(key, lease);
    if (this.#releasing.size === 1) queueMicrotask(() => this.#track(this.#sendReleases()));
  }

  /** Resolves once every take, renewal and release sent so far has been answered (or failed). */
  async settled(): Promise<void> {
    while (this.#calls.size > 0) await Promise.all(this.#calls);
  }

  #track(call: Promise<void>): void {
    this.#calls.add(call);
    void call.finally(() => this.#calls.delete(call));
  }

  async #takeWaiting(): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = [];
    await this.#take(waiting, (w, left, sent) => {
      if (typeof left === 'string') w.resolve({ held: false, reason: left, retryInMs: RECHECK_MS });
      else if (left > 0) w.resolve({ held: false, reason: 'held_elsewhere', retryInMs: Math.min(left, RECHECK_MS), heldForMs: left });
      else {
        const lease = this.#held.get(w.key);
        if (lease) lease.until = Math.max(lease.until, sent + this.#policy.ttlMs);
        else this.#held.set(w.key, { owner: w.owner, partition: w.partition, group: w.group, until: sent + this.#policy.ttlMs });
        this.#scheduleRenewal();
        w.resolve(HELD);
      }
    });
  }

  /**
   * Takes (or renews) the leases of `items`, one store call per owner. `answer` gets, per item, the ms left on
   * another owner's lease (0: held now, for ttl from `sent`), or how the store call failed.
   */
  async #take<T extends LeasedGroup & { owner: string }>(
    items: readonly T[],
    answer: (item: T, left: number | StoreFailure, sent: number) => void,
  ): Promise<void> {
    await Promise.all(
      [...byOwner(items)].map(async ([owner, groups]) => {
        const sent = this.#clock.now();
        let left: number[] | StoreFailure;
        try {
          left = await this.#store.take(this.#subscription, owner, this.#policy.ttlMs, groups);
          this.#reachable(true);
        } catch (err) {
          this.#reachable(false, err);
          left = err instanceof StoreUnreachableError ? 'store_unreachable' : 'store_failed';
        }
        groups.forEach((item, i) => answer(item, typeof left === 'string' ? left : (left[i] ?? 1), sent));
      }),
    );
  }

  async #sendReleases(): Promise<void> {
    const leases = [...this.#releasing.values()];
    this.#releasing.clear();
    await Promise.all(
      [...byOwner(leases)].map(([owner, groups]) =>
        this.#store.release(this.#subscription, owner, groups).catch((err: unknown) =>
          // Not an outage worth more: the lease runs out by itself, and the next owner waits at most that long.
          this.#log.debug('delivery leases not released; they expire by themselves', { subscription: this.#subscription, leases: groups.length, err }),
        ),
      ),
    );
  }

  #scheduleRenewal(): void {
    if (this.#cancelRenew) return;
    this.#cancelRenew = this.#clock.setTimer(() => {
      this.#cancelRenew = undefined;
      this.#track(this.#renew());
    }, this.#policy.renewEveryMs);
  }

  async #renew(): Promise<void> {
    await this.#take([...this.#held.values()], (lease, left, sent) => {
      // The store failed: held leases run down; a delivery starts only while enough of its lease is left.
      if (typeof left === 'string') return;
      if (left === 0) {
        lease.until = Math.max(lease.until, sent + this.#policy.ttlMs);
        return;
      }
      // It expired (renewals failed for longer than its life) and another owner took it: the group waits for
      // it before its next delivery.
      lease.until = 0;
      this.#log.warn('a delivery lease was lost to another replica; the group waits for it', {
        subscription: this.#subscription,
        partition: lease.partition,
        messageGroup: lease.group,
      });
    });
    if (this.#held.size > 0) this.#scheduleRenewal();
  }

  /** Logs the store becoming unreachable, and reachable again, once per change. */
  #reachable(now: boolean, err?: unknown): void {
    if (now === !this.#unreachable) return;
    this.#unreachable = !now;
    if (now) this.#log.info('delivery leases reachable again; deliveries go on', { subscription: this.#subscription });
    else
      this.#log.warn('delivery leases cannot be taken or renewed (Redis unreachable or failing): deliveries of groups wait until it answers', {
        subscription: this.#subscription,
        err,
      });
  }
}
