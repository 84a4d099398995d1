import type { RedisClient } from './redis-connection.ts';
import { bucketOf } from '../routing/hashing.ts';
import { parseMapping, type RouterStore, type StoredMapping } from './router-store.ts';
import type { ReassignStatus } from './scripts.ts';

export type { ReassignStatus };

/** How the operator wants a mapping changed: moved to `to`, or released (`to` undefined). */
export interface Reassignment {
  group: string;
  hash: number;
  /** Partition the mapping must still name (compare-and-set). */
  from: number;
  /** Partition to move to; undefined releases the mapping. */
  to?: number | undefined;
  minIdleMs: number;
  /** Check only; write nothing. */
  dryRun: boolean;
}

export interface ReassignOutcome {
  status: ReassignStatus;
  /** The partition the mapping named when the script ran (-1 when missing). */
  partition: number;
  /** Start of the minute of the last access, by Redis's clock (undefined when missing). */
  lastAccess: Date | undefined;
  /** Redis's clock when the script ran. */
  now: Date;
}

export interface BucketEntry extends StoredMapping {
  group: string;
}

/**
 * The typed gateway for the admin tools. Reads and writes the router's keys (through RouterStore's key
 * layout), so it lives next to RouterStore; only the admin service uses it.
 */
export class AdminStore {
  readonly router: RouterStore;
  readonly #redis: RedisClient;

  constructor(router: RouterStore) {
    this.router = router;
    this.#redis = router.redis;
  }

  async reassign(topic: string, buckets: number, r: Reassignment): Promise<ReassignOutcome> {
    const keys = this.router.keys(topic);
    const [status, partition, minute, nowMs] = await this.router.gateway.run(() =>
      this.#redis.osAdminReassign(keys.bucket(bucketOf(r.hash, buckets)), keys.loads, r.group, r.from, r.to ?? -1, r.minIdleMs, r.dryRun ? 1 : 0),
    );
    return { status, partition, lastAccess: minute < 0 ? undefined : new Date(minute * 60_000), now: new Date(nowMs) };
  }

  /**
   * One HSCAN step over each of `count` buckets from `first` (pipelined: sparse topics have many empty
   * buckets). The first bucket resumes at `cursor`; the others start at 0. Entries come back sorted by
   * group so a page can stop inside a step and resume after a group name.
   */
  async scanBuckets(
    topic: string,
    first: number,
    cursor: string,
    count: number,
    hint: number,
    prefix = '',
  ): Promise<{ next: string; entries: BucketEntry[] }[]> {
    const keys = this.router.keys(topic);
    const pipeline = this.#redis.pipeline();
    // MATCH filters in Redis, so a prefix listing carries only its groups; glob characters in the prefix are literal.
    const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    for (let b = first; b < first + count; b++) pipeline.hscan(keys.bucket(b), b === first ? cursor : '0', 'MATCH', match, 'COUNT', hint);
    // A reply's error is thrown inside `run`, so the gateway says what it means (refused, busy), as for one command.
    const results = await this.router.gateway.run(async () =>
      ((await pipeline.exec()) ?? []).map(([err, reply]) => {
        if (err) throw err;
        return reply;
      }),
    );
    return results.map((reply) => {
      const [next, flat] = reply as [string, string[]];
      const entries: BucketEntry[] = [];
      for (let i = 0; i < flat.length; i += 2) entries.push({ group: flat[i]!, ...parseMapping(flat[i + 1]!) });
      entries.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
      return { next, entries };
    });
  }
}
