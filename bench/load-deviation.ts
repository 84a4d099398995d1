import { RouterStore } from '../src/redis/router-store.ts';
import { RedisGateway } from '../src/redis/redis-gateway.ts';
import { groupHash, hashedPartition } from '../src/routing/hashing.ts';
import { assignGroups, countByPartition } from './support/assign.ts';
import { benchPrefix, benchTopic, connectRedis, dropPrefix, orderGroup } from './support/env.ts';
import { fmtInt, fmtNum, fmtPct, heading, note, table, verdict } from './support/format.ts';
import { scriptCost } from './support/redis-stats.ts';
import { spread } from './support/stats.ts';
import type { SectionResult, TargetRow } from './support/targets.ts';

const BUCKETS = 4096;
const TARGET = 0.1;

const row = (label: string, counts: number[], extra: string[]): string[] => {
  const s = spread(counts);
  return [
    label,
    String(counts.length),
    fmtInt(s.min),
    fmtInt(s.max),
    fmtInt(s.max - s.min),
    fmtPct(s.deviation),
    verdict(Math.max(s.deviation, 1e-9), TARGET),
    ...extra,
  ];
};

export async function benchLoadDeviation(quick: boolean): Promise<SectionResult> {
  const total = quick ? 20_000 : 100_000;
  heading(`2. Partition load deviation: ${fmtInt(total)} new MessageGroups`);
  const redis = connectRedis();
  const prefix = benchPrefix();
  const store = new RouterStore(new RedisGateway(redis), prefix);
  const groups = Array.from({ length: total }, (_, i) => orderGroup(i));
  const hashes = groups.map(groupHash);
  const rows: string[][] = [];
  const targets: TargetRow[] = [];
  try {
    const topics = new Map<number, { topic: string; assignment: Int32Array }>();
    for (const partitions of [12, 64]) {
      const topic = benchTopic(`dev${partitions}`);
      const started = performance.now();
      const { result: assignment, usecPerCall } = await scriptCost(redis, () => assignGroups(store, topic, BUCKETS, partitions, groups));
      const seconds = (performance.now() - started) / 1000;
      topics.set(partitions, { topic, assignment });
      const counts = countByPartition(assignment, partitions);
      const stored = await store.loads(topic, partitions);
      const agrees = stored.every((n, p) => n === counts[p]);
      rows.push(
        row('least-loaded (route-2.lua)', counts, [
          `${fmtInt(total / seconds)} groups/s, Redis ${fmtNum(usecPerCall, 0)} µs/call${agrees ? '' : ', LOADS HASH DISAGREES'}`,
        ]),
      );
      const hashed = countByPartition(
        hashes.map((h) => hashedPartition(h, partitions)),
        partitions,
      );
      rows.push(row('consistent hash (hashedPartition)', hashed, ['fallback when Redis is unreachable']));
      const s = spread(counts);
      targets.push({
        figure: `load deviation, ${partitions} partitions`,
        target: '< 10 %',
        measured: fmtPct(s.deviation),
        verdict: verdict(Math.max(s.deviation, 1e-9), TARGET),
      });
    }
    table(['assignment', 'partitions', 'min', 'max', 'max-min', '(max-min)/mean', 'vs 10 % target', 'notes'], rows);
    note(
      'least-loaded balances the number of groups per partition at assignment time (max-min <= 1 by construction); it does not see how many messages each group sends.',
    );

    // Growing 12 -> 13 partitions.
    const moved = hashes.filter((h) => hashedPartition(h, 12) !== hashedPartition(h, 13));
    const onlyToNew = moved.every((h) => hashedPartition(h, 13) === 12);
    const { topic, assignment } = topics.get(12)!;
    const sample = groups.slice(0, Math.min(total, 20_000));
    const again = await assignGroups(store, topic, BUCKETS, 13, sample);
    const stickyMoved = again.reduce((n, p, i) => n + (p === assignment[i] ? 0 : 1), 0);
    const newcomers = Array.from({ length: Math.round(total / 10) }, (_, i) => `late-${String(i).padStart(11, '0')}`);
    const late = await assignGroups(store, topic, BUCKETS, 13, newcomers);
    const toNew = late.reduce((n, p) => n + (p === 12 ? 1 : 0), 0);
    const after = spread(await store.loads(topic, 13));
    console.log('');
    table(
      ['growing 12 -> 13 partitions', 'groups', 'moved', 'share', 'expected'],
      [
        [
          'consistent hash',
          fmtInt(total),
          fmtInt(moved.length),
          fmtPct(moved.length / total),
          `1/13 = ${fmtPct(1 / 13)}; all moved to partition 12: ${onlyToNew ? 'yes' : 'NO'}`,
        ],
        ['Redis mapping (existing groups, partitions=13)', fmtInt(sample.length), fmtInt(stickyMoved), fmtPct(stickyMoved / sample.length), '0 (sticky)'],
        [
          'Redis mapping (new groups after growth)',
          fmtInt(newcomers.length),
          `${fmtInt(toNew)} to p12`,
          fmtPct(toNew / newcomers.length),
          `p12 fills first; deviation over 13 now ${fmtPct(after.deviation)}`,
        ],
      ],
    );
    return { targets, figures: {} };
  } finally {
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}
