import type { BlockedGroup } from '../protocol/admin.ts';
import type { ConsumedRecord } from './consumer-engine.ts';
import { groupOf, type Delivery, type DeliveryResult } from './delivery.ts';
import { GroupQueue } from './group-queue.ts';
import { OffsetTracker } from './offset-tracker.ts';
import { retryDelayMs, type BackoffPolicy } from './retry-backoff.ts';
import type { OnExhausted } from './subscriptions.ts';

/** The dead-letter topic refused the records for good (too large, invalid group): retrying cannot help. */
export class DeadLetterRejected extends Error {
  override name = 'DeadLetterRejected';
}

export interface DispatchPolicy extends BackoffPolicy {
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
}

export interface DispatchPorts {
  /** One POST to the endpoint; resolves with the outcome, never rejects. */
  deliver(delivery: Delivery): Promise<DeliveryResult>;
  /**
   * Writes the delivery's records to the dead-letter topic; rejects when that failed: it is tried again,
   * unless the error is a `DeadLetterRejected` (it can never succeed), which blocks the group instead.
   */
  deadLetter(delivery: Delivery, lastError: string): Promise<void>;
  /** Runs `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
  now(): number;
  random(): number;
  observer: DispatchObserver;
}

class PartitionState {
  readonly groups = new Map<string | null, GroupQueue>();
  /** Groups of this partition that are ready, delivering, dead-lettering or in backoff. */
  busy = 0;
  buffered = 0;
  fenced = false;
  released = false;
  waiters: Array<() => void> = [];
  readonly partition: number;
  readonly tracker: OffsetTracker;

  constructor(partition: number, tracker: OffsetTracker) {
    this.partition = partition;
    this.tracker = tracker;
  }
}

const blockedView = (queue: GroupQueue, head: Delivery): BlockedGroup => ({
  partition: queue.partition,
  group: queue.group,
  offsets: head.records.map((r) => r.offset.toString()),
  attempt: head.attempt,
  error: queue.lastError,
});

const BUSY = new Set(['ready', 'delivering', 'dead-lettering', 'backoff']);

/**
 * The ordering core of one subscription: per-partition FIFO queues per MessageGroup, at most one delivery in
 * flight per group, at most `maxInFlightGroups` in flight overall, retries with backoff, and what happens when
 * attempts run out. Offsets become committable only once done, lowest first.
 */
export class GroupDispatcher {
  readonly #policy: DispatchPolicy;
  readonly #ports: DispatchPorts;
  readonly #partitions = new Map<number, PartitionState>();
  /** Groups waiting for a slot, oldest first; entries whose phase moved on are skipped when popped. */
  #ready: GroupQueue[] = [];
  #readyFirst = 0;
  #inFlight = 0;

  constructor(policy: DispatchPolicy, ports: DispatchPorts) {
    this.#policy = policy;
    this.#ports = ports;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Hands fetched records of `partition` over; `next` is the offset after them. */
  add(partition: number, records: readonly ConsumedRecord[], next: bigint): void {
    let state = this.#partitions.get(partition);
    if (!state) {
      state = new PartitionState(partition, new OffsetTracker(records[0]?.offset ?? next));
      this.#partitions.set(partition, state);
    }
    state.tracker.add(
      records.map((r) => r.offset),
      next,
    );
    for (const record of records) {
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

  /** Starts nothing new for `partition`: pending retries are cancelled; in-flight deliveries run to their end. */
  fence(partition: number): void {
    const state = this.#partitions.get(partition);
    if (!state || state.fenced) return;
    state.fenced = true;
    for (const group of state.groups.values()) {
      if (group.phase === 'ready' || group.phase === 'backoff') {
        group.cancelTimer?.();
        group.cancelTimer = undefined;
        this.#setPhase(state, group, 'idle');
      }
    }
  }

  /** Forgets `partition` (after a rebalance the engine fetches it again from the committed offset). */
  release(partition: number): void {
    const state = this.#partitions.get(partition);
    if (!state) return;
    this.fence(partition);
    state.released = true;
    this.#partitions.delete(partition);
    this.#wake(state);
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

  /** Admin: sends a blocked group's head again, with a fresh round of attempts. */
  retryBlocked(partition: number, group: string | null): BlockedGroup | undefined {
    return this.#unblock(partition, group, (state, queue, head) => {
      head.attempt = 1;
      this.#makeReady(state, queue);
    });
  }

  /** Admin: gives up a blocked group's head (its offsets count as done) and lets the group go on. */
  skipBlocked(partition: number, group: string | null): BlockedGroup | undefined {
    return this.#unblock(partition, group, (state, queue, head) => {
      this.#ports.observer.skipped(head);
      this.#complete(state, queue);
    });
  }

  /** Applies `move` to a blocked group's head; undefined when that group is not blocked here. */
  #unblock(partition: number, group: string | null, move: (state: PartitionState, queue: GroupQueue, head: Delivery) => void): BlockedGroup | undefined {
    const state = this.#partitions.get(partition);
    const queue = state?.groups.get(group);
    if (!state || state.fenced || queue?.phase !== 'blocked' || !queue.head) return undefined;
    const head = queue.head;
    const before = blockedView(queue, head);
    move(state, queue, head);
    this.#pump();
    return before;
  }

  #setPhase(state: PartitionState, group: GroupQueue, phase: GroupQueue['phase']): void {
    const wasBusy = BUSY.has(group.phase);
    const isBusy = BUSY.has(phase);
    group.phase = phase;
    if (wasBusy && !isBusy) {
      state.busy--;
      if (state.busy === 0) this.#wake(state);
    } else if (!wasBusy && isBusy) state.busy++;
  }

  #wake(state: PartitionState): void {
    const waiters = state.waiters;
    state.waiters = [];
    for (const resolve of waiters) resolve();
  }

  #makeReady(state: PartitionState, group: GroupQueue): void {
    this.#setPhase(state, group, 'ready');
    this.#ready.push(group);
  }

  #nextReady(): GroupQueue | undefined {
    while (this.#readyFirst < this.#ready.length) {
      const group = this.#ready[this.#readyFirst++]!;
      if (group.phase === 'ready' && this.#partitions.get(group.partition)?.groups.get(group.group) === group) return group;
    }
    this.#ready = [];
    this.#readyFirst = 0;
    return undefined;
  }

  #pump(): void {
    while (this.#inFlight < this.#policy.maxInFlightGroups) {
      const group = this.#nextReady();
      if (!group) break;
      this.#start(this.#partitions.get(group.partition)!, group);
    }
    if (this.#readyFirst > 1024 && this.#readyFirst * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyFirst);
      this.#readyFirst = 0;
    }
  }

  #start(state: PartitionState, group: GroupQueue): void {
    const delivery = group.head ?? group.takeHead(this.#policy.batchMaxMessages);
    this.#setPhase(state, group, 'delivering');
    this.#inFlight++;
    const started = this.#ports.now();
    void this.#ports.deliver(delivery).then((result) => this.#settled(state, group, delivery, result, started));
  }

  #settled(state: PartitionState, group: GroupQueue, delivery: Delivery, result: DeliveryResult, started: number): void {
    this.#inFlight--;
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
        const wait = retryDelayMs(delivery.attempt, this.#policy, this.#ports.random, result.retryAfterMs);
        this.#ports.observer.failed(delivery, result.error, wait);
        this.#backoff(state, group, wait, () => {
          delivery.attempt++;
          this.#makeReady(state, group);
        });
      }
    }
    this.#pump();
  }

  #backoff(state: PartitionState, group: GroupQueue, ms: number, then: () => void): void {
    this.#setPhase(state, group, 'backoff');
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
    this.#ports.deadLetter(delivery, error).then(
      () => {
        this.#inFlight--;
        this.#ports.observer.deadLettered(delivery, error);
        this.#complete(state, group);
        this.#pump();
      },
      (err: unknown) => {
        this.#inFlight--;
        this.#ports.observer.deadLetterFailed(delivery, err);
        // The group must not pass a message that is neither delivered nor dead-lettered: try the write again,
        // or, when it can never succeed, block the group for an admin (rather than retry forever).
        if (state.fenced) this.#setPhase(state, group, 'idle');
        else if (err instanceof DeadLetterRejected) {
          group.lastError = `${error}; dead-letter write rejected: ${err.message}`;
          this.#setPhase(state, group, 'blocked');
          this.#ports.observer.blocked(delivery, group.lastError);
        } else this.#backoff(state, group, retryDelayMs(delivery.attempt, this.#policy, this.#ports.random), () => this.#exhausted(state, group, delivery));
        this.#pump();
      },
    );
  }

  /** The head is done (delivered, dead-lettered or skipped): its offsets may be committed; the group goes on. */
  #complete(state: PartitionState, group: GroupQueue): void {
    const head = group.head!;
    group.head = undefined;
    group.lastError = undefined;
    if (state.released) return;
    for (const record of head.records) state.tracker.markDone(record.offset);
    state.buffered -= head.records.length;
    if (group.queued > 0 && !state.fenced) this.#makeReady(state, group);
    else {
      this.#setPhase(state, group, 'idle');
      if (group.queued === 0) state.groups.delete(group.group);
    }
  }
}
