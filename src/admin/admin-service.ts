import { setTimeout as sleep } from 'node:timers/promises';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import type { AdminStore } from '../redis/admin-store.ts';
import { groupHash } from '../routing/hashing.ts';
import { loadDeviation } from '../routing/least-loaded.ts';
import type { ChangeView, GroupPage, LoadsView, MappingView } from '../protocol/admin.ts';
import { listGroups } from './list-groups.ts';
import { applyChange, type ChangeTiming } from './mapping-change.ts';

export interface AdminOptions {
  moveMinIdleMs: number;
  touchFlushIntervalMs: number;
  kafkaWriteTimeoutMs: number;
  maxGroupBytes: number;
}

export interface AdminServiceDeps {
  store: AdminStore;
  /** Partition count from Kafka metadata; throws UNKNOWN_TOPIC for a topic Kafka does not have. */
  partitionCount: (topic: string) => Promise<number>;
  /** Drops this replica's cached route at once (the others drop theirs on the generation change). */
  forget: (topic: string, group: string) => void;
  options: AdminOptions;
  log: Logger;
}

/**
 * Idle time a change requires: the configured minimum, but never less than the longest a message routed
 * just before could still be on its way to Kafka (a batch queued behind one in flight, each bounded by
 * KAFKA_WRITE_TIMEOUT) plus the touch batching that reports cache hits to Redis late.
 */
export const requiredIdleMs = (o: AdminOptions): number => Math.max(o.moveMinIdleMs, 2 * o.kafkaWriteTimeoutMs + 2 * o.touchFlushIntervalMs);

/**
 * How long a change waits between bumping the generation and applying it: more than two touch-flush
 * intervals, so every replica that reaches Redis has run a flush (generation check, then the touches of
 * its cache hits) that started after the bump, even if one flush was already running at the time.
 */
export const generationWaitMs = (touchFlushIntervalMs: number): number => 2 * touchFlushIntervalMs + Math.max(100, touchFlushIntervalMs / 2);

/** The admin tools' operations on MessageGroup mappings; HTTP-free so the rules read in one place. */
export class AdminService {
  readonly #deps: AdminServiceDeps;
  readonly #timing: ChangeTiming;

  constructor(deps: AdminServiceDeps) {
    this.#deps = deps;
    this.#timing = {
      minIdleMs: requiredIdleMs(deps.options),
      waitMs: generationWaitMs(deps.options.touchFlushIntervalMs),
      sleep: (ms) => sleep(ms),
    };
  }

  get maxGroupBytes(): number {
    return this.#deps.options.maxGroupBytes;
  }

  topics(): Promise<string[]> {
    return this.#deps.store.router.topics();
  }

  async mapping(topic: string, group: string): Promise<MappingView> {
    const buckets = await this.#buckets(topic);
    const stored = buckets === undefined ? undefined : await this.#deps.store.router.lookup(topic, buckets, group, groupHash(group));
    if (!stored) throw notMapped(topic, group);
    return { topic, group, partition: stored.partition, last_access: stored.lastAccess.toISOString() };
  }

  async list(topic: string, cursor: string | undefined, limit: number): Promise<GroupPage> {
    const buckets = await this.#buckets(topic);
    if (buckets === undefined) return { groups: [], next_cursor: null };
    return listGroups(this.#deps.store, topic, buckets, cursor, limit);
  }

  /** Groups per partition, every partition Kafka has (empty ones included). */
  async loads(topic: string): Promise<LoadsView> {
    const count = await this.#deps.partitionCount(topic);
    const loads = await this.#deps.store.router.loads(topic, count);
    return {
      topic,
      partitions: loads.map((groups, partition) => ({ partition, groups })),
      total: loads.reduce((a, b) => a + b, 0),
      max_minus_min: Math.max(...loads) - Math.min(...loads),
      deviation: loadDeviation(loads),
    };
  }

  /** Deletes an idle mapping; the group's next message is routed afresh (least loaded). */
  release(topic: string, group: string): Promise<ChangeView> {
    return this.#change(topic, group, undefined);
  }

  /** Moves an idle group to `partition`, only when that is safe (see mapping-change.ts). */
  async move(topic: string, group: string, partition: number): Promise<ChangeView> {
    const count = await this.#deps.partitionCount(topic);
    if (partition >= count) {
      throw new SidecarError('CONFLICT', `partition ${partition} does not exist: topic "${topic}" has ${count} partitions (0-${count - 1})`, {
        field: 'partition',
      });
    }
    return this.#change(topic, group, partition);
  }

  async #change(topic: string, group: string, to: number | undefined): Promise<ChangeView> {
    const buckets = await this.#buckets(topic);
    const stored = buckets === undefined ? undefined : await this.#deps.store.router.lookup(topic, buckets, group, groupHash(group));
    if (buckets === undefined || !stored) throw notMapped(topic, group);
    if (to === stored.partition) {
      throw new SidecarError('CONFLICT', `group "${group}" is already mapped to partition ${to}`, { field: 'partition' });
    }
    const { store, log, forget } = this.#deps;
    const outcome = await applyChange(store, this.#timing, { topic, buckets, group, from: stored.partition, to }, log);
    forget(topic, group);
    log.info(to === undefined ? 'admin released a MessageGroup mapping' : 'admin moved a MessageGroup', { topic, group, from: outcome.partition, to });
    return {
      topic,
      group,
      partition: to ?? null,
      last_access: (outcome.lastAccess ?? stored.lastAccess).toISOString(),
      previous_partition: outcome.partition,
      released: to === undefined,
    };
  }

  #buckets(topic: string): Promise<number | undefined> {
    return this.#deps.store.router.bucketCount(topic);
  }
}

const notMapped = (topic: string, group: string): SidecarError =>
  new SidecarError('NOT_FOUND', `group "${group}" has no mapping in topic "${topic}"`, { field: 'group' });
