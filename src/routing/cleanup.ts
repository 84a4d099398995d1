import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import { ttlMinutes } from './expiry.ts';
import type { RouteLog } from './route-log.ts';
import type { Level, TopicCount } from './router-metrics.ts';

/** Buckets cleaned per pipelined round trip; each bucket is one short script call. */
const BUCKETS_PER_ROUND = 64;
/** Appends of mappings found back after their release, per round, before cleanup gives up on the ones still changing. */
const REAPPEND_ATTEMPTS = 3;

export interface CleanupOptions {
  groupTtlMs: number;
  cleanupIntervalMs: number;
}

/** A mapping cleanup removed. */
export interface RemovedMapping {
  group: string;
  partition: number;
}

/** The cleanup's port to the mapping store; src/redis implements it (with the router's RouteStore). */
export interface CleanupStore {
  /** Takes the fleet-wide cleanup turn for `holdMs`; false when another replica has it. */
  tryTakeCleanupTurn(owner: string, holdMs: number): Promise<boolean>;
  topics(): Promise<string[]>;
  bucketCount(topic: string): Promise<number | undefined>;
  /** Removes mappings of buckets [from, to) idle longer than `ttlMinutes`; returns them. */
  cleanupBuckets(topic: string, from: number, to: number, ttlMinutes: number): Promise<RemovedMapping[]>;
  /** The partition each of `groups` is mapped to now (a topic of `buckets` buckets); a group with no mapping is left out. */
  mappedPartitions(topic: string, buckets: number, groups: readonly string[]): Promise<Map<string, number>>;
  recordCleanupRun(unixSeconds: number): Promise<void>;
}

export interface CleanupMetrics {
  cleanupDuration: { startTimer(): () => number };
  cleanupRemoved: TopicCount;
  cleanupLastSuccess: Level;
}

export interface CleanupReport {
  ran: boolean;
  removed: number;
  topics: number;
}

/**
 * Removes idle mappings every interval. Replicas compete for a turn that expires instead of being
 * released, so across the fleet cleanup runs about once per interval and never twice at a time. With the
 * route log on, each removal is written to it as a release (a tombstone), so a rebuild does not bring back
 * a mapping that expired.
 */
export class MappingCleaner {
  readonly #store: CleanupStore;
  readonly #options: CleanupOptions;
  readonly #metrics: CleanupMetrics;
  readonly #log: Logger;
  readonly #routeLog: RouteLog | undefined;
  readonly #owner = randomUUID();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<CleanupReport> | undefined;
  /** Set by stop(): the pass in flight ends after its round in progress, so shutdown does not wait for all of it. */
  #stopping = false;

  constructor(store: CleanupStore, options: CleanupOptions, metrics: CleanupMetrics, log: Logger, routeLog?: RouteLog) {
    this.#store = store;
    this.#options = options;
    this.#metrics = metrics;
    this.#log = log;
    this.#routeLog = routeLog;
  }

  start(): void {
    this.#stopping = false;
    this.#timer ??= setInterval(() => void this.runIfOurTurn(), this.#options.cleanupIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Runs cleanup if no other replica has run it within the interval. Never rejects. */
  async runIfOurTurn(): Promise<CleanupReport> {
    try {
      const turn = await this.#store.tryTakeCleanupTurn(this.#owner, Math.floor(this.#options.cleanupIntervalMs * 0.9));
      if (!turn) return { ran: false, removed: 0, topics: 0 };
      return await this.run();
    } catch (err) {
      this.#log.error('MessageGroup cleanup failed; idle mappings stay until the next run', { err });
      return { ran: false, removed: 0, topics: 0 };
    }
  }

  /** One full pass over every topic, regardless of turns (what `runIfOurTurn` runs; tests call it directly). */
  run(): Promise<CleanupReport> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(): Promise<CleanupReport> {
    const stopTimer = this.#metrics.cleanupDuration.startTimer();
    const ttl = ttlMinutes(this.#options.groupTtlMs);
    const topics = await this.#store.topics();
    let removed = 0;
    for (const topic of topics) {
      if (this.#stopping) break;
      const buckets = await this.#store.bucketCount(topic);
      if (buckets === undefined) continue;
      let removedInTopic = 0;
      for (let from = 0; from < buckets && !this.#stopping; from += BUCKETS_PER_ROUND) {
        const removedNow = await this.#store.cleanupBuckets(topic, from, Math.min(buckets, from + BUCKETS_PER_ROUND), ttl);
        removedInTopic += removedNow.length;
        if (removedNow.length > 0) await this.#logReleases(topic, buckets, removedNow);
      }
      this.#metrics.cleanupRemoved.inc({ topic }, removedInTopic);
      removed += removedInTopic;
    }
    const seconds = stopTimer();
    if (this.#stopping) {
      // Not a complete pass: neither recorded nor counted as a success; the next run starts over.
      this.#log.info('MessageGroup cleanup stopped for shutdown; the rest waits for the next run', { removed, seconds: Number(seconds.toFixed(3)) });
      return { ran: true, removed, topics: topics.length };
    }
    const now = Math.floor(Date.now() / 1000);
    await this.#store.recordCleanupRun(now);
    this.#metrics.cleanupLastSuccess.set(now);
    this.#log.info('MessageGroup cleanup done', { topics: topics.length, removed, seconds: Number(seconds.toFixed(3)) });
    return { ran: true, removed, topics: topics.length };
  }

  /**
   * A release the log misses only leaves a stale mapping there, which a rebuild would restore on the partition
   * the group last used: no split, so a failed write is logged and the pass goes on.
   *
   * A release can also land after the group's next mapping: between the removal in Redis and the release's
   * append, a request may map the group again (on another partition, maybe) and log that mapping first. The log's
   * last record of a live group would then be a release, and a rebuild after a loss of Redis would map the group
   * afresh: a split. So once the releases are acknowledged, the removed groups are read back from Redis and the
   * mapping of each that came back is appended again; a mapping made after that read is appended after the
   * releases by whoever makes it. The re-appended mappings are read back the same way, so one that changed
   * meanwhile (an admin move logged before ours landed) is appended again, a few times at most. One round's
   * groups at a time (BUCKETS_PER_ROUND buckets), so memory stays bounded.
   */
  async #logReleases(topic: string, buckets: number, removed: readonly RemovedMapping[]): Promise<void> {
    const routeLog = this.#routeLog;
    if (!routeLog) return;
    try {
      await routeLog.append(removed.map(({ group }) => ({ topic, group, partition: null, buckets })));
    } catch (err) {
      this.#log.warn('could not write expired MessageGroup mappings to the route log; a rebuild would restore them', { topic, groups: removed.length, err });
      return;
    }
    let checked: ReadonlyMap<string, number | null> = new Map(removed.map(({ group }) => [group, null]));
    try {
      for (let attempt = 0; attempt < REAPPEND_ATTEMPTS; attempt++) {
        const now = await this.#store.mappedPartitions(topic, buckets, [...checked.keys()]);
        // What the log's last record of each group says (null: released) and Redis disagrees with.
        const changed = [...now].filter(([group, partition]) => checked.get(group) !== partition);
        if (changed.length === 0) return;
        await routeLog.append(changed.map(([group, partition]) => ({ topic, group, partition, buckets })));
        checked = new Map(changed);
      }
      this.#log.error('MessageGroup mappings kept changing while cleanup wrote them back to the route log; a rebuild may miss their latest partition', {
        topic,
        groups: checked.size,
      });
    } catch (err) {
      this.#log.error(
        'could not check or write back MessageGroup mappings made again right after cleanup released them; the route log may hold their release last, and a rebuild would not restore them',
        { topic, groups: checked.size, err },
      );
    }
  }
}
