import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreBusyError } from '../../src/errors/store-errors.ts';
import { topicKeys } from '../../src/redis/keys.ts';
import { RedisGateway } from '../../src/redis/redis-gateway.ts';
import { bucketOf, groupHash } from '../../src/routing/hashing.ts';
import { waitFor } from '../support/delivery-endpoint.ts';
import { metricSum, runFaultScenario } from '../support/fault-scenario.ts';
import { useKafkaAdmin } from '../support/kafka.ts';
import { connectCluster } from '../support/redis.ts';
import { errorStats, SlotMigration } from '../support/slot-migration.ts';

/**
 * Against `stack.sh up --redis-cluster`: the slot holding a topic's router and dedup keys (one slot: they are
 * hash-tagged by topic, src/redis/keys.ts) is moved, live and slowly, to another master while two sidecar
 * processes take ordered sends with dedup ids for it. Each batch of keys moves only after the stream was answered
 * several times in the state before it, so the stream meets every intermediate state: ASK redirections for keys
 * already on the target, TRYAGAIN for scripts whose keys are split between the nodes (or partly not yet created).
 * Both nodes' script caches are flushed as the migration starts, so the sidecars' EVALSHAs meet NOSCRIPT there.
 *
 * Late groups start once the slot is MIGRATING. With ROUTER_BUCKETS small, most of them fall in a bucket an early
 * group created, and route-3.lua creates their mappings mid-migration; the others need a new bucket hash, which a
 * migrating slot refuses (TRYAGAIN: one key present, one missing) until the slot is assigned, so they get 503s,
 * which the SDK retries, until then. No group may be split, nothing lost, no 5xx but 503 (runFaultScenario), and
 * the whole state ends on the target, each mapping made once.
 */
const clusterNodes = (process.env.REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);
const BUCKETS = 32;
const EARLY_GROUPS = 16;
const LATE_GROUPS = 8;
/** Keys moved per MIGRATE. */
const BATCH = 2;
/** Ordered-produce answers the sidecars give in each intermediate state before the next batch moves. */
const ANSWERS_PER_STATE = 8;

const groupNames = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
const bucketOfGroup = (group: string): number => bucketOf(groupHash(group), BUCKETS);
const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);

const { kafka, admin } = useKafkaAdmin();
let cluster: Cluster;

beforeAll(async () => {
  cluster = connectCluster();
});

afterAll(async () => {
  cluster?.disconnect();
});

describe.runIf(clusterNodes.length >= 6)('a Redis Cluster slot resharded mid-stream', () => {
  it('splits no group, loses no message and ends with the state on the target master', async () => {
    const earlyBuckets = new Set(groupNames('g', EARLY_GROUPS).map(bucketOfGroup));
    const inKnownBucket = groupNames('late', LATE_GROUPS).filter((g) => earlyBuckets.has(bucketOfGroup(g)));
    // The group names are fixed, so this split is too: both kinds of late group must be there.
    expect(inKnownBucket.length, 'late groups whose bucket exists').toBeGreaterThan(0);
    expect(inKnownBucket.length, 'late groups that need a new bucket').toBeLessThan(LATE_GROUPS);

    let migration: SlotMigration | undefined;
    const stats: { before: Map<string, number>[]; after: Map<string, number>[] } = { before: [], after: [] };
    let statesSeen = 0;
    try {
      const outcome = await runFaultScenario({
        kafka,
        admin,
        name: 'cluster resharding',
        earlyGroups: EARLY_GROUPS,
        lateGroups: LATE_GROUPS,
        sidecarFlags: ['--router-buckets', String(BUCKETS)],
        fault: async ({ topic, redisPrefix, startLateGroups, answered }) => {
          const slot = Number(await cluster.cluster('KEYSLOT', topicKeys(redisPrefix, topic).loads));
          expect(Number(await cluster.cluster('KEYSLOT', topicKeys(redisPrefix, topic).dedupSlice(0))), 'dedup keys share the slot').toBe(slot);
          migration = await SlotMigration.begin(cluster, slot);
          const { source, target } = migration;
          stats.before = await Promise.all([source, target].map((m) => errorStats(m.redis)));
          await Promise.all([source, target].map((m) => m.redis.script('FLUSH')));
          startLateGroups();

          // Each state (the next batch not yet moved) is met by the stream before the next batch moves.
          for (;;) {
            const seen = await answered();
            await waitFor(
              () => `${ANSWERS_PER_STATE} answers after ${statesSeen} batches moved`,
              async () => (await answered()) >= seen + ANSWERS_PER_STATE,
            );
            statesSeen++;
            if ((await migration.migrateBatch(BATCH)) === 0) break;
          }
          // Every key on the target, the slot still MIGRATING: route-3.lua maps the late groups whose bucket exists
          // (the Cluster client follows the ASK to the target to read them).
          const keys = topicKeys(redisPrefix, topic);
          const unmapped = async () =>
            (await Promise.all(inKnownBucket.map(async (g) => ((await cluster.hget(keys.bucket(bucketOfGroup(g)), g)) === null ? [g] : [])))).flat();
          await waitFor(
            () => `late groups in existing buckets mapped mid-migration`,
            async () => (await unmapped()).length === 0,
          );
          await migration.finish();
          stats.after = await Promise.all([source, target].map((m) => errorStats(m.redis)));
        },
      });

      const { source, target, slot } = migration!;
      const delta = (code: string): number => sum([0, 1].map((i) => (stats.after[i]!.get(code) ?? 0) - (stats.before[i]!.get(code) ?? 0)));
      const seen = Object.fromEntries(['ASK', 'MOVED', 'TRYAGAIN', 'NOSCRIPT'].map((code) => [code, delta(code)]));
      console.log(
        `cluster resharding: slot ${slot} ${source.address} -> ${target.address} in ${statesSeen} states; error replies of the two nodes meanwhile: ${JSON.stringify(seen)}`,
      );
      // What the refusals were: busy (Redis said to retry: a TRYAGAIN, or redirections that ran out with every master
      // connected), redis (a command unanswered within its deadline), outage (degraded mode after three of those in a
      // row). Only 'busy' is certain; the others depend on how loaded the machine is.
      const refusals = Object.fromEntries(
        ['busy', 'redis', 'outage'].map((reason) => [reason, metricSum(outcome.metrics, 'ordered_sidecar_routing_failures_total', `reason="${reason}"`)]),
      );
      const unchecked = metricSum(outcome.metrics, 'ordered_sidecar_dedup_unavailable_messages_total');
      console.log(`cluster resharding: routing refusals by reason ${JSON.stringify(refusals)}; messages written without the dedup check: ${unchecked}`);
      expect(refusals.busy, 'routes refused as busy, not as an outage').toBeGreaterThan(0);
      expect(seen.ASK, 'ASK redirections met').toBeGreaterThan(0);
      expect(seen.TRYAGAIN, 'TRYAGAIN met').toBeGreaterThan(0);
      expect(seen.NOSCRIPT, 'NOSCRIPT met, and the scripts run all the same').toBeGreaterThan(0);

      // The state ends on the target: nothing of the slot left on the source, and every master assigns it there.
      expect(Number(await source.redis.cluster('COUNTKEYSINSLOT', slot)), 'keys left on the source').toBe(0);
      expect(Number(await target.redis.cluster('COUNTKEYSINSLOT', slot)), 'keys on the target').toBeGreaterThan(0);
      const masters = await SlotMigration.masters(cluster);
      try {
        for (const master of masters) {
          const ranges = await master.redis.cluster('SLOTS');
          const owner = ranges.find(([from, to]) => from <= slot && slot <= to)?.[2];
          expect(owner && `${owner[0]}:${owner[1]}`, `${master.address} assigns slot ${slot}`).toBe(target.address);
        }
      } finally {
        for (const master of masters) master.redis.disconnect();
      }
      // Each group mapped once: the buckets hold every group, and the loads count each of them once.
      const keys = topicKeys(outcome.redisPrefix, outcome.topic);
      const mapped = sum(await Promise.all(Array.from({ length: BUCKETS }, (_, b) => target.redis.hlen(keys.bucket(b)))));
      const loads = sum(Object.values(await target.redis.hgetall(keys.loads)).map(Number));
      expect({ mapped, loads }).toEqual({ mapped: EARLY_GROUPS + LATE_GROUPS, loads: EARLY_GROUPS + LATE_GROUPS });
    } finally {
      // A failed run must not leave the slot half moved for the next test file.
      await migration?.finish();
      migration?.close();
    }
  });

  it('reports redirections that ran out while every master is connected as busy, not as an outage', async () => {
    const gateway = new RedisGateway(cluster);
    // A real error reply with the code a split slot answers: ioredis retries it until its redirections run out,
    // then rejects with a plain Error, as during a long migration.
    const err = await gateway
      .run(() => cluster.eval("return redis.error_reply('TRYAGAIN as during a resharding')", 1, '{gateway-test}:k'))
      .then(
        () => expect.unreachable('resolved'),
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(StoreBusyError);
  });
});
