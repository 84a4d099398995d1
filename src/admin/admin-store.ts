/**
 * The admin tools' port to the mapping store: they read and change single mappings, walk a topic's buckets
 * and bump its mapping generation. The admin part owns it; `src/redis` implements it (RedisAdminStore). A call
 * fails with the store errors of src/errors/store-errors.ts when the store is the problem.
 */

/** What the store says of one reassignment: applied, or why not. */
export type ReassignStatus = 'ok' | 'missing' | 'changed' | 'busy';

export interface StoredMapping {
  partition: number;
  lastAccess: Date;
}

export interface BucketEntry extends StoredMapping {
  group: string;
}

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
  /** The partition the mapping named when the store ran the change (-1 when missing). */
  partition: number;
  /** Start of the minute of the last access, by the store's clock (undefined when missing). */
  lastAccess: Date | undefined;
  /** The store's clock when it ran the change. */
  now: Date;
}

export interface AdminStore {
  /** Every topic the store holds routing state of, sorted. */
  topics(): Promise<string[]>;
  /** The topic's bucket count, or undefined when the store has no state of it. */
  bucketCount(topic: string): Promise<number | undefined>;
  /** The group's mapping, or undefined when it has none. */
  lookup(topic: string, buckets: number, group: string, hash: number): Promise<StoredMapping | undefined>;
  /**
   * One scan step over each of `count` buckets from `first`. The first bucket resumes at `cursor`; the others
   * start at '0'. Entries come back sorted by group so a page can stop inside a step and resume after a group.
   * Only groups whose names start with `prefix` ('' for all) are returned.
   */
  scanBuckets(topic: string, first: number, cursor: string, count: number, hint: number, prefix: string): Promise<{ next: string; entries: BucketEntry[] }[]>;
  /** Moves or releases one mapping atomically, only if it is idle enough and still names `from`. */
  reassign(topic: string, buckets: number, r: Reassignment): Promise<ReassignOutcome>;
  /** Bumps the topic's mapping generation: every replica drops its cached routes of the topic. */
  bumpGeneration(topic: string): Promise<number>;
  /** Groups mapped to each partition 0..partitions-1, and to partitions past them (a topic recreated smaller). */
  partitionLoads(topic: string, partitions: number): Promise<{ loads: number[]; beyond: number }>;
}
