import { errorMessage, SidecarError } from '../errors/sidecar-error.ts';
import { parseOffset, type HeldBefore, type StoredBlock } from './blocked-store.ts';
import type { ConsumedRecord } from './consumer-engine.ts';
import { groupOf, type Delivery, type DeliveryResult } from './delivery.ts';
import type { LeaseAnswer } from './delivery-leases.ts';
import { DeadLetterRejected, type DispatchPolicy, type DispatchPorts } from './dispatch-ports.ts';
import { GroupQueue } from './group-queue.ts';
import { OffsetTracker } from './offset-tracker.ts';
import { blockedView, PartitionState } from './partition-state.ts';
import { ReadyQueue } from './ready-queue.ts';
import { backoffMs, type Backoff } from '../retry/retry.ts';
import type { BlockedGroup } from '../protocol/subscriptions.ts';

const BUSY = new Set(['ready', 'leasing', 'delivering', 'dead-lettering', 'backoff']);
/**
 * A group waits long when its next attempt is at least this far off (a retry's backoff), or when another replica's
 * lease on it has that long left. A partition whose busy groups all wait long needs no held batch meanwhile.
 */
export const LONG_WAIT_MS = 1000;

/** The first offset of a stored block's head; undefined when it has none that parses. */
const headOf = (block: StoredBlock): bigint | undefined => parseOffset(block.offsets[0]);

/**
 * The 409 of an admin retry or skip that names a head (its first offset) other than the group's current one:
 * the head moved since the operator saw it (a retry delivered it, another call skipped it), so acting on
 * the current head would act on records nobody confirmed. Nothing is changed.
 */
export function headMoved(partition: number, group: string | null, asked: string, offsets: readonly string[]): SidecarError {
  return new SidecarError(
    'CONFLICT',
    `the head of MessageGroup ${JSON.stringify(group)} of partition ${partition} is offsets ${offsets.join(',')}, ` +
      `not the head at offset ${asked} the call named (it moved since, or the offset is mistyped); nothing was changed (look at the blocked groups again)`,
  );
}

/**
 * The ordering core of one subscription: per-partition FIFO queues per MessageGroup, at most one delivery in
 * flight per group, at most `maxInFlightGroups` in flight overall, retries with backoff, and what happens when
 * attempts run out. Offsets become committable only once done, lowest first.
 */
export class GroupDispatcher {
  readonly #policy: DispatchPolicy;
  readonly #backoffBounds: Backoff;
  readonly #ports: DispatchPorts;
  readonly #partitions = new Map<number, PartitionState>();
  /** Groups waiting for a slot, oldest first; entries whose phase moved on are skipped when popped. */
  readonly #ready = new ReadyQueue();
  #inFlight = 0;
  /** Released partition states with deliveries still running, by partition. */
  readonly #releasedRunning = new Map<number, Set<PartitionState>>();

  constructor(policy: DispatchPolicy, ports: DispatchPorts) {
    this.#policy = policy;
    this.#backoffBounds = { initialMs: policy.retryBackoffMs, maxMs: policy.retryBackoffMaxMs };
    this.#ports = ports;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Hands fetched records of `partition` over; `next` is the offset after them. Records it already holds (a
   * fetch again from the commit point, made so admin calls run inside a held batch) are dropped. `held` is what
   * earlier holdings left (blocked groups, skipped heads), taken with the first batch of a holding.
   */
  add(partition: number, fetched: readonly ConsumedRecord[], next: bigint, held?: HeldBefore): void {
    let state = this.#partitions.get(partition);
    if (!state) {
      state = new PartitionState(partition, new OffsetTracker(fetched[0]?.offset ?? next), this.#ports.leases.owner());
      if (held) {
        state.restored = new Map(held.blocks);
        state.skipped = new Set(held.skipped);
      }
      this.#partitions.set(partition, state);
    }
    const known = state.tracker.fetchedEnd;
    const records = fetched[0] !== undefined && fetched[0].offset < known ? fetched.filter((r) => r.offset >= known) : fetched;
    state.tracker.add(
      records.map((r) => r.offset),
      next,
    );
    for (const record of records) {
      // Skipped by an admin before the commit passed it: done, never sent (a restart must not undo a skip).
      if (state.skipped.delete(record.offset)) {
        state.tracker.markDone(record.offset);
        continue;
      }
      const key = groupOf(record);
      let group = state.groups.get(key);
      if (!group) {
        group = new GroupQueue(partition, key);
        state.groups.set(key, group);
      }
      group.push(record);
      state.buffered++;
      if (group.phase === 'idle' && !state.fenced) this.#makeReady(state, group);
    }
    this.#pump();
  }

  /** The offset to commit for `partition`, or undefined before anything was fetched. */
  committable(partition: number): bigint | undefined {
    return this.#partitions.get(partition)?.tracker.committable();
  }

  buffered(partition: number): number {
    return this.#partitions.get(partition)?.buffered ?? 0;
  }

  /** Offsets of `partition` held from the commit point on, including done ones behind an unfinished one. */
  tracked(partition: number): number {
    return this.#partitions.get(partition)?.tracker.tracked ?? 0;
  }

  /** The offset after everything fetched of `partition`, or undefined before anything was. */
  fetchedEnd(partition: number): bigint | undefined {
    return this.#partitions.get(partition)?.tracker.fetchedEnd;
  }

  /** Lets deliveries of `partition` start: its batch is held under the current assignment. */
  open(partition: number): void {
    const state = this.#partitions.get(partition);
    if (!state || state.fenced || state.open) return;
    state.open = true;
    for (const group of state.groups.values()) if (group.phase === 'ready') this.#ready.push(group);
    this.#pump();
  }

  /** Starts nothing more of `partition` until it is opened again (its held batch was let go). */
  close(partition: number): void {
    const state = this.#partitions.get(partition);
    if (state) state.open = false;
  }

  /** True when nothing of `partition` is in flight, waiting for a slot or backing off (blocked groups may wait). */
  quiescent(partition: number): boolean {
    return (this.#partitions.get(partition)?.busy ?? 0) === 0;
  }

  /** Resolves once `partition` is quiescent. */
  whenQuiescent(partition: number): Promise<void> {
    const state = this.#partitions.get(partition);
    if (!state || state.busy === 0) return Promise.resolve();
    return new Promise((resolve) => state.waiters.push(resolve));
  }

  /**
   * How long until the first retry of `partition` is due, when every busy group of it waits long (LONG_WAIT_MS: a
   * retry's backoff, another replica's lease): nothing of it is ready, taking a lease or being sent. Undefined
   * when something is, or nothing is busy. Its held batch can then be let go and the partition fetched again when
   * due (a lease is asked again every second, its holder may give it up early).
   */
  nextRetryIn(partition: number): number | undefined {
    const state = this.#partitions.get(partition);
    if (!state || state.busy === 0 || state.busy !== state.retryWaits) return undefined;
    let due = Infinity;
    for (const group of state.groups.values()) if (group.retryAt !== undefined && group.retryAt < due) due = group.retryAt;
    return Math.max(0, due - this.#ports.now());
  }

  /** Resolves once `partition` is quiescent or its busy groups all wait long (nextRetryIn). */
  whenQuietOrWaiting(partition: number): Promise<void> {
    const state = this.#partitions.get(partition);
    if (!state || state.busy === state.retryWaits) return Promise.resolve();
    return new Promise((resolve) => state.lullWaiters.push(resolve));
  }

  /** Starts nothing new for `partition`: pending retries are cancelled; in-flight deliveries run to their end. */
  fence(partition: number): void {
    const state = this.#partitions.get(partition);
    if (!state || state.fenced) return;
    state.fenced = true;
    state.open = false;
    for (const group of state.groups.values()) {
      if (group.phase === 'ready' || group.phase === 'backoff') {
        group.cancelTimer?.();
        group.cancelTimer = undefined;
        this.#setPhase(state, group, 'idle');
      }
    }
  }

  /**
   * Forgets `partition` (after a rebalance the engine fetches it again from the committed offset). Deliveries
   * still running for it are let finish; `whenSettled` tells when they have.
   */
  release(partition: number): void {
    const state = this.#partitions.get(partition);
    if (!state) return;
    this.fence(partition);
    state.released = true;
    this.#partitions.delete(partition);
    if (state.running > 0) {
      let states = this.#releasedRunning.get(partition);
      if (!states) this.#releasedRunning.set(partition, (states = new Set()));
      states.add(state);
    }
    this.#wake(state);
  }

  /**
   * Resolves once no delivery of an earlier (released) holding of `partition` is still running, so the
   * next holding cannot deliver a group while its delivery from before is still at the endpoint.
   */
  whenSettled(partition: number): Promise<void> {
    const states = [...(this.#releasedRunning.get(partition) ?? [])];
    return Promise.all(states.map((state) => new Promise<void>((resolve) => state.settleWaiters.push(resolve)))).then(() => undefined);
  }

  /** Deliveries and dead-letter writes still running for partitions let go. */
  get settling(): number {
    let n = 0;
    for (const states of this.#releasedRunning.values()) for (const state of states) n += state.running;
    return n;
  }

  partitions(): number[] {
    return [...this.#partitions.keys()];
  }

  /** Groups with a delivery at the endpoint or to the dead-letter topic, per partition. */
  inFlightGroups(partition: number): Array<string | null> {
    const groups = this.#partitions.get(partition)?.groups.values() ?? [];
    return [...groups].filter((g) => g.phase === 'delivering' || g.phase === 'dead-lettering').map((g) => g.group);
  }

  blockedGroups(): BlockedGroup[] {
    const out: BlockedGroup[] = [];
    for (const state of this.#partitions.values()) {
      for (const g of state.groups.values()) {
        if (g.phase !== 'blocked' || !g.head) continue;
        out.push(blockedView(g, g.head));
      }
    }
    return out;
  }

  /** The `n` groups holding the most fetched, undelivered records (the "hot group" signal). */
  hotGroups(n: number): Array<{ partition: number; group: string | null; backlog: number }> {
    const top: Array<{ partition: number; group: string | null; backlog: number }> = [];
    for (const state of this.#partitions.values()) {
      for (const g of state.groups.values()) {
        const backlog = g.backlog;
        if (backlog === 0 || (top.length === n && backlog <= top[n - 1]!.backlog)) continue;
        top.push({ partition: g.partition, group: g.group, backlog });
        top.sort((a, b) => b.backlog - a.backlog);
        if (top.length > n) top.pop();
      }
    }
    return top;
  }

  /**
   * Admin: sends a blocked group's head again, with a fresh round of attempts. `offset`, when given, is the
   * head's first offset as the caller saw it: a different current head throws a 409 (headMoved) and nothing changes.
   */
  retryBlocked(partition: number, group: string | null, offset?: string): BlockedGroup | undefined {
    return this.#unblock(partition, group, offset, (state, queue, head) => {
      head.attempt = 1;
      this.#makeReady(state, queue);
    });
  }

  /** Admin: gives up a blocked group's head (its offsets count as done) and lets the group go on. `offset`: as for retryBlocked. */
  skipBlocked(partition: number, group: string | null, offset?: string): BlockedGroup | undefined {
    return this.#unblock(partition, group, offset, (state, queue, head) => {
      this.#ports.observer.skipped(head);
      this.#complete(state, queue);
    });
  }

  /** A blocked group's head; undefined when that group is not blocked here; throws when its head is not at `offset`. */
  blockedHead(partition: number, group: string | null, offset?: string): BlockedGroup | undefined {
    return this.#blocked(partition, group, offset)?.view;
  }

  #blocked(partition: number, group: string | null, offset: string | undefined) {
    const state = this.#partitions.get(partition);
    const queue = state?.groups.get(group);
    if (!state || state.fenced || queue?.phase !== 'blocked' || !queue.head) return undefined;
    const view = blockedView(queue, queue.head);
    if (offset !== undefined && view.offsets[0] !== offset) throw headMoved(partition, group, offset, view.offsets);
    return { state, queue, head: queue.head, view };
  }

  /** Applies `move` to a blocked group's head; undefined when that group is not blocked here; throws when its head is not at `offset`. */
  #unblock(
    partition: number,
    group: string | null,
    offset: string | undefined,
    move: (state: PartitionState, queue: GroupQueue, head: Delivery) => void,
  ): BlockedGroup | undefined {
    const blocked = this.#blocked(partition, group, offset);
    if (!blocked) return undefined;
    move(blocked.state, blocked.queue, blocked.head);
    this.#pump();
    return blocked.view;
  }

  /** `retryAt`: the phase is a long wait (LONG_WAIT_MS) before another delivery attempt, due then. */
  #setPhase(state: PartitionState, group: GroupQueue, phase: GroupQueue['phase'], retryAt?: number): void {
    const wasBusy = BUSY.has(group.phase);
    const isBusy = BUSY.has(phase);
    group.phase = phase;
    if (group.leased && (phase === 'idle' || phase === 'blocked')) {
      group.leased = false;
      this.#ports.leases.release(state.leaseOwner, state.partition, group.group);
    }
    if (group.retryAt !== undefined) state.retryWaits--;
    group.retryAt = retryAt;
    if (retryAt !== undefined) state.retryWaits++;
    if (wasBusy && !isBusy) state.busy--;
    else if (!wasBusy && isBusy) state.busy++;
    if (state.busy === 0) this.#wake(state);
    else if (state.busy === state.retryWaits) this.#wakeLull(state);
  }

  /** A delivery or dead-letter write of `state` ended. */
  #ended(state: PartitionState): void {
    this.#inFlight--;
    state.running--;
    if (state.running > 0 || !state.released) return;
    const states = this.#releasedRunning.get(state.partition);
    states?.delete(state);
    if (states?.size === 0) this.#releasedRunning.delete(state.partition);
    const waiters = state.settleWaiters;
    state.settleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Quiescent, or let go: every waiter of the partition is woken. */
  #wake(state: PartitionState): void {
    const waiters = state.waiters;
    state.waiters = [];
    for (const resolve of waiters) resolve();
    this.#wakeLull(state);
  }

  #wakeLull(state: PartitionState): void {
    if (state.lullWaiters.length === 0) return;
    const waiters = state.lullWaiters;
    state.lullWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #makeReady(state: PartitionState, group: GroupQueue): void {
    this.#setPhase(state, group, 'ready');
    this.#ready.push(group);
  }

  /** Still ready, on an open partition, and still that partition's queue of the group. */
  #startable = (group: GroupQueue): boolean => {
    const state = this.#partitions.get(group.partition);
    return group.phase === 'ready' && state?.open === true && state.groups.get(group.group) === group;
  };

  #pump(): void {
    while (this.#inFlight < this.#policy.maxInFlightGroups) {
      const group = this.#ready.next(this.#startable);
      if (!group) break;
      this.#start(this.#partitions.get(group.partition)!, group);
    }
  }

  #start(state: PartitionState, group: GroupQueue): void {
    const stored = state.restored.get(group.group);
    const storedHead = stored === undefined ? undefined : headOf(stored);
    // A head below the stored one never reaches into it, so the stored head is met as a head of its own.
    const delivery = group.head ?? group.takeHead(this.#policy.batchMaxMessages, storedHead);
    if (stored !== undefined) {
      const first = delivery.records[0]!.offset;
      // Records of the group before its blocked head (delivered before, fetched again from the commit point) go
      // out as usual; the entry stays until the stored head comes up (or is passed: it is not fetched).
      if (storedHead === undefined || first >= storedHead) state.restored.delete(group.group);
      if (first === storedHead) {
        delivery.attempt = stored.attempt;
        group.lastError = stored.error;
        this.#setPhase(state, group, 'blocked');
        this.#ports.observer.blocked(delivery, stored.error ?? 'blocked before');
        return;
      }
    }
    this.#setPhase(state, group, 'leasing');
    this.#inFlight++;
    state.running++;
    const lease = this.#ports.leases.ensure(state.leaseOwner, state.partition, group.group);
    if (!(lease instanceof Promise)) this.#leased(state, group, delivery, lease);
    else
      void lease.then((answer) => {
        this.#leased(state, group, delivery, answer);
        this.#pump();
      });
  }

  /** Delivers once the group's lease is held; else the group waits (neither delivered nor done) and asks again. */
  #leased(state: PartitionState, group: GroupQueue, delivery: Delivery, lease: LeaseAnswer): void {
    if (lease.held) group.leased = true;
    if (!lease.held || state.fenced) {
      this.#ended(state);
      if (state.fenced) this.#setPhase(state, group, 'idle');
      else if (!lease.held) {
        this.#ports.observer.leaseWait(delivery, lease.reason);
        const long = lease.reason === 'held_elsewhere' && lease.heldForMs >= LONG_WAIT_MS;
        this.#backoff(state, group, lease.retryInMs, () => this.#makeReady(state, group), long);
      }
      return;
    }
    this.#setPhase(state, group, 'delivering');
    const started = this.#ports.now();
    // A port that rejects (a defect, or a request Node refused to build) is a failed attempt like any other: the
    // group retries, and no rejection is left unhandled to end the process.
    void this.#ports.deliver(delivery).then(
      (result) => this.#settled(state, group, delivery, result, started),
      (err: unknown) => this.#settled(state, group, delivery, { ok: false, error: errorMessage(err) }, started),
    );
  }

  #settled(state: PartitionState, group: GroupQueue, delivery: Delivery, result: DeliveryResult, started: number): void {
    this.#ended(state);
    if (result.ok) {
      this.#ports.observer.delivered(delivery, this.#ports.now() - started);
      this.#complete(state, group);
    } else {
      group.lastError = result.error;
      if (state.fenced) {
        // The partition is being let go: its next owner delivers these again; dead-lettering here would double it.
        this.#ports.observer.failed(delivery, result.error, undefined);
        this.#setPhase(state, group, 'idle');
      } else if (delivery.attempt >= this.#policy.maxAttempts) {
        this.#ports.observer.failed(delivery, result.error, undefined);
        this.#exhausted(state, group, delivery);
      } else {
        const wait = backoffMs(this.#backoffBounds, delivery.attempt, this.#ports.random, result.retryAfterMs);
        this.#ports.observer.failed(delivery, result.error, wait);
        this.#backoff(
          state,
          group,
          wait,
          () => {
            delivery.attempt++;
            this.#makeReady(state, group);
          },
          wait >= LONG_WAIT_MS,
        );
      }
    }
    this.#pump();
  }

  /**
   * Waits `ms`, then `then`. `long`: a long wait (LONG_WAIT_MS) before another delivery attempt, which waits for
   * its partition to be open. Not a dead-letter write (it starts at once: its partition stays held meanwhile), nor
   * a wait for an unreachable lease store (every partition waits for it; fetching them again would gain nothing).
   */
  #backoff(state: PartitionState, group: GroupQueue, ms: number, then: () => void, long = false): void {
    this.#setPhase(state, group, 'backoff', long ? this.#ports.now() + ms : undefined);
    group.cancelTimer = this.#ports.setTimer(() => {
      group.cancelTimer = undefined;
      then();
      this.#pump();
    }, ms);
  }

  #exhausted(state: PartitionState, group: GroupQueue, delivery: Delivery): void {
    const error = group.lastError ?? 'unknown error';
    if (this.#policy.onExhausted === 'block') {
      this.#setPhase(state, group, 'blocked');
      this.#ports.observer.blocked(delivery, error);
      return;
    }
    this.#setPhase(state, group, 'dead-lettering');
    this.#inFlight++;
    state.running++;
    this.#ports.deadLetter(delivery, error).then(
      () => {
        this.#ended(state);
        this.#ports.observer.deadLettered(delivery, error);
        this.#complete(state, group);
        this.#pump();
      },
      (err: unknown) => {
        this.#ended(state);
        this.#ports.observer.deadLetterFailed(delivery, err);
        // The group must not pass a message that is neither delivered nor dead-lettered: try the write again,
        // or, when it can never succeed, block the group for an admin (rather than retry forever).
        if (state.fenced) this.#setPhase(state, group, 'idle');
        else if (err instanceof DeadLetterRejected) {
          group.lastError = `${error}; dead-letter write rejected: ${err.message}`;
          this.#setPhase(state, group, 'blocked');
          this.#ports.observer.blocked(delivery, group.lastError);
        } else this.#backoff(state, group, backoffMs(this.#backoffBounds, delivery.attempt, this.#ports.random), () => this.#exhausted(state, group, delivery));
        this.#pump();
      },
    );
  }

  /** The head is done (delivered, dead-lettered or skipped): its offsets may be committed; the group goes on. */
  #complete(state: PartitionState, group: GroupQueue): void {
    const head = group.head!;
    group.head = undefined;
    group.lastError = undefined;
    if (state.released) {
      this.#setPhase(state, group, 'idle');
      return;
    }
    for (const record of head.records) state.tracker.markDone(record.offset);
    state.buffered -= head.records.length;
    if (group.queued > 0 && !state.fenced) this.#makeReady(state, group);
    else {
      this.#setPhase(state, group, 'idle');
      if (group.queued === 0) state.groups.delete(group.group);
    }
  }
}
