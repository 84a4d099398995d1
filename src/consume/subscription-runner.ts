import { setTimeout as wait } from 'node:timers/promises';
import { errorMessage } from '../errors/sidecar-error.ts';
import { withoutUrlPassword, type Logger } from '../logging/logger.ts';
import { RebalanceStarted, type ConsumerEngine, type FetchedBatch } from './consumer-engine.ts';
import type { Delivery, DeliveryResult } from './delivery.ts';
import type { BlockedGroup } from '../protocol/admin.ts';
import { GroupDispatcher, type DispatchObserver } from './group-dispatcher.ts';
import type { Subscription } from './subscriptions.ts';

export interface RunnerLimits {
  /** Messages buffered per partition above which its fetching pauses. */
  bufferMessages: number;
  commitIntervalMs: number;
}

export interface RunnerDeps {
  subscription: Subscription;
  engine: ConsumerEngine;
  deliver(delivery: Delivery): Promise<DeliveryResult>;
  deadLetter(delivery: Delivery, lastError: string): Promise<void>;
  /** Metrics hooks, called next to the runner's own counting. */
  observer: DispatchObserver;
  limits: RunnerLimits;
  log: Logger;
}

export type RunnerState = 'starting' | 'waiting-for-topic' | 'running' | 'stopping' | 'stopped';

export interface PartitionStatus {
  partition: number;
  committed_offset: string | null;
  end_offset: string | null;
  lag: string | null;
  buffered: number;
  in_flight_groups: Array<string | null>;
  paused: boolean;
}

/** One subscription in `GET /v1/subscriptions`. */
export interface SubscriptionStatus {
  name: string;
  topic: string;
  consumer_group: string;
  /** Without its password, if it has one. */
  endpoint: string;
  ready: boolean;
  state: RunnerState;
  error?: string;
  partitions: PartitionStatus[];
  in_flight_groups: number;
  blocked_groups: BlockedGroup[];
  counts: { delivered: number; retried: number; dead_lettered: number; skipped: number };
}

const HOLD_CHECK_MS = 1000;
const TOPIC_RECHECK_MS = 5000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleepUnlessStopped = (ms: number, signal: AbortSignal): Promise<void> => wait(ms, undefined, { signal }).catch(() => undefined);

/**
 * Runs one subscription: feeds fetched batches to the dispatcher and holds each batch until its partition is
 * quiescent, so a rebalance waits for in-flight deliveries, which are then committed before the partition is
 * let go. Commits run periodically too, after every batch, and on shutdown.
 */
export class SubscriptionRunner {
  readonly #deps: RunnerDeps;
  readonly #dispatcher: GroupDispatcher;
  #state: RunnerState = 'starting';
  #error: string | undefined;
  #assigned: number[] = [];
  readonly #paused = new Set<number>();
  readonly #holds = new Map<number, Promise<void>>();
  readonly #committed = new Map<number, bigint>();
  #endOffsets = new Map<number, bigint>();
  #rebalancing = false;
  #stopping = false;
  /** Aborted by stop(), so waiting for a missing topic does not hold shutdown up. */
  readonly #stopped = new AbortController();
  #ticker: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  readonly counts = { delivered: 0, retried: 0, dead_lettered: 0, skipped: 0 };

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    const { observer } = deps;
    const counts = this.counts;
    this.#dispatcher = new GroupDispatcher(deps.subscription, {
      deliver: (d) => deps.deliver(d),
      deadLetter: (d, error) => deps.deadLetter(d, error),
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
        blocked: (d, error) => observer.blocked(d, error),
        skipped: (d) => {
          counts.skipped += d.records.length;
          observer.skipped(d);
        },
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
    this.#ticker = setInterval(() => void this.#tick(), this.#deps.limits.commitIntervalMs);
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
      await sleepUnlessStopped(TOPIC_RECHECK_MS, this.#stopped.signal);
    }
    if (this.#stopping) return;
    try {
      await engine.start({
        onBatch: (batch) => this.#onBatch(batch),
        onRebalance: () => this.#onRebalance(),
        onAssigned: (partitions) => this.#onAssigned(partitions),
        onCrash: (err) => {
          this.#error = `consumer crashed: ${errorMessage(err)}`;
          log.error('subscription consumer crashed; kafkajs restarts it', { subscription: subscription.name, err });
          this.#onRebalance();
        },
      });
      this.#state = 'running';
      this.#error = undefined;
      log.info('subscription consuming', { subscription: subscription.name, topic: subscription.topic, consumerGroup: subscription.consumerGroup });
    } catch (err) {
      this.#error = `cannot start consuming: ${errorMessage(err)}`;
      log.error('subscription could not start consuming', { subscription: subscription.name, err });
    }
  }

  async #onBatch(batch: FetchedBatch): Promise<void> {
    if (this.#stopping || this.#rebalancing) return;
    const { partition } = batch;
    const dispatcher = this.#dispatcher;
    this.#endOffsets.set(partition, batch.highWatermark);
    dispatcher.add(partition, batch.records, batch.nextOffset);
    let release!: () => void;
    this.#holds.set(partition, new Promise((resolve) => (release = resolve)));
    try {
      while (!dispatcher.quiescent(partition) && !this.#stopping && !this.#rebalancing) {
        await Promise.race([dispatcher.whenQuiescent(partition), sleep(HOLD_CHECK_MS)]);
        if (dispatcher.quiescent(partition) || this.#stopping || this.#rebalancing) break;
        try {
          await batch.heartbeat();
        } catch (err) {
          // Anything but a rebalance (a coordinator hiccup) is the engine's to recover from; keep holding.
          if (!(err instanceof RebalanceStarted)) {
            this.#deps.log.debug('heartbeat failed while holding a batch', { subscription: this.subscription.name, partition, err });
            continue;
          }
          this.#onRebalance();
          await this.#letGo([partition]);
          throw err;
        }
      }
      if (this.#stopping || this.#rebalancing) {
        await this.#letGo([partition]);
        return;
      }
      await this.#commit([partition]);
      if (dispatcher.buffered(partition) >= this.#deps.limits.bufferMessages && !this.#paused.has(partition)) {
        this.#deps.log.warn('partition buffer full (blocked groups hold it); fetching paused until they move', {
          subscription: this.subscription.name,
          partition,
          buffered: dispatcher.buffered(partition),
        });
        this.#paused.add(partition);
        this.#deps.engine.pause([partition]);
      }
    } finally {
      this.#holds.delete(partition);
      release();
    }
  }

  /** Starts nothing new anywhere: an eager rebalance takes every partition away. */
  #onRebalance(): void {
    this.#rebalancing = true;
    for (const partition of this.#dispatcher.partitions()) this.#dispatcher.fence(partition);
  }

  /** After a (re)join the engine fetches from the committed offsets, so every earlier buffer is dropped. */
  #onAssigned(partitions: number[]): void {
    for (const partition of this.#dispatcher.partitions()) this.#dispatcher.release(partition);
    this.#committed.clear();
    if (this.#paused.size > 0) this.#deps.engine.resume([...this.#paused]);
    this.#paused.clear();
    this.#assigned = [...partitions].sort((a, b) => a - b);
    this.#rebalancing = false;
    this.#error = undefined;
    this.#deps.log.info('subscription assigned partitions', { subscription: this.subscription.name, partitions: this.#assigned });
  }

  /** Fences `partitions`, waits (by default at most ack_timeout) for their in-flight deliveries, then commits them. */
  async #letGo(partitions: number[], boundMs = this.subscription.ackTimeoutMs + 1000): Promise<void> {
    for (const p of partitions) this.#dispatcher.fence(p);
    const drained = Promise.all(partitions.map((p) => this.#dispatcher.whenQuiescent(p)));
    if ((await Promise.race([drained.then(() => true), sleep(boundMs).then(() => false)])) === false) {
      this.#deps.log.warn('deliveries still in flight after the drain bound; their messages will be delivered again', {
        subscription: this.subscription.name,
        partitions,
      });
    }
    await this.#commit(partitions);
  }

  async #commit(partitions: number[]): Promise<void> {
    const { engine, subscription, log } = this.#deps;
    const offsets = partitions.flatMap((partition) => {
      const offset = this.#dispatcher.committable(partition);
      return offset === undefined || this.#committed.get(partition) === offset ? [] : [{ topic: subscription.topic, partition, offset }];
    });
    if (offsets.length === 0) return;
    try {
      await engine.commit(offsets);
      for (const o of offsets) this.#committed.set(o.partition, o.offset);
    } catch (err) {
      // Not fatal: the next commit carries the same or a later offset; a crash before it means redelivery.
      log.warn('commit failed; will retry', { subscription: subscription.name, offsets: offsets.map((o) => `${o.partition}@${o.offset}`), err });
    }
  }

  async #tick(): Promise<void> {
    if (this.#state !== 'running' || this.#stopping) return;
    if (!this.#rebalancing) await this.#commit(this.#dispatcher.partitions());
    for (const partition of this.#paused) {
      if (this.#dispatcher.buffered(partition) < this.#deps.limits.bufferMessages / 2) {
        this.#paused.delete(partition);
        this.#deps.engine.resume([partition]);
      }
    }
    try {
      this.#endOffsets = await this.#deps.engine.endOffsets();
    } catch {
      // Lag is informative; a failed read keeps the last one.
    }
  }

  /** Admin: retry or skip the head of a blocked group; undefined when that group is not blocked here. */
  async unblock(action: 'retry' | 'skip', partition: number, group: string | null): Promise<BlockedGroup | undefined> {
    const done = action === 'retry' ? this.#dispatcher.retryBlocked(partition, group) : this.#dispatcher.skipBlocked(partition, group);
    if (done && action === 'skip' && this.#dispatcher.quiescent(partition) && !this.#holds.has(partition)) await this.#commit([partition]);
    return done;
  }

  /** Graceful stop: fetch nothing new, let in-flight deliveries finish within `graceMs`, commit, leave the group. */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stopped.abort();
    this.#state = 'stopping';
    clearInterval(this.#ticker);
    await this.#starting;
    const partitions = this.#dispatcher.partitions();
    await this.#letGo(partitions, graceMs);
    await Promise.all(this.#holds.values());
    await this.#deps.engine
      .stop()
      .catch((err: unknown) => this.#deps.log.warn('consumer did not leave its group cleanly', { subscription: this.subscription.name, err }));
    this.#state = 'stopped';
    this.#deps.log.info('subscription stopped', {
      subscription: this.subscription.name,
      committed: Object.fromEntries([...this.#committed].map(([p, o]) => [p, o.toString()])),
    });
  }

  lag(): Map<number, bigint> {
    const lag = new Map<number, bigint>();
    for (const partition of this.#assigned) {
      const end = this.#endOffsets.get(partition);
      const position = this.#dispatcher.committable(partition) ?? this.#committed.get(partition);
      if (end !== undefined && position !== undefined) lag.set(partition, end > position ? end - position : 0n);
    }
    return lag;
  }

  buffered(): Map<number, number> {
    return new Map(this.#assigned.map((p) => [p, this.#dispatcher.buffered(p)]));
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
    const { subscription } = this.#deps;
    const lag = this.lag();
    return {
      name: subscription.name,
      topic: subscription.topic,
      consumer_group: subscription.consumerGroup,
      // Basic-auth credentials in the endpoint URL are used for delivery, never shown.
      endpoint: withoutUrlPassword(subscription.endpoint),
      ready: this.ready,
      state: this.#state,
      ...(this.#error === undefined ? {} : { error: this.#error }),
      partitions: this.#assigned.map((partition) => {
        const committed = this.#dispatcher.committable(partition) ?? this.#committed.get(partition);
        const end = this.#endOffsets.get(partition);
        return {
          partition,
          committed_offset: committed?.toString() ?? null,
          end_offset: end?.toString() ?? null,
          lag: lag.get(partition)?.toString() ?? null,
          buffered: this.#dispatcher.buffered(partition),
          in_flight_groups: this.#dispatcher.inFlightGroups(partition),
          paused: this.#paused.has(partition),
        };
      }),
      in_flight_groups: this.#dispatcher.inFlight,
      blocked_groups: this.#dispatcher.blockedGroups(),
      counts: { ...this.counts },
    };
  }
}
