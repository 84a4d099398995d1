import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import type { RedisClient } from './redis-connection.ts';
import type { ReassignStatus } from '../admin/admin-store.ts';

/**
 * Every Lua script of the sidecar, registered once per connection (by RedisGateway). ioredis sends EVALSHA
 * and falls back to EVAL after a Redis restart. The typed signatures below extend ioredis's own command
 * interface, so each call is checked with no cast, on the connection and in pipelines alike.
 */
declare module 'ioredis' {
  interface RedisCommander<Context> {
    osRoute(
      bucketKey: string,
      loadsKey: string,
      metaKey: string,
      group: string,
      partitions: number,
      preference: string,
      epoch: string,
      logged: 0 | 1,
    ): Result<[partition: number, status: number], Context>;
    osMarkLogged(metaKey: string, group: string, epoch: string): Result<number, Context>;
    osRecord(bucketKey: string, loadsKey: string, metaKey: string, group: string, partition: number, epoch: string, logged: 0 | 1): Result<number, Context>;
    osTouch(numKeys: number, ...keysThenArgs: (string | number)[]): Result<number[] | number, Context>;
    osCleanupBucket(bucketKey: string, loadsKey: string, metaKey: string, ttlMinutes: number): Result<string[], Context>;
    osRestoreBucket(bucketKey: string, loadsKey: string, metaKey: string, ...groupPartitionPairs: string[]): Result<number, Context>;
    osUnlock(lockKey: string, owner: string): Result<number, Context>;
    osExtendLock(lockKey: string, owner: string, ttlMs: number): Result<number, Context>;
    osDedupClaim(numKeys: number, ...keysThenArgs: (string | number)[]): Result<string[], Context>;
    osDedupSettle(sliceKey: string, ttlSeconds: number, ...pairs: string[]): Result<number, Context>;
    osDedupRenew(numKeys: number, ...keysThenArgs: (string | number)[]): Result<number, Context>;
    osLeaseTake(numKeys: number, ...keysThenArgs: (string | number)[]): Result<number[], Context>;
    osLeaseRelease(numKeys: number, ...keysThenArgs: string[]): Result<number, Context>;
    osAdminReassign(
      bucketKey: string,
      loadsKey: string,
      group: string,
      from: number,
      to: number,
      minIdleMs: number,
      dryRun: 0 | 1,
    ): Result<[ReassignStatus, number, number, number], Context>;
  }
}

/** Command name -> script file and its fixed key count (none: the caller passes the count first). */
export const SCRIPTS = {
  osRoute: { file: 'route-3.lua', keys: 3 },
  osMarkLogged: { file: 'mark-logged-1.lua', keys: 1 },
  osRecord: { file: 'record-3.lua', keys: 3 },
  osRestoreBucket: { file: 'restore-bucket-3.lua', keys: 3 },
  osUnlock: { file: 'unlock-1.lua', keys: 1 },
  osExtendLock: { file: 'extend-lock-1.lua', keys: 1 },
  osTouch: { file: 'touch.lua' },
  osCleanupBucket: { file: 'cleanup-bucket-3.lua', keys: 3 },
  osDedupClaim: { file: 'dedup-claim.lua' },
  osDedupSettle: { file: 'dedup-settle-1.lua', keys: 1 },
  osDedupRenew: { file: 'dedup-renew.lua' },
  osLeaseTake: { file: 'lease-take.lua' },
  osLeaseRelease: { file: 'lease-release.lua' },
  osAdminReassign: { file: 'admin-reassign-2.lua', keys: 2 },
} satisfies Record<string, { file: string; keys?: number }>;

const sources = new Map(Object.entries(SCRIPTS).map(([name, { file }]) => [name, readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8')]));

export function registerScripts(redis: RedisClient): void {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    const keys: number | undefined = 'keys' in script ? script.keys : undefined;
    redis.defineCommand(name, { lua: sources.get(name)!, ...(keys === undefined ? {} : { numberOfKeys: keys }) });
  }
}
