import type { Logger } from '../logging/logger.ts';
import type { ConsumerEngine } from './consumer-engine.ts';

/**
 * Commits what the dispatcher says is committable, once per offset: the last offset Kafka accepted per
 * partition is remembered, so an unchanged position is not sent again.
 */
export class OffsetCommitter {
  readonly #engine: Pick<ConsumerEngine, 'commit'>;
  readonly #topic: string;
  readonly #subscription: string;
  readonly #log: Logger;
  readonly #committed = new Map<number, bigint>();
  /** The commit under way. */
  #running: Promise<boolean> | undefined;
  /**
   * The one commit waiting for it, shared by every call made meanwhile: kafkajs retries a failed commit for
   * seconds to minutes, an older offset landing after a newer one would move the group back, and a queue of
   * commits each retrying the same offset would hold a drain behind all of them.
   */
  #waiting: { partitions: Set<number>; committable: (partition: number) => bigint | undefined; done: PromiseWithResolvers<boolean> } | undefined;

  constructor(engine: Pick<ConsumerEngine, 'commit'>, topic: string, subscription: string, log: Logger) {
    this.#engine = engine;
    this.#topic = topic;
    this.#subscription = subscription;
    this.#log = log;
  }

  /**
   * Commits `committable(partition)` of each partition that moved, once the commit before it has ended (so the
   * offsets read are the newest); false when Kafka refused the commit.
   */
  commit(partitions: number[], committable: (partition: number) => bigint | undefined): Promise<boolean> {
    if (!this.#running) return this.#start(partitions, committable);
    this.#waiting ??= { partitions: new Set(), committable, done: Promise.withResolvers<boolean>() };
    for (const partition of partitions) this.#waiting.partitions.add(partition);
    this.#waiting.committable = committable;
    return this.#waiting.done.promise;
  }

  #start(partitions: Iterable<number>, committable: (partition: number) => bigint | undefined): Promise<boolean> {
    const running = this.#commitNow([...partitions], committable);
    this.#running = running;
    void running.then(() => {
      this.#running = undefined;
      const next = this.#waiting;
      this.#waiting = undefined;
      if (next) void this.#start(next.partitions, next.committable).then(next.done.resolve);
    });
    return running;
  }

  async #commitNow(partitions: number[], committable: (partition: number) => bigint | undefined): Promise<boolean> {
    const offsets = partitions.flatMap((partition) => {
      const offset = committable(partition);
      return offset === undefined || this.#committed.get(partition) === offset ? [] : [{ topic: this.#topic, partition, offset }];
    });
    if (offsets.length === 0) return true;
    try {
      await this.#engine.commit(offsets);
      for (const o of offsets) this.#committed.set(o.partition, o.offset);
      return true;
    } catch (err) {
      // Not fatal: the next commit carries the same or a later offset; a crash before it means redelivery.
      this.#log.warn('commit failed; will retry', { subscription: this.#subscription, offsets: offsets.map((o) => `${o.partition}@${o.offset}`), err });
      return false;
    }
  }

  /** The last offset committed for `partition` under the current assignment. */
  committed(partition: number): bigint | undefined {
    return this.#committed.get(partition);
  }

  /** After a (re)join: what was committed before is no longer this member's to remember. */
  forget(): void {
    this.#committed.clear();
  }

  snapshot(): Record<number, string> {
    return Object.fromEntries([...this.#committed].map(([p, o]) => [p, o.toString()]));
  }
}
