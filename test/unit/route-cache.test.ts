import { describe, expect, it } from 'vitest';
import { RouteCache, type CachedRoute } from '../../src/routing/route-cache.ts';

const route = (partition: number): CachedRoute => ({ partition, hash: partition * 7, confirmedAt: 0 });

function filled(capacity: number, groups: string[], topic = 't'): RouteCache {
  const cache = new RouteCache(capacity);
  groups.forEach((g, i) => cache.set(topic, g, route(i)));
  return cache;
}

describe('RouteCache', () => {
  it('returns what was set, per topic and group', () => {
    const cache = new RouteCache(10);
    cache.set('a', 'g', route(1));
    cache.set('b', 'g', route(2));
    expect(cache.get('a', 'g')?.partition).toBe(1);
    expect(cache.get('b', 'g')?.partition).toBe(2);
    expect(cache.get('c', 'g')).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('never holds more than its capacity', () => {
    const cache = filled(
      100,
      Array.from({ length: 1000 }, (_, i) => `g${i}`),
    );
    expect(cache.size).toBe(100);
  });

  it('evicts the oldest entry that was not used since it was cached', () => {
    const cache = filled(3, ['a', 'b', 'c']);
    cache.get('t', 'a');
    cache.set('t', 'd', route(9));
    expect(cache.peek('t', 'a')).toBeDefined();
    expect(cache.peek('t', 'b')).toBeUndefined();
    expect(cache.peek('t', 'c')).toBeDefined();
    expect(cache.peek('t', 'd')).toBeDefined();
  });

  it('gives a used entry one second chance only', () => {
    const cache = filled(2, ['a', 'b']);
    cache.get('t', 'a');
    cache.get('t', 'b');
    cache.set('t', 'c', route(3)); // both used: flags cleared, then the oldest (a) goes
    expect(cache.peek('t', 'a')).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('does not count peek as a use', () => {
    const cache = filled(2, ['a', 'b']);
    cache.peek('t', 'a');
    cache.set('t', 'c', route(3));
    expect(cache.peek('t', 'a')).toBeUndefined();
    expect(cache.peek('t', 'b')).toBeDefined();
  });

  it('evicts from the largest topic, so a small topic keeps its routes', () => {
    const cache = new RouteCache(4);
    cache.set('small', 'x', route(0));
    for (const g of ['a', 'b', 'c', 'd']) cache.set('big', g, route(1));
    expect(cache.peek('small', 'x')).toBeDefined();
    expect(cache.size).toBe(4);
  });

  it('replaces an entry in place without growing', () => {
    const cache = filled(2, ['a', 'b']);
    cache.set('t', 'a', route(5));
    expect(cache.get('t', 'a')?.partition).toBe(5);
    expect(cache.size).toBe(2);
  });

  it('deletes single routes and whole topics, keeping the size right', () => {
    const cache = new RouteCache(10);
    cache.set('a', 'g1', route(1));
    cache.set('a', 'g2', route(2));
    cache.set('b', 'g1', route(3));
    cache.delete('a', 'g1');
    cache.delete('a', 'missing');
    expect(cache.size).toBe(2);
    cache.deleteTopic('a');
    expect(cache.size).toBe(1);
    expect(cache.peek('a', 'g2')).toBeUndefined();
    expect(cache.peek('b', 'g1')?.partition).toBe(3);
  });

  it('caches nothing with capacity 0', () => {
    const cache = filled(0, ['a']);
    expect(cache.get('t', 'a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
