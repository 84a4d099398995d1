import { setTimeout as sleep } from 'node:timers/promises';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import type { AdminStore } from './admin-store.ts';
import { groupHash } from '../routing/hashing.ts';
import { loadDeviation } from '../routing/least-loaded.ts';
import type { BackfillView, ChangeView, GroupPage, LoadsView, MappingView, RebuildView, ResumeView } from '../protocol/admin.ts';
import type { RouteLog } from '../routing/route-log.ts';
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
  /** The route log moves and releases are written to (undefined when off). */
  routeLog: RouteLog | undefined;
  /** Restores from the route log the mappings of a topic Redis misses; returns how many (OrderedMessageRouter.rebuild). */
  rebuild: (topic: string) => Promise<number>;
  /** Lets new groups of a held topic be assigned again; false when Redis has no state of it (OrderedMessageRouter.resume). */
  resume: (topic: string) => Promise<boolean>;
  options: AdminOptions;
  log: Logger;
}

/**
 * Idle time a change requires: the configured minimum, but never less than the longest a message routed
 * just before could still be on its way to Kafka, plus the touch batching that reports cache hits to Redis late.
 * After Redis stamps the route, three waits may follow, each a queue wait and a write bounded by
 * KAFKA_WRITE_TIMEOUT: the route log append of a new mapping, the wait for an earlier attempt of one of the
 * message's dedup ids, and the message's own write.
 */
export const requiredIdleMs = (o: AdminOptions): number => Math.max(o.moveMinIdleMs, 6 * o.kafkaWriteTimeoutMs + 2 * o.touchFlushIntervalMs);

/**
 * How long a change waits between bumping the generation and applying it: more than two touch-flush
 * intervals, so every replica that reaches Redis has run a flush (generation check, then the touches of
 * its cache hits) that started after the bump, even if one flush was already running at the time.
 */
export const generationWaitMs = (touchFlushIntervalMs: number): number => 2 * touchFlushIntervalMs + Math.max(100, touchFlushIntervalMs / 2);

/** Mappings read from Redis and appended to the route log at a time by a backfill. */
const BACKFILL_PAGE = 500;

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
    return this.#deps.store.topics();
  }

  async mapping(topic: string, group: string): Promise<MappingView> {
    const buckets = await this.#buckets(topic);
    const stored = buckets === undefined ? undefined : await this.#deps.store.lookup(topic, buckets, group, groupHash(group));
    if (!stored) throw notMapped(topic, group);
    return { topic, group, partition: stored.partition, last_access: stored.lastAccess.toISOString() };
  }

  /** One page of the topic's groups whose names start with `page.prefix` ('' for all). */
  async list(topic: string, page: { cursor: string | undefined; limit: number; prefix: string }): Promise<GroupPage> {
    const buckets = await this.#buckets(topic);
    if (buckets === undefined) return { groups: [], next_cursor: null };
    return listGroups(this.#deps.store, topic, buckets, page);
  }

  /**
   * Groups per partition, every partition Kafka has (empty ones included), and how many groups are mapped to
   * partitions it no longer has (the topic deleted and created again smaller: each needs a release).
   */
  async loads(topic: string): Promise<LoadsView> {
    const count = await this.#deps.partitionCount(topic);
    const { loads, beyond } = await this.#deps.store.partitionLoads(topic, count);
    return {
      topic,
      partitions: loads.map((groups, partition) => ({ partition, groups })),
      total: loads.reduce((a, b) => a + b, 0),
      beyond_topic: beyond,
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
    const stored = buckets === undefined ? undefined : await this.#deps.store.lookup(topic, buckets, group, groupHash(group));
    if (buckets === undefined || !stored) throw notMapped(topic, group);
    if (to === stored.partition) {
      throw new SidecarError('CONFLICT', `group "${group}" is already mapped to partition ${to}`, { field: 'partition' });
    }
    const { store, log, forget, routeLog } = this.#deps;
    const logChange = async (partition: number | null): Promise<void> => {
      try {
        await routeLog?.append([{ topic, group, partition, buckets }]);
      } catch (err) {
        throw new SidecarError(
          'KAFKA_UNAVAILABLE',
          `the route log could not record the change of group "${group}"; nothing was changed in Redis, retry shortly`,
          {
            cause: err,
          },
        );
      }
    };
    const outcome = await applyChange(store, this.#timing, { topic, buckets, group, from: stored.partition, to }, log, logChange);
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

  /** Restores from the route log every mapping of the topic Redis misses (after a loss it could not detect, say). */
  async rebuild(topic: string): Promise<RebuildView> {
    // A topic Kafka does not have is a 404 (UNKNOWN_TOPIC) before Redis is touched: a rebuild would stamp it
    // and list it among the topics with state, though nothing can ever be routed to it.
    await this.#deps.partitionCount(topic);
    const restored = await this.#deps.rebuild(topic);
    this.#deps.log.warn('admin rebuilt the routing state of a topic from the route log', { topic, restored });
    return { topic, restored };
  }

  /**
   * Writes every mapping Redis has of the topic to the route log: those made before the log was turned on
   * are not in it, and a rebuild would not restore them. A page of mappings at a time (memory stays bounded
   * by the page), each page one append; repeating it only writes the same records again.
   */
  async backfill(topic: string): Promise<BackfillView> {
    const { routeLog, store, log } = this.#deps;
    if (!routeLog) throw new SidecarError('CONFLICT', 'the route log is off (ROUTE_LOG=false): there is nothing to backfill');
    const buckets = await this.#buckets(topic);
    if (buckets === undefined) throw new SidecarError('NOT_FOUND', `topic "${topic}" has no routing state in Redis`, { field: 'topic' });
    let logged = 0;
    let cursor: string | undefined;
    do {
      const page = await listGroups(store, topic, buckets, { cursor, limit: BACKFILL_PAGE, prefix: '' });
      try {
        await routeLog.append(page.groups.map((g) => ({ topic, group: g.group, partition: g.partition, buckets })));
      } catch (err) {
        throw new SidecarError('KAFKA_UNAVAILABLE', `the route log refused a page of topic "${topic}" after ${logged} mappings; run the backfill again`, {
          cause: err,
        });
      }
      logged += page.groups.length;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    log.warn('admin wrote the MessageGroup mappings of a topic from Redis to the route log', { topic, logged });
    return { topic, logged };
  }

  /** An operator vouches for a topic whose state was lost with the route log off: new groups may be assigned again. */
  async resume(topic: string): Promise<ResumeView> {
    if (!(await this.#deps.resume(topic))) throw new SidecarError('NOT_FOUND', `topic "${topic}" has no routing state in Redis`, { field: 'topic' });
    this.#deps.log.warn('admin resumed assigning new MessageGroups of a topic whose state had been lost', { topic });
    return { topic, resumed: true };
  }

  #buckets(topic: string): Promise<number | undefined> {
    return this.#deps.store.bucketCount(topic);
  }
}

const notMapped = (topic: string, group: string): SidecarError =>
  new SidecarError('NOT_FOUND', `group "${group}" has no mapping in topic "${topic}"`, { field: 'group' });
