import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listGroups } from '../../src/admin/list-groups.ts';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import { connectRedis, isolatedStore, type IsolatedStore } from '../support/redis.ts';

/**
 * Listing a topic whose one bucket holds enough groups to be a hash table, which HSCAN reads in parts whose
 * extent depends on its COUNT hint and on the hash's changes: every group present for the whole listing comes
 * back once, whatever the page sizes and whatever is removed meanwhile. (A backfill lists the same way.)
 */

const TOPIC = 'orders';
const BUCKETS = 1;
let redis: RedisClient;
let isolated: IsolatedStore;

beforeAll(() => {
  redis = connectRedis();
  isolated = isolatedStore(redis);
});

afterAll(async () => {
  await isolated.drop();
  await redis.quit();
});

async function plant(names: string[]): Promise<void> {
  const minute = Math.floor(Date.now() / 60_000);
  await redis.hset(isolated.keys(TOPIC).bucket(0), Object.fromEntries(names.map((g) => [g, `0:${minute}`])));
}

/** Every page, with `limits[i]` for page i (the last one repeats); `between` runs after each page. */
async function walk(limits: number[], between: (page: number) => Promise<void> = async () => undefined): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; ; i++) {
    const page = await listGroups(isolated.admin, TOPIC, BUCKETS, { cursor, limit: limits[Math.min(i, limits.length - 1)]!, prefix: '' });
    seen.push(...page.groups.map((g) => g.group));
    if (page.next_cursor === null) return seen;
    cursor = page.next_cursor;
    await between(i);
  }
}

describe('listing the groups of a bucket HSCAN reads in parts', () => {
  const kept = Array.from({ length: 1000 }, (_, i) => `g-${String(i).padStart(5, '0')}`);

  it('returns each group once when the page size changes between pages', async () => {
    await plant(kept);
    expect(await redis.object('ENCODING', isolated.keys(TOPIC).bucket(0))).toBe('hashtable');
    for (const limits of [[10, 1000], [7, 300, 10], [100]]) {
      const seen = await walk(limits);
      expect(seen.length, `limits ${limits.join(',')}`).toBe(kept.length);
      expect(new Set(seen)).toEqual(new Set(kept));
    }
  });

  it('returns every group that stays when others are removed between pages', async () => {
    const removed = Array.from({ length: 400 }, (_, i) => `r-${String(i).padStart(5, '0')}`);
    await plant(removed);
    const key = isolated.keys(TOPIC).bucket(0);
    const seen = await walk([30], async (page) => {
      if (page < 20) await redis.hdel(key, ...removed.slice(page * 20, page * 20 + 20));
    });
    expect(kept.filter((g) => !seen.includes(g))).toEqual([]);
    expect(seen.length).toBe(new Set(seen).size);
  });
});
