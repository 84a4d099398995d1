import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import { ttlMinutes } from './expiry.ts';
import type { Level, TopicCount } from './router-metrics.ts';

/** Buckets cleaned per pipelined round trip; each bucket is one short script call. */
const BUCKETS_PER_ROUND = 64;

export interface CleanupOptions {
  groupTtlMs: number;
  cleanupIntervalMs: number;
}

/** The cleanup's port to the mapping store; src/redis implements it (with the router's RouteStore). */
export interface CleanupStore {
  /** Takes the fleet-wide cleanup turn for `holdMs`; false when another replica has it. */
  tryTakeCleanupTurn(owner: string, holdMs: number): Promise<boolean>;
  topics(): Promise<string[]>;
  bucketCount(topic: string): Promise<number | undefined>;
  /** Removes mappings of buckets [from, to) idle longer than `ttlMinutes`; returns how many. */
  cleanupBuckets(topic: string, from: number, to: number, ttlMinutes: number): Promise<number>;
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
 * released, so across the fleet cleanup runs about once per interval and never twice at a time.
 */
export class MappingCleaner {
  readonly #store: CleanupStore;
  readonly #options: CleanupOptions;
  readonly #metrics: CleanupMetrics;
  readonly #log: Logger;
  readonly #owner = randomUUID();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<CleanupReport> | undefined;

  constructor(store: CleanupStore, options: CleanupOptions, metrics: CleanupMetrics, log: Logger) {
    this.#store = store;
    this.#options = options;
    this.#metrics = metrics;
    this.#log = log;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.runIfOurTurn(), this.#options.cleanupIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
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
      const buckets = await this.#store.bucketCount(topic);
      if (buckets === undefined) continue;
      let removedInTopic = 0;
      for (let from = 0; from < buckets; from += BUCKETS_PER_ROUND) {
        removedInTopic += await this.#store.cleanupBuckets(topic, from, Math.min(buckets, from + BUCKETS_PER_ROUND), ttl);
      }
      this.#metrics.cleanupRemoved.inc({ topic }, removedInTopic);
      removed += removedInTopic;
    }
    const seconds = stopTimer();
    const now = Math.floor(Date.now() / 1000);
    await this.#store.recordCleanupRun(now);
    this.#metrics.cleanupLastSuccess.set(now);
    this.#log.info('MessageGroup cleanup done', { topics: topics.length, removed, seconds: Number(seconds.toFixed(3)) });
    return { ran: true, removed, topics: topics.length };
  }
}
