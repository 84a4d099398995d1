import { DEFAULT_OPTIONS } from '../src/config/options.ts';
import { RouterStore } from '../src/redis/router-store.ts';
import { RedisGateway } from '../src/redis/redis-gateway.ts';
import { OrderedMessageRouter } from '../src/routing/router.ts';
import { benchMetrics, benchPrefix, benchTopic, connectRedis, dropPrefix, orderGroup, quietLog } from './support/env.ts';
import { prng } from './support/prng.ts';
import { fmtInt, fmtMs, fmtNum, heading, note, table, verdict } from './support/format.ts';
import { scriptCost } from './support/redis-stats.ts';
import { Samples, type Summary } from './support/stats.ts';
import { rounded } from './support/summary.ts';
import type { SectionResult } from './support/targets.ts';

const PARTITIONS = 12;
const TARGET_MS = 1;

/** A router as the sidecar builds it, except that the partition count is a constant instead of Kafka metadata. */
function makeRouter(store: RouterStore, routeCacheSize: number): OrderedMessageRouter {
  const { routerBuckets, groupTtlMs, touchFlushIntervalMs } = DEFAULT_OPTIONS;
  return new OrderedMessageRouter(
    store,
    async () => PARTITIONS,
    { routerBuckets, routeCacheSize, groupTtlMs, touchFlushIntervalMs },
    benchMetrics(),
    quietLog(),
  );
}

/** Awaits `op(i)` `count` times, one at a time, timing each call. */
export async function sequential(count: number, op: (i: number) => Promise<unknown>): Promise<Summary> {
  const samples = new Samples(count);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await op(i);
    samples.push(performance.now() - t0);
  }
  return samples.summary();
}

/** Runs `count` calls with `concurrency` in flight; returns calls/s and the latency of each call under that load. */
export async function pipelined(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<{ perSecond: number; latency: Summary }> {
  const samples = new Samples(count);
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      await op(i);
      samples.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { perSecond: count / ((performance.now() - started) / 1000), latency: samples.summary() };
}

export async function benchRoutingLatency(quick: boolean): Promise<SectionResult> {
  heading('1. Routing latency (OrderedMessageRouter against the real Redis and route-2.lua)');
  const redis = connectRedis();
  const prefix = benchPrefix();
  const store = new RouterStore(new RedisGateway(redis), prefix);
  const topic = benchTopic('route');
  const scale = quick ? 0.3 : 1;
  try {
    // (a) cache hit: 1000 known groups, as a sidecar serving a steady set of groups.
    const cached = makeRouter(store, DEFAULT_OPTIONS.routeCacheSize);
    const known = Array.from({ length: 1000 }, (_, i) => orderGroup(i));
    for (const g of known) await cached.route(topic, g);
    const loopCount = Math.round(1_000_000 * scale);
    for (let i = 0; i < 100_000; i++) await cached.route(topic, known[i % 1000]!); // JIT warm-up
    const t0 = performance.now();
    for (let i = 0; i < loopCount; i++) await cached.route(topic, known[i % 1000]!);
    const hitNsPerOp = ((performance.now() - t0) * 1e6) / loopCount;
    const hit = await sequential(Math.round(200_000 * scale), (i) => cached.route(topic, known[i % 1000]!));

    // A whole request's routing: 100 messages over random groups of the 1000 (routeAll, as produce does).
    const random = prng(7);
    const requests = Array.from({ length: 256 }, () => Array.from({ length: 100 }, () => known[Math.floor(random() * 1000)]!));
    const perRequest = await sequential(Math.round(20_000 * scale), (i) => cached.routeAll(topic, requests[i % 256]!));

    // (b) cache miss, new group: get-or-assign through the Lua script.
    const fresh = makeRouter(store, DEFAULT_OPTIONS.routeCacheSize);
    const singles = Math.round(5000 * scale);
    const newGroup = (i: number): string => `new-${String(i).padStart(10, '0')}`;
    for (let i = 0; i < 200; i++) await fresh.route(topic, `warm-${i}`); // script loaded, connection warm
    const missNew = await sequential(singles, (i) => fresh.route(topic, newGroup(i)));
    const burst = Math.round(50_000 * scale);
    const { result: newPipelined, usecPerCall: newServerUs } = await scriptCost(redis, () =>
      pipelined(burst, 256, (i) => fresh.route(topic, newGroup(singles + i))),
    );

    // (c) cache disabled: every route of an existing group asks Redis.
    const uncached = makeRouter(store, 0);
    const existing = await sequential(singles, (i) => uncached.route(topic, newGroup(i)));
    const { result: existingPipelined, usecPerCall: existingServerUs } = await scriptCost(redis, () =>
      pipelined(burst, 256, (i) => uncached.route(topic, newGroup(singles + i))),
    );

    table(
      ['path', 'calls', 'p50', 'p99', 'max', 'throughput', 'vs 1 ms target (p99)'],
      [
        [
          '(a) cache hit, route() awaited in a loop',
          fmtInt(loopCount),
          '',
          '',
          '',
          `${fmtInt(1e9 / hitNsPerOp)} /s (${fmtInt(hitNsPerOp)} ns/op)`,
          verdict(hitNsPerOp / 1e6, TARGET_MS),
        ],
        ['(a) cache hit, each call timed', fmtInt(hit.count), fmtMs(hit.p50), fmtMs(hit.p99), fmtMs(hit.max), '', verdict(hit.p99, TARGET_MS)],
        [
          '(a) routeAll of a 100-message request (cached)',
          fmtInt(perRequest.count),
          fmtMs(perRequest.p50),
          fmtMs(perRequest.p99),
          fmtMs(perRequest.max),
          `${fmtInt(100_000 / perRequest.mean)} msgs/s`,
          verdict(perRequest.p99, TARGET_MS),
        ],
        [
          '(b) new group via Lua, one at a time',
          fmtInt(missNew.count),
          fmtMs(missNew.p50),
          fmtMs(missNew.p99),
          fmtMs(missNew.max),
          '',
          verdict(missNew.p99, TARGET_MS),
        ],
        [
          '(b) new groups via Lua, 256 in flight',
          fmtInt(burst),
          fmtMs(newPipelined.latency.p50),
          fmtMs(newPipelined.latency.p99),
          fmtMs(newPipelined.latency.max),
          `${fmtInt(newPipelined.perSecond)} groups/s`,
          `Redis CPU ${fmtNum(newServerUs, 1)} µs/call`,
        ],
        [
          '(c) existing group via Lua (cache 0), one at a time',
          fmtInt(existing.count),
          fmtMs(existing.p50),
          fmtMs(existing.p99),
          fmtMs(existing.max),
          '',
          verdict(existing.p99, TARGET_MS),
        ],
        [
          '(c) existing groups via Lua (cache 0), 256 in flight',
          fmtInt(burst),
          fmtMs(existingPipelined.latency.p50),
          fmtMs(existingPipelined.latency.p99),
          fmtMs(existingPipelined.latency.max),
          `${fmtInt(existingPipelined.perSecond)} routes/s`,
          `Redis CPU ${fmtNum(existingServerUs, 1)} µs/call`,
        ],
      ],
    );
    note(
      `${PARTITIONS} partitions, ${DEFAULT_OPTIONS.routerBuckets} buckets, groups like "${orderGroup(42)}"; the partition count is a constant here (Kafka metadata is in memory in the sidecar too).`,
    );
    note(
      'timed calls include one performance.now() pair (~50-100 ns); "256 in flight" latencies are queueing behind each other on one Redis connection, not single-call latency.',
    );
    note("Redis CPU per call: INFO commandstats (evalsha usec / calls) over the burst; on a shared Redis other clients' scripts count too.");
    return {
      targets: [
        { figure: 'routing, cache hit (p99)', target: '< 1 ms', measured: fmtMs(hit.p99), verdict: verdict(hit.p99, TARGET_MS, fmtMs) },
        { figure: 'routing, new group via Redis (p99)', target: '< 1 ms', measured: fmtMs(missNew.p99), verdict: verdict(missNew.p99, TARGET_MS, fmtMs) },
        {
          figure: 'routing, existing group via Redis (p99)',
          target: '< 1 ms',
          measured: fmtMs(existing.p99),
          verdict: verdict(existing.p99, TARGET_MS, fmtMs),
        },
      ],
      // A miss is a group the sidecar has not seen: the get-or-assign script's round trip (b).
      figures: { routing_hit_p99_us: rounded(hit.p99 * 1000, 3), routing_miss_p99_us: rounded(missNew.p99 * 1000, 1) },
    };
  } finally {
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}
