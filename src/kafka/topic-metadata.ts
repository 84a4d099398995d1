import { setTimeout as sleep } from 'node:timers/promises';
import { SidecarError } from '../errors/sidecar-error.ts';
import { fromKafkaError } from './kafka-errors.ts';

/** Reads a topic's partition count from Kafka now; undefined when the topic does not exist. */
export type PartitionCountReader = (topic: string) => Promise<number | undefined>;

interface Entry {
  /** Undefined when Kafka said the topic does not exist. */
  partitions: number | undefined;
  fetchedAt: number;
  /** Fetched because a caller asked for a fresh count (not by the background refresh). */
  forced?: boolean;
  refreshing?: Promise<void> | undefined;
  /** When `recheck` last asked for a background read. */
  recheckedAt?: number;
}

/** How long "this topic does not exist" is believed, so a typo cannot hammer the brokers. */
const UNKNOWN_TOPIC_MEMORY_MS = 2000;
/** Known topics are few; beyond this many entries, remembered unknown topics are dropped. */
const MAX_ENTRIES = 10_000;
const FRESH_ENOUGH_MS = 1000;
/** `recheck` reads a topic again at most this often: every write failing during an outage asks. */
const RECHECK_MIN_MS = 1000;
/**
 * A topic just created reaches each broker's metadata at that broker's own pace (KRaft brokers apply the
 * metadata log independently), so one broker may still call it unknown. Kafka's own producer waits for an
 * unknown topic's metadata (max.block.ms); here "does not exist" is believed once Kafka has said so again
 * after each of these pauses (1 s in all), and only then answered 404.
 */
const UNKNOWN_TOPIC_RECHECKS_MS = [200, 300, 500];

/**
 * Partition counts from Kafka metadata. A known topic is served from memory and refreshed in the background
 * every `refreshMs`, so a topic that grows is noticed without slowing the produce path.
 */
export class TopicMetadata {
  readonly #read: PartitionCountReader;
  readonly #refreshMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #firstFetch = new Map<string, Promise<Entry>>();

  constructor(read: PartitionCountReader, refreshMs: number) {
    this.#read = read;
    this.#refreshMs = refreshMs;
  }

  /**
   * Partition count of `topic`; throws UNKNOWN_TOPIC (404) for a topic Kafka does not have. `fresh` asks
   * Kafka now instead of trusting the remembered count.
   */
  async partitionCount(topic: string, { fresh = false }: { fresh?: boolean } = {}): Promise<number> {
    const now = Date.now();
    let entry = this.#entries.get(topic);
    // A count read by an earlier fresh request within the last second is fresh enough: a group mapped beyond
    // even the fresh count must not make every one of its requests ask Kafka again.
    if (fresh && !(entry?.forced && now - entry.fetchedAt <= FRESH_ENOUGH_MS)) entry = undefined;
    if (entry && entry.partitions === undefined && now - entry.fetchedAt > UNKNOWN_TOPIC_MEMORY_MS) entry = undefined;
    if (!entry) {
      entry = await this.#fetchOnce(topic, fresh);
    } else if (now - entry.fetchedAt > this.#refreshMs) {
      this.#refreshInBackground(topic, entry);
    }
    if (entry.partitions === undefined) {
      throw new SidecarError('UNKNOWN_TOPIC', `topic "${topic}" does not exist (the sidecar never creates topics)`, { field: 'topic' });
    }
    return entry.partitions;
  }

  /**
   * Reads the topic's count again in the background, as the periodic refresh does (a read no caller waits for:
   * not `fresh`), at most once a second. A failed write asks: a topic deleted since its count was read is then
   * refused with 404 from the next request on.
   */
  recheck(topic: string): void {
    const entry = this.#entries.get(topic);
    const now = Date.now();
    if (!entry || now - Math.max(entry.fetchedAt, entry.recheckedAt ?? 0) < RECHECK_MIN_MS) return;
    entry.recheckedAt = now;
    this.#refreshInBackground(topic, entry);
  }

  /** One background read of the topic at a time; the count it had stays until one succeeds. */
  #refreshInBackground(topic: string, entry: Entry): void {
    if (entry.refreshing) return;
    entry.refreshing = this.#fetch(topic).then(
      (fresh) => void this.#entries.set(topic, fresh),
      () => void (entry.refreshing = undefined),
    );
  }

  /** Concurrent first requests for a topic share one metadata fetch. */
  #fetchOnce(topic: string, forced: boolean): Promise<Entry> {
    let pending = this.#firstFetch.get(topic);
    if (!pending) {
      pending = this.#fetch(topic)
        .then((fetched) => {
          const entry = { ...fetched, forced };
          this.#entries.set(topic, entry);
          if (entry.partitions === undefined && this.#entries.size > MAX_ENTRIES) this.#forgetUnknownTopics();
          return entry;
        })
        .finally(() => this.#firstFetch.delete(topic));
      this.#firstFetch.set(topic, pending);
    }
    return pending;
  }

  /** Clients can name any number of topics that do not exist; those answers must not pile up. */
  #forgetUnknownTopics(): void {
    for (const [topic, entry] of this.#entries) if (entry.partitions === undefined) this.#entries.delete(topic);
  }

  async #fetch(topic: string): Promise<Entry> {
    try {
      let partitions = await this.#read(topic);
      for (const pause of UNKNOWN_TOPIC_RECHECKS_MS) {
        if (partitions !== undefined) break;
        await sleep(pause);
        partitions = await this.#read(topic);
      }
      return { partitions, fetchedAt: Date.now() };
    } catch (err) {
      const mapped = fromKafkaError(err, `reading metadata of topic "${topic}"`);
      throw new SidecarError('KAFKA_UNAVAILABLE', mapped.message, { cause: err });
    }
  }
}
