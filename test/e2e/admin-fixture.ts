import type { RedisClient } from '../../src/redis/redis-connection.ts';
export { dropPrefix } from '../support/redis.ts';
import { expect } from 'vitest';
import { topicKeys } from '../../src/redis/keys.ts';
import { bucketOf, groupHash } from '../../src/routing/hashing.ts';
import type { ProduceResponse } from '../../src/protocol/produce.ts';
import { postJson } from '../support/http.ts';

/** Shared by the admin HTTP and CLI tests: calls, produce, and the one Redis write the tests need (an old stamp). */

export interface AdminAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function adminCall<T = any>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<AdminAnswer<T>> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  // As the CLI: the sidecar refuses a POST not declared JSON, bodyless or not (same-origin-guard.ts).
  if (method !== 'GET') headers['content-type'] = 'application/json';
  const response = await fetch(`${base}/admin/v1${path}`, { method, headers, body: options.body === undefined ? null : JSON.stringify(options.body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** Produces one message per group through `sidecar`; returns each group's partition. */
export async function produceGroups(sidecar: string, topic: string, groups: readonly string[], value = 'v'): Promise<Map<string, number>> {
  const { status, body } = await postJson<ProduceResponse>(`${sidecar}/v1/ordered-produce`, {
    topic,
    messages: groups.map((g) => ({ message_group: g, value: `${g}:${value}` })),
  });
  expect(status, JSON.stringify(body)).toBe(200);
  return new Map(groups.map((g, i) => [g, body.results[i]!.partition as number]));
}

/**
 * Makes a group look idle: rewrites its last-access minute to `minutesAgo` minutes before Redis's clock
 * (mapping values are "partition:minute"). Waiting out the real idle time would make every test minutes long.
 */
export async function makeIdle(redis: RedisClient, prefix: string, topic: string, group: string, minutesAgo = 10): Promise<void> {
  const keys = topicKeys(prefix, topic);
  const buckets = Number(await redis.hget(keys.meta, 'buckets'));
  const bucket = keys.bucket(bucketOf(groupHash(group), buckets));
  const value = await redis.hget(bucket, group);
  expect(value, `mapping of ${group}`).not.toBeNull();
  const [seconds] = await redis.time();
  const minute = Math.floor(Number(seconds) / 60) - minutesAgo;
  await redis.hset(bucket, group, `${value!.split(':')[0]}:${minute}`);
}

/** The topic's mapping generation, which an admin change bumps before it waits for the replicas (null before any). */
export const mappingGeneration = (redis: RedisClient, prefix: string, topic: string): Promise<string | null> =>
  redis.hget(topicKeys(prefix, topic).meta, 'generation');
