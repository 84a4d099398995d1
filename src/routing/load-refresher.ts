import type { Logger } from '../logging/logger.ts';
import { loadDeviation } from './least-loaded.ts';
import type { Count, Level } from './router-metrics.ts';

/** Topics read at once: enough that a slow or missing topic does not hold the others up, few enough for Redis and Kafka. */
const CONCURRENT_TOPICS = 8;
/**
 * A topic Kafka said it does not have is asked about again only this often: asking costs seconds of client
 * retries, and such topics are usually deleted ones whose mappings cleanup removes after the TTL.
 */
export const MISSING_TOPIC_RECHECK_MS = 10 * 60_000;

/** The refresher's port to the mapping store; src/redis implements it (RouterStore). */
export interface LoadsStore {
  topics(): Promise<string[]>;
  /** Groups mapped to each partition 0..partitions-1. */
  loads(topic: string, partitions: number): Promise<number[]>;
  /** Groups mapped in the topic, whatever their partitions (for a topic Kafka no longer has). */
  mappedGroups(topic: string): Promise<number>;
  lastCleanupRun(): Promise<number | undefined>;
}

/** A topic's partition count from Kafka; undefined when Kafka does not have the topic. */
export type TopicPartitions = (topic: string) => Promise<number | undefined>;

/** Where the refreshed figures go (SidecarMetrics); scrapes read them from there, never from the network. */
export interface LoadsView {
  showLoads(topic: string, loads: readonly number[], deviation: number): void;
  /** A topic mapped in Redis that Kafka does not have: only its mapped groups are shown. */
  showMissingTopic(topic: string, mappedGroups: number): void;
  /** A topic no longer mapped in Redis. */
  forgetTopic(topic: string): void;
  missingTopics: Level;
  /** Counted once each time a topic is found missing from Kafka. */
  skippedMissingTopics: Count;
  /** Topics whose figures one refresh could not read in time or at all; they keep their last figures. */
  loadsRefreshFailures: Count;
  loadsRefreshed: Level;
  cleanupLastSuccess: Level;
}

export interface LoadsRefreshOptions {
  loadsRefreshMs: number;
  loadsRefreshTimeoutMs: number;
}

/**
 * Reads every mapped topic's partition loads in the background, on a fixed schedule, topics in parallel and
 * each refresh bounded by a deadline, so a metrics scrape only reads memory: a slow Redis, an unreachable Kafka
 * or a deleted topic can no longer make a scrape time out.
 */
export class LoadsRefresher {
  readonly #store: LoadsStore;
  readonly #partitions: TopicPartitions;
  readonly #options: LoadsRefreshOptions;
  readonly #view: LoadsView;
  readonly #log: Logger;
  /** Topics Kafka does not have, with when it last said so. */
  readonly #missing = new Map<string, number>();
  #shown = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  /** The running refresh's reads, deadline or not: a new refresh starts only once they all settled. */
  #running: Promise<void> | undefined;

  constructor(store: LoadsStore, partitions: TopicPartitions, options: LoadsRefreshOptions, view: LoadsView, log: Logger) {
    this.#store = store;
    this.#partitions = partitions;
    this.#options = options;
    this.#view = view;
    this.#log = log;
  }

  start(): void {
    if (this.#timer) return;
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#options.loadsRefreshMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /**
   * One refresh; skipped while the last one's reads are still out, so slow reads never pile up. Resolves by the
   * deadline at the latest; never rejects.
   */
  async refresh(): Promise<void> {
    if (this.#running) return;
    const unfinished = new Set<string>();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        // Those topics keep their last figures; their reads go on, and the next refresh waits for them.
        this.#view.loadsRefreshFailures.inc(unfinished.size);
        this.#log.debug('partition loads refresh past its deadline', { topics: [...unfinished] });
        resolve();
      }, this.#options.loadsRefreshTimeoutMs);
    });
    this.#running = this.#readAll(unfinished).finally(() => {
      clearTimeout(timer);
      this.#running = undefined;
    });
    return Promise.race([this.#running, deadline]);
  }

  /** Reads every topic; `unfinished` holds those not read yet (the Redis topic list counts as one while it is read). */
  async #readAll(unfinished: Set<string>): Promise<void> {
    unfinished.add('(topic list)');
    const topics = await this.#store.topics().catch((err: unknown) => {
      this.#view.loadsRefreshFailures.inc();
      this.#log.debug('partition loads not refreshed: Redis did not list the topics', { err });
      return undefined;
    });
    unfinished.clear();
    if (topics === undefined) return;
    const listed = new Set(topics);
    for (const topic of this.#shown) if (!listed.has(topic)) this.#view.forgetTopic(topic);
    for (const topic of this.#missing.keys()) if (!listed.has(topic)) this.#missing.delete(topic);
    this.#shown = listed;

    const queue = [...topics];
    for (const topic of topics) unfinished.add(topic);
    const worker = async (): Promise<void> => {
      for (let topic = queue.shift(); topic !== undefined; topic = queue.shift()) {
        await this.#readTopic(topic).catch((err: unknown) => {
          this.#view.loadsRefreshFailures.inc();
          this.#log.debug('partition loads of a topic not refreshed', { topic, err });
        });
        unfinished.delete(topic);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENT_TOPICS, queue.length) }, worker));
    this.#view.missingTopics.set(this.#missing.size);
    this.#view.loadsRefreshed.set(Math.floor(Date.now() / 1000));
    const lastCleanup = await this.#store.lastCleanupRun().catch(() => undefined);
    if (lastCleanup !== undefined) this.#view.cleanupLastSuccess.set(lastCleanup);
  }

  async #readTopic(topic: string): Promise<void> {
    const missingSince = this.#missing.get(topic);
    const ask = missingSince === undefined || Date.now() - missingSince >= MISSING_TOPIC_RECHECK_MS;
    const partitions = ask ? await this.#partitions(topic) : undefined;
    if (partitions === undefined) {
      if (missingSince === undefined) {
        this.#view.skippedMissingTopics.inc();
        this.#log.warn('topic mapped in Redis does not exist in Kafka; its loads are not refreshed, and cleanup removes its mappings once idle past the TTL', {
          topic,
        });
      }
      if (ask) this.#missing.set(topic, Date.now());
      this.#view.showMissingTopic(topic, await this.#store.mappedGroups(topic));
      return;
    }
    if (missingSince !== undefined) {
      this.#missing.delete(topic);
      this.#log.info('topic mapped in Redis exists in Kafka again; its loads are refreshed', { topic });
    }
    const loads = await this.#store.loads(topic, partitions);
    this.#view.showLoads(topic, loads, loadDeviation(loads));
  }
}
