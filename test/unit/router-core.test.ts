import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreUnreachableError } from '../../src/errors/store-errors.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { cacheValidityMs } from '../../src/routing/expiry.ts';
import { GenerationWatch } from '../../src/routing/generation-watch.ts';
import { groupHash, hashedPartition } from '../../src/routing/hashing.ts';
import { OutageState } from '../../src/routing/outage-state.ts';
import { ProvenRoutes } from '../../src/routing/proven-routes.ts';
import { OrderedMessageRouter, REFUSAL_SUMMARY_INTERVAL_MS, type RouterOptions } from '../../src/routing/router.ts';
import type { TopicStamp, TopicState, TouchEntry } from '../../src/routing/route-store.ts';
import { SidecarError } from '../../src/errors/sidecar-error.ts';
import { SingleFlight } from '../../src/routing/single-flight.ts';
import { FakeRouteStore, fakeRouterMetrics } from '../support/fake-route-store.ts';
import { fakeClock, type FakeClock } from '../support/fake-clock.ts';
import { FakeRouteLog } from '../support/fake-route-log.ts';

const PARTITIONS = 4;
const MINUTE = 60_000;
const OPTIONS: RouterOptions = { routerBuckets: 16, routeCacheSize: 100, groupTtlMs: 60 * MINUTE, touchFlushIntervalMs: 1000 };
const VALIDITY_MS = cacheValidityMs(OPTIONS.groupTtlMs, OPTIONS.touchFlushIntervalMs);

let store: FakeRouteStore;
let metrics: ReturnType<typeof fakeRouterMetrics>;
let clock: FakeClock;
let logs: string[];

function router(overrides: Partial<RouterOptions> = {}): OrderedMessageRouter {
  const log = createLogger('info', {}, (line) => logs.push(line));
  return new OrderedMessageRouter(store, async () => PARTITIONS, { ...OPTIONS, ...overrides }, metrics, log, clock.now);
}

beforeEach(() => {
  store = new FakeRouteStore();
  metrics = fakeRouterMetrics();
  clock = fakeClock();
  logs = [];
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Lets the outage recovery run its probe (a 1 s interval). */
const recoveryTick = () => vi.advanceTimersByTimeAsync(1000);

describe('cache validity', () => {
  it('serves a cached route without the store only inside its validity window', async () => {
    const r = router();
    const first = await r.route('t', 'g');
    clock.ms = VALIDITY_MS - 1;
    expect(await r.route('t', 'g')).toBe(first);
    expect(store.calls.route).toBe(1);
    clock.ms = VALIDITY_MS;
    expect(await r.route('t', 'g')).toBe(first);
    expect(store.calls.route).toBe(2);
    expect([metrics.cacheHits.value, metrics.cacheMisses.value]).toEqual([1, 2]);
  });

  it('renews a route the store confirms in a touch batch, from when the batch was sent', async () => {
    const r = router();
    await r.route('t', 'g');
    clock.ms = 10 * MINUTE;
    await r.route('t', 'g'); // a hit: a touch is pending
    await r.flushTouches();
    expect(store.touched.map((e) => e.group)).toEqual(['g']);
    clock.ms = 10 * MINUTE + VALIDITY_MS - 1;
    await r.route('t', 'g');
    expect(store.calls.route).toBe(1);
  });

  it('drops a cached route the store no longer maps, so the next use asks it again', async () => {
    const r = router();
    await r.route('t', 'g');
    await r.route('t', 'g');
    store.mappings.delete('t/g');
    await r.flushTouches();
    await r.route('t', 'g');
    expect(store.calls.route).toBe(2);
  });

  it('refuses a request whole (409) when a route names a partition past the topic, after a fresh count, and drops every such cached route', async () => {
    let count = 8;
    const reads: string[] = [];
    const log = createLogger('info', {}, (line) => logs.push(line));
    const r = new OrderedMessageRouter(
      store,
      async (_topic, how) => {
        reads.push(how?.fresh ? 'fresh' : 'cached');
        return count;
      },
      OPTIONS,
      metrics,
      log,
      clock.now,
    );
    const groups = Array.from({ length: 40 }, (_, i) => `g${i}`);
    const before = (await r.routeRequest('t', groups)).partitions;
    const past = groups.filter((g) => before.get(g)! >= 4);
    expect(past.length).toBeGreaterThan(1);
    // The topic deleted and created again with 4 partitions.
    count = 4;
    reads.length = 0;
    const refused = await r.routeRequest('t', groups).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SidecarError);
    expect(refused).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect((refused as SidecarError).message).toMatch(/is mapped to partition [4-7], but topic "t" has 4 partitions/);
    expect(reads).toEqual(['cached', 'fresh']);
    // The routes past the topic were dropped from the cache: the next request asks the store for those groups.
    const asked = store.calls.route;
    await r.routeRequest('t', past).catch(() => undefined);
    expect(store.calls.route - asked).toBe(past.length);
  });

  it('refuses a topic Kafka does not have before it registers the topic or maps any group of it', async () => {
    const unknown = new SidecarError('UNKNOWN_TOPIC', 'topic "nope" does not exist');
    const r = new OrderedMessageRouter(
      store,
      async () => {
        throw unknown;
      },
      OPTIONS,
      metrics,
      createLogger('info', {}, () => undefined),
      clock.now,
    );
    await expect(r.routeRequest('nope', ['a', 'b'])).rejects.toBe(unknown);
    expect(store.calls.route).toBe(0);
    expect(await store.readTopic('nope')).toBeUndefined();
  });

  it('serves a route past the cached count once a fresh count has it: the topic grew', async () => {
    let count = 4;
    const r = new OrderedMessageRouter(
      store,
      async (_topic, how) => (how?.fresh ? 8 : count),
      OPTIONS,
      metrics,
      createLogger('info', {}, () => undefined),
      clock.now,
    );
    count = 8;
    const groups = Array.from({ length: 40 }, (_, i) => `g${i}`);
    const routed = (await r.routeRequest('t', groups)).partitions;
    expect([...routed.values()].some((p) => p >= 4)).toBe(true);
    count = 4;
    expect((await r.routeRequest('t', groups)).partitions).toEqual(routed);
  });

  it('routes a request of cached and new groups: one lookup per new group, each group counted and touched once', async () => {
    const r = router();
    const a = await r.route('t', 'a');
    const b = await r.route('t', 'b');
    const routed = await r.routeRequest('t', ['a', 'new', 'b', 'a', 'new', 'other', 'b']);
    expect([...routed.partitions.keys()]).toEqual(['a', 'new', 'b', 'other']);
    expect(routed.partitions.get('a')).toBe(a);
    expect(routed.partitions.get('b')).toBe(b);
    expect(routed.partitions.get('new')).toBe(store.mappings.get('t/new'));
    expect(routed.partitions.get('other')).toBe(store.mappings.get('t/other'));
    expect(routed.sources).toEqual({ cache: 2, script: 2, hash: 0 });
    expect(store.calls.route).toBe(4);
    expect([metrics.cacheHits.value, metrics.cacheMisses.value]).toEqual([2, 4]);
    await r.flushTouches();
    expect(store.touched).toEqual([
      { group: 'a', hash: groupHash('a'), partition: a },
      { group: 'b', hash: groupHash('b'), partition: b },
    ]);
  });

  it('touches a group once per flush however often it is used, and again after each flush', async () => {
    const r = router();
    await r.route('t', 'g');
    for (let i = 0; i < 3; i++) await r.routeAll('t', ['g', 'g']);
    await r.flushTouches();
    expect(store.touched.map((e) => e.group)).toEqual(['g']);
    await r.flushTouches();
    expect(store.touched.map((e) => e.group)).toEqual(['g']);
    await r.route('t', 'g');
    await r.flushTouches();
    expect(store.touched.map((e) => e.group)).toEqual(['g', 'g']);
  });

  it('ProvenRoutes: a route confirmed at t is proven until t + validity', () => {
    let clock = 0;
    const routes = new ProvenRoutes(10, 1000, () => clock);
    routes.confirmed('t', 'g', 3, 7);
    clock = 999;
    expect(routes.get('t', 'g')?.partition).toBe(3);
    clock = 1000;
    expect(routes.get('t', 'g')).toBeUndefined();
    expect(routes.cache.peek('t', 'g')?.partition).toBe(3);
  });
});

describe('merged lookups', () => {
  it('asks the store once for a burst of lookups of one new group', async () => {
    const r = router();
    const answers = await Promise.all(Array.from({ length: 50 }, () => r.route('t', 'new')));
    expect(new Set(answers).size).toBe(1);
    expect(store.calls.route).toBe(1);
  });

  it('SingleFlight shares a pending lookup and forgets it once settled', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    const lookup = async () => ++runs;
    expect(await Promise.all([flight.run('k', lookup), flight.run('k', lookup)])).toEqual([1, 1]);
    expect(await flight.run('k', lookup)).toBe(2);
  });
});

describe('outage entry', () => {
  it('serves proven routes, refuses the rest with a retriable 503, and a mixed request whole', async () => {
    const r = router();
    const known = await r.route('t', 'known');
    store.failure = 'outage';
    await expect(r.route('t', 'stranger')).rejects.toMatchObject({
      code: 'ROUTING_UNAVAILABLE',
      reason: 'outage',
      status: 503,
      retriable: true,
      retryAfterSeconds: 1,
    });
    expect(r.degraded).toBe(true);
    expect(metrics.degradedMode.value).toBe(1);
    expect(await r.route('t', 'known')).toBe(known);
    await expect(r.routeAll('t', ['known', 'stranger'])).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE' });
    expect(metrics.hashRoutedMessages.value).toBe(0);
  });

  it('refuses a cached route past its validity window: it is no longer proven', async () => {
    const r = router();
    await r.route('t', 'old');
    store.failure = 'outage';
    await expect(r.route('t', 'other')).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE' });
    clock.ms = VALIDITY_MS;
    await expect(r.route('t', 'old')).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE' });
  });

  it('does not enter degraded mode for one unanswered command, nor for a defect', async () => {
    const r = router();
    store.failure = 'unanswered';
    await expect(r.route('t', 'g')).rejects.toBeInstanceOf(StoreUnreachableError);
    store.failure = 'defect';
    await expect(r.route('t', 'g')).rejects.toBeInstanceOf(TypeError);
    expect(r.degraded).toBe(false);
  });

  it('OutageState: entered once, left once', () => {
    const state = new OutageState();
    expect([state.enter(5), state.enter(6), state.since]).toEqual([true, false, 5]);
    expect([state.leave(), state.leave(), state.active]).toEqual([true, false, false]);
  });
});

describe('routes the replicas have not acknowledged', () => {
  it('are refused with a retriable 503, never cached, and do not start degraded mode', async () => {
    const r = router();
    store.failure = 'unreplicated';
    await expect(r.routeAll('t', ['new', 'new'])).rejects.toMatchObject({
      code: 'ROUTING_UNAVAILABLE',
      reason: 'replica_acks',
      status: 503,
      retryAfterSeconds: 1,
      summarized: true,
    });
    await expect(r.routeAll('t', ['new'])).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE' });
    expect(store.calls.route).toBe(2); // asked again: the refused route was not cached
    expect(r.degraded).toBe(false);
    expect(metrics.replicaAckTimeouts.value).toBe(2);
    store.failure = undefined;
    expect(await r.route('t', 'new')).toBe(store.mappings.get('t/new'));
  });

  it('log once as the episode begins, a count per interval, and once as it ends', async () => {
    const r = router();
    store.failure = 'unreplicated';
    for (let i = 0; i < 3; i++) await expect(r.routeAll('t', ['a', 'a', 'b'])).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE' });
    clock.ms += REFUSAL_SUMMARY_INTERVAL_MS;
    await expect(r.routeAll('t', ['c'])).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE' });
    store.failure = undefined;
    await r.route('t', 'd');
    await r.route('t', 'e');
    const entries = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => e.level)).toEqual(['warn', 'warn', 'info']);
    expect(entries[0]).toMatchObject({ msg: expect.stringContaining('do not acknowledge'), err: { name: 'StoreNotReplicatedError' } });
    expect(entries[1]).toMatchObject({ refusedRequests: 4, refusedMessages: 10, overMs: REFUSAL_SUMMARY_INTERVAL_MS });
    expect(entries[2]).toMatchObject({ msg: expect.stringContaining('acknowledge routes again'), refusedRequests: 4, refusedMessages: 10 });
  });
});

describe('outage exit', () => {
  it('stays degraded while the store is out of reach, and leaves once it answers', async () => {
    const r = router();
    store.failure = 'outage';
    await expect(r.route('t', 'g')).rejects.toThrow();
    await recoveryTick();
    expect(r.degraded).toBe(true);
    store.failure = undefined;
    await recoveryTick();
    expect(r.degraded).toBe(false);
    expect(metrics.degradedMode.value).toBe(0);
    await r.stop();
  });

  it('has nothing to move after a refused group was mapped late (a timed-out route call that ran later)', async () => {
    const r = router();
    store.failure = 'outage';
    await expect(r.route('t', 'late')).rejects.toThrow();
    // The timed-out call ran once Redis resumed: the group is mapped, and nothing of it was written.
    store.failure = undefined;
    store.mappings.set('t/late', 2);
    await recoveryTick();
    expect(r.degraded).toBe(false);
    expect(await r.route('t', 'late')).toBe(2);
    expect(store.calls.record).toBe(0);
    expect(metrics.degradedConflicts.value).toBe(0);
    await r.stop();
  });

  it('in hash mode routes by hash, records on recovery, and counts and logs a conflict with its group', async () => {
    const r = router({ degradedRouting: 'hash' });
    store.failure = 'outage';
    const routes = await r.routeAll('t', ['a', 'a', 'b']);
    expect(routes.get('a')).toBe(hashedPartition(groupHash('a'), PARTITIONS));
    expect(metrics.hashRoutedMessages.value).toBe(3);
    store.failure = undefined;
    const elsewhere = (hashedPartition(groupHash('b'), PARTITIONS) + 1) % PARTITIONS;
    store.mappings.set('t/b', elsewhere); // another replica mapped b meanwhile
    await recoveryTick();
    expect(r.degraded).toBe(false);
    expect(store.mappings.get('t/a')).toBe(routes.get('a'));
    expect(metrics.degradedConflicts.value).toBe(1);
    expect(logs.some((l) => l.includes('MessageGroup split') && l.includes('"group":"b"'))).toBe(true);
    expect(await r.route('t', 'b')).toBe(elsewhere);
    await r.stop();
  });

  it('stop() waits for a recovery attempt under way: the hashed routes it records are in the store before it resolves', async () => {
    const gate = Promise.withResolvers<void>();
    let recording = 0;
    store = new (class extends FakeRouteStore {
      override async record(topic: string, state: TopicState, group: string, hash: number, partition: number): Promise<number> {
        recording++;
        await gate.promise;
        return super.record(topic, state, group, hash, partition);
      }
    })();
    const r = router({ degradedRouting: 'hash' });
    store.failure = 'outage';
    const hashed = await r.route('t', 'a');
    store.failure = undefined;
    await recoveryTick();
    expect(recording).toBe(1);
    let stopped = false;
    const stopping = r.stop().then(() => (stopped = true));
    await nextTurn();
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(store.mappings.get('t/a')).toBe(hashed);
  });

  it('logs an outage once as it begins and once as it ends, with the refusals counted, not one line per refusal', async () => {
    const r = router();
    await r.route('t', 'known');
    store.failure = 'outage';
    for (let i = 0; i < 5; i++) await expect(r.routeAll('t', ['x', 'x', 'y'])).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE', summarized: true });
    clock.ms += REFUSAL_SUMMARY_INTERVAL_MS;
    await expect(r.routeAll('t', ['z'])).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE' });
    await expect(r.routeAll('t', ['z'])).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE' });
    expect(await r.routeAll('t', ['known'])).toEqual(new Map([['known', store.mappings.get('t/known')]])); // served: not a refusal
    store.failure = undefined;
    await recoveryTick();
    expect(r.degraded).toBe(false);
    const entries = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => e.level)).toEqual(['error', 'warn', 'info']);
    expect(entries[0]).toMatchObject({ msg: expect.stringContaining('Redis unreachable'), err: { message: 'fake store out of reach' } });
    expect(entries[1]).toMatchObject({ refusedRequests: 6, refusedMessages: 16, overMs: REFUSAL_SUMMARY_INTERVAL_MS });
    expect(entries[2]).toMatchObject({ msg: expect.stringContaining('reachable again'), refusedRequests: 7, refusedMessages: 17 });
    expect(entries[2]!.degradedForMs).toEqual(expect.any(Number));
    await r.stop();
  });

  it('logs a due refusal summary from its recovery probe when no request comes to trigger it', async () => {
    const r = router();
    store.failure = 'outage';
    await expect(r.routeAll('t', ['x'])).rejects.toMatchObject({ code: 'ROUTING_UNAVAILABLE' });
    await recoveryTick();
    expect(logs.filter((l) => l.includes('"level":"warn"'))).toEqual([]);
    clock.ms += REFUSAL_SUMMARY_INTERVAL_MS;
    await recoveryTick();
    expect(logs.filter((l) => l.includes('"level":"warn"')).map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ refusedRequests: 1, refusedMessages: 1 }),
    ]);
    await r.stop();
  });

  it('skips touches and generation checks during an outage, and sends them afterwards', async () => {
    const r = router();
    await r.route('t', 'g');
    await r.route('t', 'g');
    store.failure = 'outage';
    await expect(r.route('t', 'x')).rejects.toThrow();
    await r.flushTouches();
    expect(store.calls.touch).toBe(0);
    store.failure = undefined;
    await recoveryTick();
    await r.flushTouches();
    expect(store.touched.map((e) => e.group)).toEqual(['g']);
    await r.stop();
  });
});

/** A store whose generation checks and touches hang while `held`, as a black-holed Redis's commands do until they time out; `answer()` lets them go on. */
class HangingStore extends FakeRouteStore {
  readonly #gate = Promise.withResolvers<void>();
  held = false;
  /** Generation checks begun (held ones too): one per flush once a topic is known. */
  checksBegun = 0;

  answer(): void {
    this.held = false;
    this.#gate.resolve();
  }

  override async stamps(topics: readonly string[]): Promise<PromiseSettledResult<TopicStamp>[]> {
    this.checksBegun++;
    if (this.held) await this.#gate.promise;
    return super.stamps(topics);
  }

  override async touch(topic: string, state: TopicState, entries: readonly TouchEntry[]): Promise<boolean[]> {
    if (this.held) await this.#gate.promise;
    return super.touch(topic, state, entries);
  }
}

describe('touch flushes', () => {
  it('run one at a time: ticks during a slow flush start none, and stop() waits for the one in flight only', async () => {
    const slow = new HangingStore();
    store = slow;
    const r = router();
    r.start();
    await r.route('t', 'g');
    await r.route('t', 'g'); // a hit: a touch is pending
    slow.held = true;
    await vi.advanceTimersByTimeAsync(5 * OPTIONS.touchFlushIntervalMs);
    expect(slow.checksBegun).toBe(1);
    let stopped = false;
    const stopping = r.stop().then(() => {
      stopped = true;
    });
    await nextTurn();
    expect(stopped).toBe(false);
    slow.answer();
    await stopping;
    expect(slow.checksBegun).toBe(1);
    expect(slow.touched.map((e) => e.group)).toEqual(['g']);
  });

  it('log a failing generation check and touch once as the failures begin, and once, counted, when they succeed again', async () => {
    const r = router();
    await r.route('t', 'g');
    store.failure = 'unanswered';
    for (let i = 0; i < 3; i++) {
      await r.route('t', 'g');
      await r.flushTouches();
    }
    store.failure = undefined;
    await r.route('t', 'g');
    await r.flushTouches();
    await r.flushTouches();
    const entries = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => [e.level, e.msg])).toEqual([
      ['warn', 'could not check mapping generations in Redis'],
      ['warn', 'could not record last access of MessageGroups in Redis'],
      ['info', 'checking mapping generations in Redis again'],
      ['info', 'recording last access of MessageGroups in Redis again'],
    ]);
    expect(entries[0]).toMatchObject({ err: { message: 'fake store out of reach' } });
    expect(entries[2]).toMatchObject({ failedChecks: 3 });
    expect(entries[3]).toMatchObject({ topic: 't', failedChunks: 3 });
  });
});

describe('generation bumps', () => {
  it('drop the cached routes of the topic an operator changed, and only of it', async () => {
    const r = router();
    await r.route('t', 'g');
    await r.route('u', 'g');
    store.generation.set('t', '1');
    await r.flushTouches();
    await r.route('t', 'g');
    await r.route('u', 'g');
    expect(store.calls.route).toBe(3);
  });

  it('GenerationWatch reports each change once, against the registration baseline, and a lost epoch as a loss', async () => {
    const changed: string[] = [];
    const lost: string[] = [];
    const watch = new GenerationWatch(
      store,
      (t) => changed.push(t),
      (t) => lost.push(t),
      createLogger('error'),
    );
    store.epochs.set('t', 'e1');
    store.epochs.set('u', 'e2');
    watch.baseline('t', { buckets: 16, generation: null, epoch: 'e1' });
    watch.baseline('u', { buckets: 16, generation: '4', epoch: 'e2' });
    store.generation.set('u', '4');
    await watch.check();
    store.generation.set('t', '1');
    await watch.check();
    await watch.check();
    expect(changed).toEqual(['t']);
    store.epochs.delete('u');
    await watch.check();
    expect(lost).toEqual(['u']);
    expect(changed).toEqual(['t']);
  });

  it('GenerationWatch compares every topic the store answers for while another topic’s node does not answer', async () => {
    const changed: string[] = [];
    const lines: string[] = [];
    const log = createLogger('debug', {}, (line) => lines.push((JSON.parse(line) as { msg: string }).msg));
    const watch = new GenerationWatch(
      store,
      (t) => changed.push(t),
      () => undefined,
      log,
    );
    watch.baseline('t', { buckets: 16, generation: null, epoch: 'e1' });
    watch.baseline('u', { buckets: 16, generation: null, epoch: 'e2' });
    store.epochs.set('t', 'e1');
    store.epochs.set('u', 'e2');
    store.unreadableTopics.add('u');
    store.generation.set('t', '1');
    store.generation.set('u', '1');
    await watch.check();
    expect(changed).toEqual(['t']);
    store.unreadableTopics.clear();
    await watch.check();
    expect(changed).toEqual(['t', 'u']);
    expect(lines.filter((l) => l.includes('mapping generations'))).toEqual([
      'could not check mapping generations in Redis',
      'checking mapping generations in Redis again',
    ]);
  });
});

describe('Redis losing a topic state', () => {
  it('with the route log: cached routes keep flowing, the state is restored from the log once, then groups are assigned again', async () => {
    const routeLog = new FakeRouteLog();
    const [r1, r2] = [router({ routeLog }), router({ routeLog })];
    const a = await r1.route('t', 'a');
    const b = await r2.route('t', 'b');
    expect(routeLog.entries.map((e) => [e.group, e.partition])).toEqual([
      ['a', a],
      ['b', b],
    ]);
    // Logged, so no longer listed as unlogged.
    expect(store.unlogged.size).toBe(0);
    // A topic Redis does not know may be one it lost: its first use read the log too (empty then).
    expect(routeLog.reads).toBe(1);
    store.lose();
    const routesBefore = store.calls.route;
    expect(await r1.route('t', 'a')).toBe(a);
    expect(store.calls.route, 'a cached route does not ask Redis').toBe(routesBefore);
    // r2 never cached "a": it finds the loss, restores the log into Redis, and gets r1's partition.
    expect(await r2.route('t', 'a')).toBe(a);
    expect(routeLog.reads).toBe(2);
    expect(store.mappings.get('t/b')).toBe(b);
    expect(metrics.stateLosses.value).toBe(1);
    expect(metrics.routesRestored.value).toBe(2);
    // r1 meets the new epoch with a new group: it adopts the rebuilt state (no second rebuild) and assigns.
    await r1.route('t', 'c');
    expect(store.mappings.has('t/c')).toBe(true);
    expect(routeLog.reads).toBe(2);
    expect(metrics.stateLosses.value).toBe(2);
  });

  it('a new mapping is in the log before it is cached or produced on; one left unlogged is logged by the next replica that reads it', async () => {
    const routeLog = new FakeRouteLog();
    const [r1, r2] = [router({ routeLog }), router({ routeLog })];
    routeLog.failing = true;
    await expect(r1.route('t', 'g')).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE', retriable: true });
    expect(store.unlogged.has('t/g')).toBe(true);
    routeLog.failing = false;
    const partition = await r2.route('t', 'g');
    expect(routeLog.entries).toEqual([{ topic: 't', group: 'g', partition, buckets: 16 }]);
    expect(store.unlogged.has('t/g')).toBe(false);
    expect(await r1.route('t', 'g')).toBe(partition);
    expect(routeLog.entries).toHaveLength(1);
  });

  it('a mapping whose log append is acknowledged after a rebuild read the log is not used: made again in the rebuilt state, never split', async () => {
    const routeLog = new FakeRouteLog();
    const [r1, r2] = [router({ routeLog }), router({ routeLog })];
    await r1.route('t', 'w');
    const acknowledge = routeLog.delay('g');
    const routed = r1.route('t', 'g');
    await vi.waitUntil(() => store.mappings.has('t/g'));
    // Redis loses the state while r1 waits for its append; r2 rebuilds from the log, which has no "g" yet.
    store.lose();
    await r2.route('t', 'k');
    expect(store.mappings.has('t/g')).toBe(false);
    acknowledge();
    const partition = await routed;
    // Made (and logged) again under the rebuilt state before r1 cached or used it: Redis and the log agree.
    expect(store.mappings.get('t/g')).toBe(partition);
    expect(routeLog.entries.findLast((e) => e.group === 'g')?.partition).toBe(partition);
    expect(await r2.route('t', 'g')).toBe(partition);
    expect(await r1.route('t', 'g')).toBe(partition);
  });

  it('the same for a route hashed during an outage and recorded later: its late-acknowledged append is not used after a rebuild', async () => {
    const routeLog = new FakeRouteLog();
    const [r1, r2] = [router({ routeLog, degradedRouting: 'hash' }), router({ routeLog })];
    await r1.route('t', 'w');
    store.failure = 'outage';
    // One more hashed group than the outage keeps for recording: the last is recorded at its next use instead.
    for (let i = 0; i <= 1000; i++) await r1.route('t', `h${i}`);
    store.failure = undefined;
    await recoveryTick();
    expect(r1.degraded).toBe(false);
    expect(store.mappings.has('t/h1000')).toBe(false);
    const acknowledge = routeLog.delay('h1000');
    const routed = r1.route('t', 'h1000');
    await vi.waitUntil(() => store.mappings.has('t/h1000'));
    store.lose();
    await r2.route('t', 'k');
    acknowledge();
    const partition = await routed;
    expect(store.mappings.get('t/h1000')).toBe(partition);
    expect(await r2.route('t', 'h1000')).toBe(partition);
  });

  it('a rebuild whose log read fails (ROUTE_LOG_UNAVAILABLE) answers its retriable 503, keeps refusing new groups, and the next request rebuilds', async () => {
    const routeLog = new FakeRouteLog();
    const [r1, r2] = [router({ routeLog }), router({ routeLog })];
    const a = await r1.route('t', 'a');
    store.lose();
    routeLog.readFailure = new SidecarError('ROUTE_LOG_UNAVAILABLE', 'the route log read did not finish within ROUTE_LOG_READ_TIMEOUT', {
      retryAfterSeconds: 1,
    });
    await expect(r2.route('t', 'a')).rejects.toMatchObject({
      code: 'ROUTE_LOG_UNAVAILABLE',
      status: 503,
      retriable: true,
      retryAfterSeconds: 1,
      message: 'the route log read did not finish within ROUTE_LOG_READ_TIMEOUT; new MessageGroups of the topic wait for its rebuild, retry shortly',
    });
    await expect(r2.route('t', 'new')).rejects.toMatchObject({ code: 'ROUTE_LOG_UNAVAILABLE' });
    expect(store.mappings.has('t/new')).toBe(false);
    await expect(r1.resume('t'), 'no state to resume until a rebuild succeeds').rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('there is nothing to resume; run `ordered-sidecar groups rebuild t`'),
    });
    expect(await r1.route('t', 'a'), 'a cached route keeps flowing').toBe(a);
    routeLog.readFailure = undefined;
    expect(await r2.route('t', 'a')).toBe(a);
    await r2.route('t', 'new');
    expect(store.mappings.has('t/new')).toBe(true);
  });

  it('an admin rebuild of a topic Redis never lost whose log read fails puts back the hold it had (none, or unproven) and can be retried', async () => {
    const routeLog = new FakeRouteLog();
    const r = router({ routeLog });
    await r.route('t', 'a');
    routeLog.readFailure = new SidecarError('ROUTE_LOG_UNAVAILABLE', 'the route log read did not finish within ROUTE_LOG_READ_TIMEOUT', {
      retryAfterSeconds: 1,
    });
    const failed = await r.rebuild('t').catch((err: unknown) => err);
    expect(routeLog.reads).toBe(2);
    // No replica recovers a topic whose state is in Redis: a 'restoring' hold left here would refuse its new groups for good.
    expect(store.holds.has('t')).toBe(false);
    await r.route('t', 'new');
    expect(store.mappings.has('t/new')).toBe(true);
    expect(store.locks.size).toBe(0);
    expect(failed).toMatchObject({
      code: 'ROUTE_LOG_UNAVAILABLE',
      status: 503,
      retryAfterSeconds: 1,
      message:
        'rebuilding topic "t" from the route log failed: the route log read did not finish within ROUTE_LOG_READ_TIMEOUT. The topic is back as it was (new MessageGroups are assigned again); the rebuild can be retried',
    });

    // A hold the topic had before (routes an operator has not vouched for) stays.
    await store.hold('t', 'unproven');
    const failedHeld = await r.rebuild('t').catch((err: unknown) => err);
    expect(store.holds.get('t')).toBe('unproven');
    expect(failedHeld).toMatchObject({ code: 'ROUTE_LOG_UNAVAILABLE', message: expect.stringMatching(/stay on hold \("unproven"\)/) });
    await expect(r.route('t', 'other')).rejects.toMatchObject({ code: 'ROUTING_STATE_LOST' });
    expect(store.mappings.has('t/other')).toBe(false);

    routeLog.readFailure = undefined;
    expect(await r.rebuild('t')).toBe(0);
    expect(store.holds.has('t')).toBe(false);
  });

  it('without the log: cached routes are re-seeded, new groups refused (ROUTING_STATE_LOST) until an operator resumes', async () => {
    const [r1, r2] = [router(), router()];
    const a = await r1.route('t', 'a');
    const b = await r2.route('t', 'b');
    store.lose();
    expect(await r1.route('t', 'a')).toBe(a);
    await expect(r1.route('t', 'new')).rejects.toMatchObject({ code: 'ROUTING_STATE_LOST', status: 503, retriable: true });
    expect(store.mappings.get('t/a'), 'r1 re-seeded its cached route').toBe(a);
    expect(store.holds.get('t')).toBe('unproven');
    // r2 learns of the loss at its next flush (the epoch changed) and re-seeds what it has cached.
    await r2.flushTouches();
    await vi.waitUntil(() => store.mappings.get('t/b') === b);
    await expect(r2.route('t', 'other')).rejects.toMatchObject({ code: 'ROUTING_STATE_LOST' });
    expect(store.mappings.has('t/new') || store.mappings.has('t/other')).toBe(false);
    expect(await r1.resume('t')).toBe(true);
    await r2.route('t', 'other');
    expect(store.mappings.has('t/other')).toBe(true);
  });

  it('without the log: a cached route past its validity is not re-seeded (it could override a live mapping), and is dropped', async () => {
    const [r1, r2] = [router(), router()];
    const stale = await r1.route('t', 'g');
    // r1 stops seeing "g"; past the TTL the cleanup removes it from Redis, while r1's cache still holds it.
    clock.ms += VALIDITY_MS;
    store.mappings.delete('t/g');
    // "g" comes back on r2 and is mapped afresh, elsewhere; its messages flow there.
    const live = (stale + 1) % PARTITIONS;
    store.mappings.set('t/g', live);
    expect(await r2.route('t', 'g')).toBe(live);
    store.lose();
    // r1 finds the loss first and re-seeds what it still can prove; then r2.
    await expect(r1.route('t', 'new')).rejects.toMatchObject({ code: 'ROUTING_STATE_LOST' });
    await expect(r2.route('t', 'other')).rejects.toMatchObject({ code: 'ROUTING_STATE_LOST' });
    expect(store.mappings.get('t/g')).toBe(live);
    expect(metrics.degradedConflicts.value, 'no split').toBe(0);
    expect(logs.some((line) => line.includes('MessageGroup split'))).toBe(false);
    expect(await r2.route('t', 'g')).toBe(live);
    // The stale entry is gone from r1's cache: it asks Redis, and follows the live mapping.
    const routesBefore = store.calls.route;
    expect(await r1.route('t', 'g')).toBe(live);
    expect(store.calls.route).toBe(routesBefore + 1);
  });
});
