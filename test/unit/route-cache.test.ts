import { describe, expect, it } from 'vitest';
import { RouteCache, type CachedRoute } from '../../src/routing/route-cache.ts';

const route = (partition: number): CachedRoute => ({ partition, hash: partition * 7, confirmedAt: partition * 10 });

const filled = (capacity: number, keys: string[]): RouteCache => {
  const cache = new RouteCache(capacity);
  keys.forEach((key, i) => cache.set(key, route(i)));
  return cache;
};

describe('RouteCache (LRU)', () => {
  it('stores and returns entries', () => {
    const cache = filled(3, ['a', 'b']);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toEqual(route(0));
    expect(cache.get('b')).toEqual(route(1));
    expect(cache.get('missing')).toBeUndefined();
  });

  it('evicts the least recently inserted entry when over capacity', () => {
    const cache = filled(3, ['a', 'b', 'c', 'd']);
    expect(cache.size).toBe(3);
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('b')).toBeDefined();
    cache.set('e', route(4));
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('c')).toBeDefined();
  });

  it('get refreshes recency, so the entry survives the next eviction', () => {
    const cache = filled(3, ['a', 'b', 'c']);
    cache.get('a');
    cache.set('d', route(3));
    expect(cache.peek('a')).toBeDefined();
    expect(cache.peek('b')).toBeUndefined();
  });

  it('peek does not refresh recency', () => {
    const cache = filled(3, ['a', 'b', 'c']);
    expect(cache.peek('a')).toEqual(route(0));
    cache.set('d', route(3));
    expect(cache.peek('a')).toBeUndefined();
  });

  it('set on an existing key replaces it, refreshes recency and does not grow the cache', () => {
    const cache = filled(3, ['a', 'b', 'c']);
    cache.set('a', route(9));
    expect(cache.size).toBe(3);
    cache.set('d', route(3));
    expect(cache.peek('a')).toEqual(route(9));
    expect(cache.peek('b')).toBeUndefined();
  });

  it('delete removes an entry', () => {
    const cache = filled(3, ['a', 'b']);
    cache.delete('a');
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('returns the stored object, so a flush can update confirmedAt in place', () => {
    const cache = filled(2, ['a']);
    cache.peek('a')!.confirmedAt = 12345;
    expect(cache.get('a')?.confirmedAt).toBe(12345);
  });

  it('caches nothing with capacity 0', () => {
    const cache = filled(0, ['a', 'b']);
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
  });

  it('keeps exactly one entry with capacity 1', () => {
    const cache = filled(1, ['a', 'b']);
    expect(cache.size).toBe(1);
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('b')).toEqual(route(1));
  });
});
