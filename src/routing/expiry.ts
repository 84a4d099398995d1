/**
 * The time arithmetic that keeps the local cache from outliving Redis. Redis stamps last access in whole
 * minutes by its own clock, and cleanup removes a mapping whose stamp is older than now - TTL. A replica
 * that saw its mapping confirmed by Redis at local time t therefore knows the mapping survives until at
 * least t + TTL - 1 minute (the stamp may be floored by up to a minute). It trusts its cached copy for less
 * than that, minus the touch-flush delay and a minute of slack, and asks Redis again afterwards.
 */

const MINUTE = 60_000;

/** TTL as the whole number of minutes the cleanup script compares against (never shorter than configured). */
export const ttlMinutes = (groupTtlMs: number): number => Math.ceil(groupTtlMs / MINUTE);

/** How long a cached mapping may be used without hearing from Redis; 0 disables caching. */
export function cacheValidityMs(groupTtlMs: number, touchFlushIntervalMs: number): number {
  return Math.max(0, groupTtlMs - 2 * MINUTE - 2 * touchFlushIntervalMs);
}

/** Mirrors `cleanup-bucket-3.lua`: whether a mapping last used at `lastAccessMinute` is removed at `nowMinute`. */
export const isExpired = (lastAccessMinute: number, nowMinute: number, ttlMin: number): boolean => lastAccessMinute < nowMinute - ttlMin;
