import { randomUUID } from 'node:crypto';
import { errorMessage, SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import { pause } from '../retry/retry.ts';
import { GroupSequencer } from '../sdk/group-sequencer.ts';
import { parseOffset, type BlockedStore, type HeldBefore, type StoredPartition } from './blocked-store.ts';
import { RebalanceStarted, type ConsumerEngine, type FetchedBatch } from './consumer-engine.ts';
import type { Delivery, DeliveryResult } from './delivery.ts';
import { DeliveryLeases, leasePolicy } from './delivery-leases.ts';
import type { DispatchObserver } from './dispatch-ports.ts';
import { GroupDispatcher, headMoved } from './group-dispatcher.ts';
import type { GroupLeaseStore } from './group-lease-store.ts';
import { OffsetCommitter } from './offset-committer.ts';
import { PartitionTimers } from './partition-timers.ts';
import { SettleWaker } from './settle-waker.ts';
import type { BlockedGroup, RunnerState, SubscriptionStatus } from '../protocol/subscriptions.ts';
import { lagOf, statusOf, type StatusSource } from './subscription-status.ts';
import type { Subscription } from './subscriptions.ts';

export interface RunnerLimits {
  /** Offsets tracked per partition (done ones behind an unfinished one included) above which its fetching pauses. */
  trackedRecords: number;
  commitIntervalMs: number;
}

export interface RunnerDeps {
  subscription: Subscription;
  engine: ConsumerEngine;
  deliver(delivery: Delivery): Promise<DeliveryResult>;
  deadLetter(delivery: Delivery, lastError: string): Promise<void>;
  /** Where blocked groups outlive this replica's hold on their partition. */
  blocked: BlockedStore;
  /** Where a group's delivery lease is held, so no two replicas deliver one group at once. */
  leases: GroupLeaseStore;
  /** This process, in lease owner ids (with the assignment epoch). */
  instanceId: string;
  /** Metrics hooks, called next to the runner's own counting. */
  observer: DispatchObserver;
  limits: RunnerLimits;
  log: Logger;
}

/** How often a held batch heartbeats (however its hold is split into waits), and a failed step is tried again. */
const HOLD_CHECK_MS = 1000;
/**
 * A long wait due within this is as good as due: the batch fetched again for it can arrive a moment before the
 * wait's own timer fires (two timers, set at different times for the same moment), and is held through it.
 */
const DUE_NOW_MS = 100;

/** Stored skip records with their offsets parsed (one that does not parse is left out). */
const parsedSkips = (skipped: ReadonlyMap<string, readonly string[]>): Map<string, bigint[]> =>
  new Map([...skipped].map(([first, heads]) => [first, heads.map(parseOffset).filter((o) => o !== undefined)]));

/** The skip records (first offsets) wholly below `from`: a commit there has passed them. */
const passedSkips = (skipped: ReadonlyMap<string, readonly bigint[]>, from: bigint): string[] =>
  [...skipped].filter(([, offsets]) => offsets.every((o) => o < from)).map(([first]) => first);
const TOPIC_RECHECK_MS = 5000;

/**
 * The session of one subscription (start, hold, rebalance, stop): feeds fetched batches to the dispatcher and
 * holds each batch until its partition is quiescent. Deliveries of a partition start only while one of its
 * batches is held under the current assignment (its epoch), so the consumer cannot let the partition go
 * before they settle: a rebalance waits for them, and they are committed before the partition moves. Admin
 * retries and skips go through the same gate: the partition is fetched again from its commit point, and the
 * delivery runs inside that held batch.
 */
export class SubscriptionRunner {
  readonly #deps: RunnerDeps;
  readonly #dispatcher: GroupDispatcher;
  readonly #committer: OffsetCommitter;
  readonly #leases: DeliveryLeases;
  #state: RunnerState = 'starting';
  #error: string | undefined;
  #assigned: number[] = [];
  /** Counts (re)joins: a batch held under an earlier epoch must neither be marked read nor committed. */
  #epoch = 0;
  /**
   * In lease owner ids beside the epoch: an admin stop and start builds a new runner in the same process, whose
   * epochs count from 0 again, while a delivery of the old one may still hold a lease.
   */
  readonly #id = randomUUID().slice(0, 8);
  readonly #paused = new Set<number>();
  readonly #holds = new Map<number, Promise<void>>();
  /** Partitions let go while their groups wait for a retry: fetched again from their commit point when it is due. */
  readonly #dueFetches = new PartitionTimers();
  #endOffsets = new Map<number, bigint>();
  #rebalancing = false;
  #stopping = false;
  /** Aborted by stop(), so waiting for a missing topic does not hold shutdown up. */
  readonly #stopped = new AbortController();
  #ticker: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  /** The stop under way: a second stop() (SIGTERM during an admin stop) waits for it rather than returning early. */
  #stop: Promise<void> | undefined;
  readonly counts = { delivered: 0, retried: 0, dead_lettered: 0, skipped: 0 };
  /** Admin calls take turns per partition (keyed by its number). */
  readonly #adminTurns = new GroupSequencer();

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    this.#committer = new OffsetCommitter(deps.engine, deps.subscription.topic, deps.subscription.name, deps.log);
    const { observer } = deps;
    const counts = this.counts;
    this.#leases = new DeliveryLeases({
      store: deps.leases,
      subscription: deps.subscription.name,
      policy: leasePolicy(deps.subscription.ackTimeoutMs),
      clock: {
        now: () => performance.now(),
        setTimer: (fn, ms) => {
          const timer = setTimeout(fn, ms).unref();
          return () => clearTimeout(timer);
        },
      },
      owner: () => `${deps.instanceId}/${this.#id}/${this.#epoch}`,
      log: deps.log,
    });
    this.#dispatcher = new GroupDispatcher(deps.subscription, {
      deliver: (d) => deps.deliver(d),
      deadLetter: (d, error) => deps.deadLetter(d, error),
      leases: this.#leases,
      setTimer: (fn, ms) => {
        const timer = setTimeout(fn, ms);
        return () => clearTimeout(timer);
      },
      now: () => performance.now(),
      random: Math.random,
      observer: {
        delivered: (d, ms) => {
          counts.delivered += d.records.length;
          observer.delivered(d, ms);
        },
        failed: (d, error, retryIn) => {
          if (retryIn !== undefined) counts.retried += d.records.length;
          observer.failed(d, error, retryIn);
        },
        deadLettered: (d, error) => {
          counts.dead_lettered += d.records.length;
          observer.deadLettered(d, error);
        },
        deadLetterFailed: (d, err) => observer.deadLetterFailed(d, err),
        blocked: (d, error) => {
          void this.#saveBlocked(d, error);
          observer.blocked(d, error);
        },
        skipped: (d) => {
          counts.skipped += d.records.length;
          observer.skipped(d);
        },
        leaseWait: (d, reason) => observer.leaseWait(d, reason),
      },
    });
  }

  get subscription(): Subscription {
    return this.#deps.subscription;
  }

  /** Consuming, and no crash since the last (re)join. */
  get ready(): boolean {
    return this.#state === 'running' && this.#error === undefined;
  }

  /** Starts in the background: a missing topic keeps the subscription not ready (and re-checked), never crashes. */
  start(): void {
    this.#starting = this.#startWhenTopicExists();
    let ticking = false;
    this.#ticker = setInterval(() => {
      // One tick at a time: a commit or Redis call stuck for longer than the interval must not pile ticks up.
      if (ticking) return;
      ticking = true;
      // Every step handles its own failures; one that does not (the consumer restarting under it) waits for the next tick.
      this.#tick()
        .catch((err: unknown) => this.#deps.log.warn('subscription tick failed; the next one tries again', { subscription: this.subscription.name, err }))
        .finally(() => (ticking = false));
    }, this.#deps.limits.commitIntervalMs);
    this.#ticker.unref();
  }

  async #startWhenTopicExists(): Promise<void> {
    const { engine, subscription, log } = this.#deps;
    while (!this.#stopping) {
      try {
        if (await engine.topicExists()) break;
        if (this.#state !== 'waiting-for-topic')
          log.warn('subscription waits for its topic to exist', { subscription: subscription.name, topic: subscription.topic });
        this.#state = 'waiting-for-topic';
        this.#error = `topic "${subscription.topic}" does not exist`;
      } catch (err) {
        this.#error = `Kafka: ${errorMessage(err)}`;
      }
      await pause(TOPIC_RECHECK_MS, this.#stopped.signal);
    }
    if (this.#stopping) return;
    this.#state = 'starting';
    this.#error = undefined;
    try {
      await engine.start({
        onBatch: (batch) => this.#onBatch(batch),
        onRebalance: () => this.#onRebalance(),
        onAssigned: (partitions) => this.#onAssigned(partitions),
        onCrash: ({ error, willRestart }) => {
          if (willRestart) {
            this.#error = `consumer crashed: ${errorMessage(error)}`;
            log.error('subscription consumer crashed; the consumer restarts it', { subscription: subscription.name, err: error });
            this.#onRebalance();
          } else this.#fail('consumer crashed and will not restart', error);
        },
      });
    } catch (err) {
      // The engine gave up after its own retries; nothing here would try again.
      this.#fail('could not start consuming', err);
      return;
    }
    // A crash during the start (a join refused) came first: its error stands, and a fatal one is stopping this.
    if (this.#stopping) return;
    this.#state = 'running';
    log.info('subscription consuming', { subscription: subscription.name, topic: subscription.topic, consumerGroup: subscription.consumerGroup });
  }

  /**
   * Consumption ended for good: the runner stops as an admin stop would, keeping the error, so status and
   * /readyz show it not ready and `subscriptions start` (which takes a stopped one) starts it again.
   */
  #fail(what: string, err: unknown): void {
    const { name } = this.subscription;
    const start = `ordered-sidecar subscriptions start ${name}`;
    this.#error = `${what}: ${errorMessage(err)}; fix the cause, then start it again (${start})`;
    this.#deps.log.error(`subscription ${what}; it stays stopped until started again once the cause is fixed`, {
      subscription: name,
      err,
      startWith: `${start} (POST /admin/v1/subscriptions/${name}/start)`,
    });
    // In-flight deliveries end within ack_timeout, as in a rebalance's drain.
    void this.stop(this.subscription.ackTimeoutMs + 1000);
  }

  /** Neither stopping nor rebalancing: new work may start. */
  #live(): boolean {
    return !this.#stopping && !this.#rebalancing;
  }

  async #onBatch(batch: FetchedBatch): Promise<void> {
    if (!this.#live()) return;
    const { partition } = batch;
    const dispatcher = this.#dispatcher;
    const epoch = this.#epoch;
    const current = () => epoch === this.#epoch && this.#live();
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const beat = { last: performance.now() };
    this.#holds.set(partition, hold);
    try {
      // Deliveries of an earlier holding of this partition, let go by a rejoin that did not wait for them,
      // settle before any of this one starts: a group is never at the endpoint twice at once.
      let rebalance = await this.#heartbeatUntil(batch, dispatcher.whenSettled(partition), current, beat);
      // The first batch of this holding starts at the committed offset (else it is fetched again from there);
      // groups an earlier owner (or this replica before a restart) left blocked stay blocked, and heads it
      // skipped stay skipped.
      let held: HeldBefore | undefined;
      if (rebalance === undefined && current() && dispatcher.fetchedEnd(partition) === undefined) {
        const from = await this.#startOfHolding(batch, current);
        if (from === undefined) return;
        held = await this.#loadHeld(partition, from);
        if (held === undefined) return;
      }
      if (current()) {
        this.#endOffsets.set(partition, batch.highWatermark);
        dispatcher.add(partition, batch.records, batch.nextOffset, held);
        dispatcher.open(partition);
      }
      // Held until quiescent, or until every busy group waits long for its next attempt: kafkajs's next fetch from
      // a broker waits for every batch of its last one, so a held batch also holds up the other partitions that
      // broker leads. The batch is then let go, and the partition fetched again when the first attempt is due.
      let lettingGo = false;
      while (rebalance === undefined && current() && !dispatcher.quiescent(partition)) {
        const dueIn = dispatcher.nextRetryIn(partition);
        lettingGo = dueIn !== undefined && dueIn > DUE_NOW_MS;
        if (lettingGo) break;
        // A wait about to end (this batch is the fetch again for it, come a moment early) is held through.
        const until = dueIn === undefined ? dispatcher.whenQuietOrWaiting(partition) : pause(dueIn + 1, this.#stopped.signal);
        rebalance = await this.#heartbeatUntil(batch, until, current, beat);
      }
      if (epoch !== this.#epoch) {
        // The partition was released under this handler (kafkajs rejoined from inside a fetch, without a
        // rebalance): the batch is neither marked read nor committed, so its records are fetched again from
        // the committed offset rather than skipped.
        this.#deps.log.warn('partition reassigned while its batch was held; the batch is fetched again from the committed offset', {
          subscription: this.subscription.name,
          partition,
        });
        return;
      }
      if (!current()) {
        await this.#letGo([partition], this.subscription.ackTimeoutMs + 1000, batch);
        if (rebalance) throw rebalance;
        return;
      }
      dispatcher.close(partition);
      await this.#commit([partition]);
      // Measured after the commit: a retry that fell due meanwhile is fetched for at once.
      if (lettingGo) this.#fetchAgainIn(partition, dispatcher.nextRetryIn(partition) ?? 0);
      batch.consumed(dispatcher.fetchedEnd(partition) ?? batch.nextOffset);
      this.#pauseIfFull(partition);
    } finally {
      if (this.#holds.get(partition) === hold) this.#holds.delete(partition);
      release();
    }
  }

  /**
   * Waits for `done` while `current()`, heartbeating every HOLD_CHECK_MS since `beat.last` (the hold's last
   * heartbeat: a hold made of many short waits still heartbeats on time); returns the rebalance a heartbeat
   * reported (everything is fenced then), else undefined.
   */
  async #heartbeatUntil(batch: FetchedBatch, done: Promise<unknown>, current: () => boolean, beat: { last: number }): Promise<RebalanceStarted | undefined> {
    const finished = new SettleWaker(done);
    while (current()) {
      await finished.wait(Math.max(1, beat.last + HOLD_CHECK_MS - performance.now()));
      if (!current()) return undefined;
      if (performance.now() - beat.last < HOLD_CHECK_MS) {
        if (finished.settled) return undefined;
        continue;
      }
      try {
        await batch.heartbeat();
      } catch (err) {
        if (err instanceof RebalanceStarted) {
          this.#onRebalance();
          return err;
        }
        // Anything but a rebalance (a coordinator hiccup) is the engine's to recover from; keep holding.
        this.#deps.log.debug('heartbeat failed while holding a batch', { subscription: this.subscription.name, partition: batch.partition, err });
      } finally {
        // From its end: a slow heartbeat (a coordinator failing over) is not followed by another at once.
        beat.last = performance.now();
      }
      if (finished.settled) return undefined;
    }
    return undefined;
  }

  /**
   * Where the first batch of a holding starts: the committed offset (the fetch start when there is none yet, or
   * when the commit is a logical one, -1 or -2).
   * Undefined when the batch starts elsewhere: kafkajs answers a fetch sent before a rejoin (from inside
   * another fetch) after it, checking neither generation nor assignment, so it can start past records the
   * commit still holds (a blocked head). Such a batch is neither taken nor marked read, and the partition is
   * fetched again from the committed offset (kafkajs drops answers to fetches sent before the seek).
   */
  async #startOfHolding(batch: FetchedBatch, current: () => boolean): Promise<bigint | undefined> {
    const { engine, subscription, log } = this.#deps;
    const { partition, fetchedOffset } = batch;
    let committed: bigint | undefined;
    try {
      committed = (await engine.committedOffsets()).get(partition);
    } catch (err) {
      log.warn('committed offset not read; the partition is fetched again before its first batch is taken', {
        subscription: subscription.name,
        partition,
        err,
      });
      await pause(HOLD_CHECK_MS, this.#stopped.signal);
      return undefined;
    }
    // Below 0 is no offset of the log: kafkajs, recovering from an offset out of range (records removed by
    // retention), commits -2 (earliest) or -1 (latest) and fetches from there; that fetch is the holding's start.
    if (committed === undefined || committed < 0n || committed === fetchedOffset) return committed !== undefined && committed >= 0n ? committed : fetchedOffset;
    log.warn('first batch of the partition does not start at its committed offset (fetched before a rejoin); fetched again from the committed offset', {
      subscription: subscription.name,
      partition,
      fetchedOffset: fetchedOffset.toString(),
      committed: committed.toString(),
    });
    if (!current()) return undefined;
    try {
      engine.seek(partition, committed);
    } catch (err) {
      // Without the seek the engine fetches from where it stands, which after a rejoin is the committed offset.
      log.warn('cannot seek the partition to its committed offset; its next batch is checked again', { subscription: subscription.name, partition, err });
    }
    return undefined;
  }

  /**
   * Stored blocks and skipped heads of `partition` not below `from` (the fetch start, the committed offset);
   * older ones are dropped. Undefined when Redis cannot be read: the batch is not taken (a skipped head must not
   * be delivered, and no delivery could take its lease meanwhile anyway), and the partition is fetched again.
   */
  async #loadHeld(partition: number, from: bigint): Promise<HeldBefore | undefined> {
    const { blocked, subscription, log } = this.#deps;
    let stored: StoredPartition;
    try {
      stored = await blocked.load(subscription.name, partition);
    } catch (err) {
      log.warn('blocked groups and skipped heads of the partition cannot be read; its batch is fetched again', {
        subscription: subscription.name,
        partition,
        err,
      });
      await pause(HOLD_CHECK_MS, this.#stopped.signal);
      return undefined;
    }
    const { blocks, skipped } = stored;
    const stale: Array<string | null> = [];
    for (const [group, block] of blocks) {
      if ((parseOffset(block.offsets[0]) ?? -1n) >= from) continue;
      blocks.delete(group);
      stale.push(group);
    }
    const parsed = parsedSkips(skipped);
    const offsets = new Set([...parsed.values()].flat().filter((o) => o >= from));
    // Removing what the commit passed is housekeeping: a failure leaves it for a later holding, consuming goes on.
    await Promise.all(stale.map((group) => blocked.remove(subscription.name, partition, group))).catch((err: unknown) =>
      log.debug('blocks the commit passed not removed; a later holding removes them', { subscription: subscription.name, partition, err }),
    );
    await this.#forgetPassedSkips(partition, parsed, from);
    if (offsets.size > 0) {
      log.info('offsets skipped by an admin before this holding are dropped as they are fetched', {
        subscription: subscription.name,
        partition,
        from: from.toString(),
        skipped: [...offsets].map(String),
      });
    }
    return { blocks, skipped: offsets };
  }

  /**
   * Forgets the skip records of `partition` below `from`, the committed offset as Kafka reported it when this
   * holding began: never on a commit this replica only believes made (kafkajs can report a commit it never sent,
   * or retry an older one after a newer one). A failure leaves them for a later holding.
   */
  async #forgetPassedSkips(partition: number, skipped: ReadonlyMap<string, readonly bigint[]>, from: bigint): Promise<void> {
    await this.#deps.blocked.forgetSkips(this.subscription.name, partition, passedSkips(skipped, from)).catch((err: unknown) =>
      this.#deps.log.debug('skip records the commit passed not removed; a later holding removes them', {
        subscription: this.subscription.name,
        partition,
        err,
      }),
    );
  }

  /**
   * After a reset of the group's offsets (the subscription stopped everywhere): skip records the old commit had
   * passed (`previous`, per partition) go, so the replay delivers those messages again; a skip the old commit had
   * not passed is still pending, wherever the reset moved to, and stays. A failure is logged with what it leaves.
   */
  async forgetSkipped(previous: ReadonlyMap<number, bigint | undefined>): Promise<void> {
    const { blocked, subscription, log } = this.#deps;
    for (const [partition, committed] of previous) {
      if (committed === undefined) continue;
      try {
        const { skipped } = await blocked.load(subscription.name, partition);
        await blocked.forgetSkips(subscription.name, partition, passedSkips(parsedSkips(skipped), committed));
      } catch (err) {
        log.warn('skip records not removed after the offset reset; the replay does not deliver the heads skipped before it', {
          subscription: subscription.name,
          partition,
          err,
        });
      }
    }
  }

  async #saveBlocked(d: Delivery, error: string): Promise<void> {
    const { blocked, subscription, log } = this.#deps;
    const block = { offsets: d.records.map((r) => r.offset.toString()), attempt: d.attempt, error };
    await blocked.save(subscription.name, d.partition, d.group, block).catch((err: unknown) =>
      log.warn('blocked group not stored; after a restart or rebalance it is tried again from attempt 1', {
        subscription: subscription.name,
        partition: d.partition,
        messageGroup: d.group,
        err,
      }),
    );
  }

  /** Applies the admin requests other replicas stored for blocked groups of this replica's partitions. */
  async #applyRequests(): Promise<void> {
    const { blocked, subscription, log } = this.#deps;
    const partitions = new Set(this.#dispatcher.blockedGroups().map((b) => b.partition));
    for (const partition of partitions) {
      let requests;
      try {
        ({ requests } = await blocked.load(subscription.name, partition));
      } catch (err) {
        log.debug('admin requests for blocked groups not read; next tick', { subscription: subscription.name, partition, err });
        continue;
      }
      for (const [group, request] of requests) {
        const head = this.#dispatcher.blockedGroups().find((b) => b.partition === partition && b.group === group);
        if (head?.offsets[0] !== request.offset) continue;
        log.info('applying an admin request made on another replica', {
          subscription: subscription.name,
          partition,
          messageGroup: group,
          action: request.action,
          offset: request.offset,
        });
        // The request names its head: applied to that head only, never to the group's next one.
        await this.unblock(request.action, partition, group, request.offset).catch((err: unknown) => {
          const moved = err instanceof SidecarError && err.code === 'CONFLICT';
          // Not applied now (Redis could not store a skip): the request stays, and the next tick tries it again.
          log[moved ? 'info' : 'warn'](
            moved ? 'admin request made on another replica not applied: the head it names moved on' : 'admin request made on another replica not applied yet',
            { subscription: subscription.name, partition, messageGroup: group, err },
          );
        });
      }
    }
  }

  /** Fetches `partition` again from its commit point in `ms` (its groups' next attempt is due), unless a batch of it is held by then. */
  #fetchAgainIn(partition: number, ms: number): void {
    const epoch = this.#epoch;
    this.#dueFetches.set(partition, ms, () => {
      if (epoch !== this.#epoch) return;
      // The consumer refused the seek (restarting after a crash): tried again, as the retry waits for it.
      if (!this.#fetchAgain(partition, 'for a retry that is due')) this.#fetchAgainIn(partition, HOLD_CHECK_MS);
    });
  }

  /**
   * Fetches `partition` again from its commit point (records already held are not taken twice), resumed if
   * paused, so that what is ready of it is delivered inside a held batch. Nothing to do when a batch of it is
   * held, or nothing of it waits. False when the consumer refused the seek.
   */
  #fetchAgain(partition: number, what: string): boolean {
    const from = this.#dispatcher.committable(partition);
    if (this.#dispatcher.quiescent(partition) || this.#holds.has(partition) || from === undefined || !this.#live()) return true;
    try {
      this.#deps.engine.seek(partition, from);
      this.#paused.delete(partition);
      this.#deps.engine.resume([partition]);
      return true;
    } catch (err) {
      // What is ready stays so: the partition's next batch (after a rejoin, from the commit) delivers it.
      this.#deps.log.warn(`cannot fetch the partition again ${what}; it is delivered with its next batch`, {
        subscription: this.subscription.name,
        partition,
        err,
      });
      return false;
    }
  }

  #pauseIfFull(partition: number): void {
    const tracked = this.#dispatcher.tracked(partition);
    if (tracked < this.#deps.limits.trackedRecords || this.#paused.has(partition)) return;
    this.#deps.log.warn('partition holds too many records behind an unfinished one (blocked groups pin its commit); fetching paused until they move', {
      subscription: this.subscription.name,
      partition,
      tracked,
      limit: this.#deps.limits.trackedRecords,
    });
    this.#paused.add(partition);
    this.#deps.engine.pause([partition]);
  }

  /** Starts nothing new anywhere: an eager rebalance takes every partition away. */
  #onRebalance(): void {
    this.#rebalancing = true;
    for (const partition of this.#dispatcher.partitions()) this.#dispatcher.fence(partition);
  }

  /** After a (re)join the engine fetches from the committed offsets, so every earlier buffer is dropped. */
  #onAssigned(partitions: number[]): void {
    this.#epoch++;
    for (const partition of this.#dispatcher.partitions()) this.#dispatcher.release(partition);
    this.#committer.forget();
    if (this.#paused.size > 0) this.#deps.engine.resume([...this.#paused]);
    this.#paused.clear();
    this.#assigned = [...partitions].sort((a, b) => a - b);
    this.#rebalancing = false;
    this.#error = undefined;
    this.#deps.log.info('subscription assigned partitions', { subscription: this.subscription.name, partitions: this.#assigned, epoch: this.#epoch });
  }

  /**
   * Fences `partitions`, waits (at most `boundMs`) for their in-flight deliveries, then commits them. With a
   * held batch it heartbeats meanwhile: during a rebalance that keeps this member in the group (rather than
   * expired by the session timeout while its deliveries still run, and its partitions handed on).
   */
  async #letGo(partitions: number[], boundMs: number, batch?: FetchedBatch): Promise<void> {
    for (const p of partitions) this.#dispatcher.fence(p);
    const drained = new SettleWaker(Promise.all(partitions.map((p) => this.#dispatcher.whenQuiescent(p))));
    const deadline = performance.now() + boundMs;
    while (!drained.settled && performance.now() < deadline) {
      await drained.wait(Math.min(HOLD_CHECK_MS, Math.max(1, deadline - performance.now())));
      // A rebalance answers every heartbeat with REBALANCE_IN_PROGRESS; the heartbeat still counts.
      if (!drained.settled && batch) await batch.heartbeat().catch(() => undefined);
    }
    if (!drained.settled) {
      this.#deps.log.warn('deliveries still in flight after the drain bound; their messages will be delivered again', {
        subscription: this.subscription.name,
        partitions,
      });
    }
    await this.#commit(partitions);
  }

  #commit(partitions: number[]): Promise<boolean> {
    return this.#committer.commit(partitions, (p) => this.#dispatcher.committable(p));
  }

  async #tick(): Promise<void> {
    if (this.#state !== 'running' || this.#stopping) return;
    if (!this.#rebalancing) await this.#commit(this.#dispatcher.partitions());
    for (const partition of this.#paused) {
      if (this.#dispatcher.tracked(partition) < this.#deps.limits.trackedRecords / 2) {
        // Resumed before it is forgotten: a resume the consumer refuses (restarting after a crash) is tried at the next tick.
        this.#deps.engine.resume([partition]);
        this.#paused.delete(partition);
      }
    }
    await this.#applyRequests();
    try {
      this.#endOffsets = await this.#deps.engine.endOffsets();
    } catch {
      // Lag is informative; a failed read keeps the last one.
    }
  }

  /**
   * Admin: retry or skip the head of a blocked group; undefined when that group is not blocked here (or the
   * subscription is rebalancing or stopping). A skip's offsets are committed before this answers. Whatever
   * the call made ready is delivered only inside a held batch: when none is held, the partition is fetched
   * again from its commit point (records already held are not taken twice) and resumed if paused.
   * `offset`, when given, is the head's first offset as the caller saw it: a 409 (nothing changed) when the
   * group's head is another one.
   */
  async unblock(action: 'retry' | 'skip', partition: number, group: string | null, offset?: string): Promise<BlockedGroup | undefined> {
    // One admin call of a partition at a time: a retry landing while a skip of the same head waits for Redis would
    // have the skip answer for a head that is being delivered.
    const { release } = await this.#adminTurns.acquire([String(partition)]);
    try {
      return await this.#unblockNow(action, partition, group, offset);
    } finally {
      release();
    }
  }

  async #unblockNow(action: 'retry' | 'skip', partition: number, group: string | null, offset?: string): Promise<BlockedGroup | undefined> {
    if (!this.#live()) return undefined;
    const done = action === 'retry' ? await this.#retry(partition, group, offset) : await this.#skip(partition, group, offset);
    if (!done) return undefined;
    await this.#commit([partition]);
    this.#fetchAgain(partition, 'for an admin call');
    return done;
  }

  async #retry(partition: number, group: string | null, offset?: string): Promise<BlockedGroup | undefined> {
    const done = this.#dispatcher.retryBlocked(partition, group, offset);
    if (!done) return undefined;
    await this.#deps.blocked.remove(this.subscription.name, partition, group, done.offsets[0]).catch((err: unknown) =>
      this.#deps.log.warn('retried group still stored; a restart before its next block or commit would block it again', {
        subscription: this.subscription.name,
        partition,
        messageGroup: group,
        err,
      }),
    );
    return done;
  }

  /**
   * The skip is stored before it is made: while the commit has not passed the head (another group's blocked head
   * may hold it below for long), a restart or rebalance would otherwise deliver it again. Rejects, with nothing
   * skipped, when Redis cannot store it.
   */
  async #skip(partition: number, group: string | null, offset?: string): Promise<BlockedGroup | undefined> {
    const head = this.#dispatcher.blockedHead(partition, group, offset);
    if (!head) return undefined;
    await this.#deps.blocked.skip(this.subscription.name, partition, group, head.offsets);
    // Stored, so the skip holds from here on: should this holding have ended meanwhile (admin calls of a partition
    // take turns, so nothing else moved the head), the next one drops the head.
    return this.#dispatcher.skipBlocked(partition, group, head.offsets[0]) ?? head;
  }

  /**
   * Admin, for a group not blocked on this replica: leaves the request for whichever replica owns the
   * partition (it applies it within a commit interval), if the group is stored as blocked. Undefined when it
   * is not; rejects when the store cannot be reached, and with a 409 (nothing stored) when `offset` is given
   * and the stored head starts elsewhere. The request names the head's first offset: the owner applies it to
   * that head only.
   */
  async requestUnblock(action: 'retry' | 'skip', partition: number, group: string | null, offset?: string): Promise<BlockedGroup | undefined> {
    const { blocked, subscription } = this.#deps;
    const stored = (await blocked.load(subscription.name, partition)).blocks.get(group);
    const head = stored?.offsets[0];
    if (stored === undefined || head === undefined) return undefined;
    if (offset !== undefined && head !== offset) throw headMoved(partition, group, offset, stored.offsets);
    await blocked.request(subscription.name, partition, group, { action, offset: head });
    return { partition, group, offsets: stored.offsets, attempt: stored.attempt, error: stored.error };
  }

  /**
   * Graceful stop: fetch nothing new, let in-flight deliveries finish within `graceMs`, commit, leave the group.
   * A call while a stop is under way resolves when that one is done (its `graceMs` applies).
   */
  stop(graceMs: number): Promise<void> {
    this.#stop ??= this.#stopNow(graceMs);
    return this.#stop;
  }

  async #stopNow(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#stopped.abort();
    this.#state = 'stopping';
    clearInterval(this.#ticker);
    this.#dueFetches.clear();
    await this.#starting;
    await this.#letGo(this.#dispatcher.partitions(), graceMs);
    await Promise.all(this.#holds.values());
    // The leases of the groups let go are released before the next owner needs them (else they run out).
    await this.#leases.settled();
    await this.#deps.engine
      .stop()
      .catch((err: unknown) => this.#deps.log.warn('consumer did not leave its group cleanly', { subscription: this.subscription.name, err }));
    this.#state = 'stopped';
    this.#deps.log.info('subscription stopped', { subscription: this.subscription.name, committed: this.#committer.snapshot() });
  }

  #view(): StatusSource {
    return {
      subscription: this.subscription,
      state: this.#state,
      ready: this.ready,
      error: this.#error,
      assigned: this.#assigned,
      paused: this.#paused,
      endOffsets: this.#endOffsets,
      committed: (p) => this.#committer.committed(p),
      dispatcher: this.#dispatcher,
      counts: this.counts,
    };
  }

  lag(): Map<number, bigint> {
    return lagOf(this.#view());
  }

  tracked(): Map<number, number> {
    return new Map(this.#assigned.map((p) => [p, this.#dispatcher.tracked(p)]));
  }

  buffered(): Map<number, number> {
    return new Map(this.#assigned.map((p) => [p, this.#dispatcher.buffered(p)]));
  }

  pausedPartitions(): number {
    return this.#paused.size;
  }

  hotGroups(n: number) {
    return this.#dispatcher.hotGroups(n);
  }

  get inFlightGroups(): number {
    return this.#dispatcher.inFlight;
  }

  blockedGroups(): BlockedGroup[] {
    return this.#dispatcher.blockedGroups();
  }

  status(): SubscriptionStatus {
    return statusOf(this.#view());
  }
}
