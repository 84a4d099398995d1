import type { GroupPage, GroupView } from '../protocol/admin.ts';
import type { AdminStore } from './admin-store.ts';
import { START, decodeCursor, encodeCursor, type ListPosition } from './list-cursor.ts';

/** Buckets per pipelined round trip when walking fresh buckets: most are tiny or empty in a sparse topic. */
const SCAN_SPAN = 64;

/**
 * One page of a topic's mappings, bucket by bucket with HSCAN (never HGETALL over a whole topic, never
 * KEYS). Every group that exists for the whole listing is returned once; groups added or removed while
 * listing may or may not appear (SCAN's own guarantee). A page holds `limit` groups, or a few more when a
 * large bucket is read in parts (below).
 */
export async function listGroups(
  store: AdminStore,
  topic: string,
  buckets: number,
  page: { cursor: string | undefined; limit: number; prefix: string },
): Promise<GroupPage> {
  const { cursor, limit, prefix } = page;
  let at: ListPosition = decodeCursor(cursor, buckets);
  const groups: GroupView[] = [];
  walk: while (groups.length < limit && at.bucket < buckets) {
    const fresh = at.scan === '0' && at.after === undefined;
    const span = fresh ? Math.min(SCAN_SPAN, buckets - at.bucket) : 1;
    // About what the page has room for: a bucket read in parts (a hash table, past 128 groups or with a long
    // group name) comes in steps of about this many, and a step that overflows the page is returned whole.
    const hint = Math.max(limit - groups.length, 10);
    const steps = await store.scanBuckets(topic, at.bucket, at.scan, span, hint, prefix);
    for (const step of steps) {
      const after = at.after;
      const entries = after === undefined ? step.entries : step.entries.filter((e) => e.group > after);
      const room = limit - groups.length;
      if (entries.length > room && step.next !== '0') {
        // Not cut: the step's coverage depends on the hint and on the hash's changes since, so the same step
        // read again can cover more of it, and its groups below the cut would be skipped.
        for (const e of entries) groups.push(view(e));
        at = within(at.bucket, step.next, after);
        break walk;
      }
      if (entries.length > room) {
        // The rest of the bucket from this cursor: read again, it covers no more than this read did.
        for (const e of entries.slice(0, room)) groups.push(view(e));
        at = { bucket: at.bucket, scan: at.scan, after: groups.at(-1)!.group };
        break walk;
      }
      for (const e of entries) groups.push(view(e));
      if (step.next !== '0') {
        // This bucket continues; the steps pipelined for later buckets started too early to use.
        at = within(at.bucket, step.next, after);
        continue walk;
      }
      at = { ...START, bucket: at.bucket + 1 };
      if (groups.length >= limit) break walk;
    }
  }
  return { groups, next_cursor: at.bucket < buckets ? encodeCursor(at) : null };
}

/**
 * Further on in the same bucket. `after` stays: a bucket resumed after a cut (read again from its cursor) had
 * every group up to `after` returned, and a read again may end sooner, so the rest of it is still filtered.
 */
const within = (bucket: number, scan: string, after: string | undefined): ListPosition => (after === undefined ? { bucket, scan } : { bucket, scan, after });

const view = (e: { group: string; partition: number; lastAccess: Date }): GroupView => ({
  group: e.group,
  partition: e.partition,
  last_access: e.lastAccess.toISOString(),
});
