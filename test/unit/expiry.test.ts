import { describe, expect, it } from 'vitest';
import { cacheValidityMs, isExpired, ttlMinutes } from '../../src/routing/expiry.ts';
// Deterministic, so a failing case can be reproduced; the benchmarks use the same generator.
import { prng as random } from '../../bench/support/prng.ts';

const MINUTE = 60_000;

describe('ttlMinutes', () => {
  it('rounds up to whole minutes, never shortening the TTL', () => {
    expect(ttlMinutes(60_000)).toBe(1);
    expect(ttlMinutes(60_001)).toBe(2);
    expect(ttlMinutes(90_000)).toBe(2);
    expect(ttlMinutes(24 * 60 * MINUTE)).toBe(1440);
  });
});

describe('isExpired (mirrors cleanup-bucket-3.lua)', () => {
  it('keeps a mapping stamped exactly at the cutoff', () => {
    expect(isExpired(95, 100, 5)).toBe(false);
  });

  it('removes a mapping stamped before the cutoff', () => {
    expect(isExpired(94, 100, 5)).toBe(true);
  });

  it('keeps a mapping used this minute', () => {
    expect(isExpired(100, 100, 5)).toBe(false);
  });
});

describe('cacheValidityMs', () => {
  it('is the TTL minus two minutes and two flush intervals', () => {
    expect(cacheValidityMs(24 * 60 * MINUTE, 1000)).toBe(24 * 60 * MINUTE - 2 * MINUTE - 2000);
    expect(cacheValidityMs(10 * MINUTE, 30_000)).toBe(7 * MINUTE);
  });

  it('is 0 (no caching) when the TTL leaves no room for the margin, never negative', () => {
    expect(cacheValidityMs(MINUTE, 1000)).toBe(0);
    expect(cacheValidityMs(2 * MINUTE, 0)).toBe(0);
    expect(cacheValidityMs(2 * MINUTE, 60_000)).toBe(0);
  });

  it('is always shorter than the TTL', () => {
    const rand = random(7);
    for (let i = 0; i < 1000; i++) {
      const ttl = MINUTE + Math.floor(rand() * 7 * 24 * 60 * MINUTE);
      const flush = 10 + Math.floor(rand() * 60_000);
      expect(cacheValidityMs(ttl, flush)).toBeLessThan(ttl);
    }
  });
});

/**
 * The safety property, in a model of Redis: a mapping confirmed at local time t was stamped by Redis with
 * floor(r / minute) for some r >= t (worst case r = t). Cleanup at time c removes it when
 * stamp < floor(c / minute) - ttlMinutes. The cache trusts the mapping while c - t < validity.
 * Then cleanup must never remove the mapping at any instant the cache still trusts it.
 */
function removedWhileTrusted(ttlMs: number, validityMs: number, confirmedAt: number): boolean {
  if (validityMs <= 0) return false;
  const stamp = Math.floor(confirmedAt / MINUTE);
  // Removal is monotonic in time, so the last trusted millisecond is the worst case.
  const lastTrusted = confirmedAt + validityMs - 1;
  const nowMinute = Math.floor(lastTrusted / MINUTE);
  const removedByModel = stamp < nowMinute - ttlMinutes(ttlMs);
  expect(isExpired(stamp, nowMinute, ttlMinutes(ttlMs))).toBe(removedByModel);
  return removedByModel;
}

describe('cache validity vs cleanup (property)', () => {
  it('a mapping confirmed at t is never removed while the cache still trusts it', () => {
    const rand = random(42);
    for (let i = 0; i < 20_000; i++) {
      const ttl = rand() < 0.5 ? (1 + Math.floor(rand() * 2000)) * MINUTE : MINUTE + Math.floor(rand() * 3 * 24 * 60 * MINUTE);
      const flush = 10 + Math.floor(rand() * (60_000 - 10));
      // Random instants, with a bias towards the edges of a minute where flooring hurts most.
      const minuteStart = Math.floor(rand() * 30_000_000) * MINUTE;
      const edge = rand();
      const t = edge < 0.3 ? minuteStart : edge < 0.6 ? minuteStart + MINUTE - 1 : minuteStart + Math.floor(rand() * MINUTE);
      const validity = cacheValidityMs(ttl, flush);
      expect(removedWhileTrusted(ttl, validity, t), `ttl=${ttl} flush=${flush} t=${t} validity=${validity}`).toBe(false);
    }
  });

  it('the model does catch an unsafe validity (TTL plus a minute)', () => {
    const ttl = 10 * MINUTE;
    const t = 6 * MINUTE - 1; // confirmed in the last millisecond of minute 5: the stamp lags by almost a minute
    expect(removedWhileTrusted(ttl, ttl + MINUTE, t)).toBe(true);
    expect(removedWhileTrusted(ttl, cacheValidityMs(ttl, 1000), t)).toBe(false);
  });
});
