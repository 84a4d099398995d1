import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GROUP_HEADER } from '../../src/protocol/group-header.ts';
import { eventually } from '../support/eventually.ts';
import { Client } from '../../src/sdk/client.ts';
import { useKafkaAdmin, consumeAll, createTopic } from '../support/kafka.ts';
import { Redis } from 'ioredis';
import { OwnRedis } from '../support/own-redis.ts';
import { freePort } from '../support/ports.ts';
import { spawnSidecar, testOptions, waitUntilReady, type SidecarProcess } from '../support/sidecar.ts';

/**
 * Redis faults under load: three sidecar processes share a private redis-server while SDK clients stream
 * ordered messages, retrying 503s with their dedup ids. The first fleet's Redis is persistent; the second's
 * is not, and loses everything (FLUSHALL, a restart without persistence): its routes come back from the route
 * log. Each scenario reads the topic back: no group split over partitions, reordered or lost.
 */

const COMMAND_TIMEOUT_MS = 3000;
const PARTITIONS = 6;
const GROUPS = 120;
const WARM_MESSAGES = 3;
const MESSAGES_PER_GROUP = 10;

const { kafka, admin } = useKafkaAdmin();

/** Three sidecar processes sharing one private Redis, and an SDK client on each. */
interface Fleet {
  redis: OwnRedis;
  sidecars: SidecarProcess[];
  clients: Client[];
}

async function startFleet(persistent: boolean, flags: string[] = []): Promise<Fleet> {
  const redis = new OwnRedis(await freePort(), { persistent });
  await redis.start();
  const options = testOptions({ redisUrl: redis.url });
  const sidecars = await Promise.all([0, 1, 2].map(() => spawnSidecar(options, { flags: ['--redis-command-timeout', `${COMMAND_TIMEOUT_MS}ms`, ...flags] })));
  await Promise.all(sidecars.map((s) => waitUntilReady(s.url)));
  // The SDK's own retries are under test: the default policy, a quiet logger.
  const clients = sidecars.map((s) => new Client({ url: s.url, logger: { warn: () => undefined } }));
  return { redis, sidecars, clients };
}

async function stopFleet(fleet: Fleet | undefined): Promise<void> {
  if (!fleet) return;
  // Defects and splits the sidecars logged (expected 503s are left out), for whoever reads a failed run.
  for (const line of fleet.sidecars.flatMap((s) => s.logs)) if (line.includes('"code":"INTERNAL"') || line.includes('MessageGroup split')) console.log(line);
  await Promise.all(fleet.clients.map((c) => c.close()));
  await Promise.all(fleet.sidecars.map((s) => s.stop()));
  await fleet.redis.destroy();
}

/** Sum of metric `name` (every label set) over the fleet's sidecars. */
async function metricTotal(fleet: Fleet, name: string): Promise<number> {
  let total = 0;
  for (const s of fleet.sidecars) {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const [, value] of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) total += Number(value);
  }
  return total;
}

/** 503 answers to ordered produce, summed over the three sidecars (each counts its own in /metrics). */
async function count503(fleet: Fleet): Promise<number> {
  let total = 0;
  for (const s of fleet.sidecars) {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (
        line.startsWith('ordered_sidecar_http_request_duration_seconds_count{') &&
        line.includes('route="/v1/ordered-produce"') &&
        line.includes('status="503"')
      ) {
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
  }
  return total;
}

interface Traffic {
  /** Per group, the values acknowledged, in send order. */
  sent: Map<string, string[]>;
  /** Resolves when every group has sent all its messages. */
  done: Promise<void>;
  /** Messages acknowledged so far. */
  acked: () => number;
  /** True until every group has sent all its messages. */
  running: () => boolean;
}

/**
 * One sequential sender per group (a group's order is the application's send order), each message through
 * the sidecar `route(group, k)` picks. Every send must succeed: a fault may only cost latency.
 */
function sendMessages(
  fleet: Fleet,
  topic: string,
  groups: string[],
  from: number,
  to: number,
  route: (g: number, k: number) => number,
  sent: Map<string, string[]>,
): Traffic {
  let acked = 0;
  let running = true;
  const producers = fleet.clients.map((c) => c.orderedProducer());
  const done = Promise.all(
    groups.map(async (group, g) => {
      for (let k = from; k < to; k++) {
        const value = `${group}#${k}`;
        await producers[route(g, k)]!.sendSingleOrderedMessage(topic, group, null, value);
        sent.get(group)!.push(value);
        acked++;
      }
    }),
  )
    .then(() => undefined)
    .finally(() => (running = false));
  return { sent, done, acked: () => acked, running: () => running };
}

/** Reads the topic back and checks every group: one partition, send order, nothing lost. */
async function verify(topic: string, sent: Map<string, string[]>): Promise<{ splits: number; reorders: number; losses: number; duplicates: number }> {
  const records = await consumeAll(kafka, admin, topic);
  const byGroup = new Map<string, { partition: number; offset: bigint; value: string }[]>();
  for (const r of records) {
    const group = r.headers[GROUP_HEADER]!;
    byGroup.set(group, [...(byGroup.get(group) ?? []), { partition: r.partition, offset: BigInt(r.offset), value: r.value! }]);
  }
  let splits = 0;
  let reorders = 0;
  let losses = 0;
  let duplicates = 0;
  for (const [group, values] of sent) {
    const stored = byGroup.get(group) ?? [];
    if (new Set(stored.map((r) => r.partition)).size > 1) splits++;
    const inOffsetOrder = [...stored].sort((a, b) => (a.offset < b.offset ? -1 : 1)).map((r) => r.value);
    // A resend whose original landed is written again after it (documented); order is that of first occurrences.
    const firsts = [...new Set(inOffsetOrder)];
    duplicates += inOffsetOrder.length - firsts.length;
    losses += values.filter((v) => !firsts.includes(v)).length;
    if (firsts.join('\n') !== values.filter((v) => firsts.includes(v)).join('\n')) reorders++;
  }
  return { splits, reorders, losses, duplicates };
}

/**
 * Warms every group (its first messages through `warmRoute`), then streams the rest through all three
 * sidecars, with `fault` started once `faultAfter` of the streamed messages are acknowledged.
 */
async function scenario(
  fleet: Fleet,
  name: string,
  warmRoute: (g: number, k: number) => number,
  faultAfter: number,
  fault: (topic: string) => Promise<void>,
): Promise<{ rejected: number }> {
  const topic = await createTopic(admin, PARTITIONS);
  const groups = Array.from({ length: GROUPS }, (_, g) => `${name}-g${g}`);
  const sent = new Map(groups.map((g) => [g, [] as string[]]));
  await sendMessages(fleet, topic, groups, 0, WARM_MESSAGES, warmRoute, sent).done;
  const before = await count503(fleet);
  const traffic = sendMessages(fleet, topic, groups, WARM_MESSAGES, MESSAGES_PER_GROUP, (g, k) => (g + k) % 3, sent);
  await eventually(`${faultAfter} messages acknowledged`, () => traffic.acked() >= faultAfter, 60_000, 20);
  // A fault that began after the last send would prove nothing about traffic through it.
  const sendingWhenFaultStarted = traffic.running();
  await fault(topic);
  await traffic.done;
  const rejected = (await count503(fleet)) - before;
  const result = await verify(topic, sent);
  const total = [...sent.values()].reduce((n, v) => n + v.length, 0);
  console.log(
    `redis fault "${name}": ${total} messages, ${rejected} answers 503, splits ${result.splits}, reorders ${result.reorders}, losses ${result.losses}, duplicates ${result.duplicates}`,
  );
  expect(sendingWhenFaultStarted, 'the clients were still sending when the fault started').toBe(true);
  expect(total).toBe(GROUPS * MESSAGES_PER_GROUP);
  expect(result).toMatchObject({ splits: 0, reorders: 0, losses: 0 });
  return { rejected };
}

/** Half the groups are only ever routed by replica 0 before the fault; the others by all three. */
const warm = (g: number, k: number): number => (g < GROUPS / 2 ? 0 : k % 3);

describe('Redis faults under load, three sidecar processes, SDK clients retrying', () => {
  let fleet: Fleet;
  let redis: OwnRedis;
  beforeAll(async () => {
    fleet = await startFleet(true);
    redis = fleet.redis;
  });
  afterAll(() => stopFleet(fleet));

  it('a freeze longer than the command timeout, with groups cached on one replica only: order holds, clients see latency', async () => {
    const { rejected } = await scenario(fleet, 'long-freeze', warm, 0, async () => {
      redis.freeze();
      await sleep(2 * COMMAND_TIMEOUT_MS); // the fault's length is the scenario, not a wait for a condition
      redis.thaw();
    });
    // Replicas 1 and 2 cannot prove the routes of groups only replica 0 has cached.
    expect(rejected).toBeGreaterThan(0);
  });

  it('a kill and restart: order holds, clients see latency', async () => {
    await scenario(fleet, 'kill-restart', warm, 0, async () => {
      await redis.stop();
      await sleep(1000); // Redis stays down this long
      await redis.start();
    });
  });

  it('a freeze shorter than the command timeout: no 503 at all', async () => {
    const { rejected } = await scenario(
      fleet,
      'short-freeze',
      (g, k) => (g + k) % 3,
      (GROUPS * (MESSAGES_PER_GROUP - WARM_MESSAGES)) / 3,
      async () => {
        redis.freeze();
        await sleep(COMMAND_TIMEOUT_MS / 3);
        redis.thaw();
      },
    );
    expect(rejected).toBe(0);
  });
});

describe('Redis losing its data under load (no persistence, route log on), three sidecar processes, SDK clients retrying', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet(false);
  });
  afterAll(() => stopFleet(fleet));

  it('FLUSHALL mid-stream: the loss is detected, routes come back from the route log, order holds', async () => {
    const lossesBefore = await metricTotal(fleet, 'ordered_sidecar_routing_state_losses_total');
    const { rejected } = await scenario(fleet, 'flushall', warm, (GROUPS * (MESSAGES_PER_GROUP - WARM_MESSAGES)) / 4, async () => {
      const flusher = new Redis(fleet.redis.url);
      try {
        await flusher.flushall();
      } finally {
        flusher.disconnect();
      }
    });
    // Every group was cached before the flush, so the loss is seen by a replica's next touch flush (its epoch
    // read), which may come after the stream's last answer.
    await vi.waitUntil(async () => (await metricTotal(fleet, 'ordered_sidecar_routing_state_losses_total')) > lossesBefore, { timeout: 15_000, interval: 200 });
    await vi.waitUntil(async () => (await metricTotal(fleet, 'ordered_sidecar_routes_restored_total')) > 0, { timeout: 15_000, interval: 200 });
    console.log(`flushall: ${rejected} answers 503 while the state was rebuilt`);
  });

  it('a kill and restart without persistence: the state comes back from the route log, order holds', async () => {
    const restoredBefore = await metricTotal(fleet, 'ordered_sidecar_routes_restored_total');
    await scenario(fleet, 'restart-empty', warm, 0, async () => {
      await fleet.redis.stop();
      await sleep(1000); // Redis stays down this long
      await fleet.redis.start();
    });
    expect(await metricTotal(fleet, 'ordered_sidecar_routes_restored_total')).toBeGreaterThan(restoredBefore);
  });
});

describe('Redis losing its data under load with the route log off, three sidecar processes, SDK clients retrying', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet(false, ['--route-log', 'false']);
  });
  afterAll(() => stopFleet(fleet));

  it('FLUSHALL mid-stream: cached routes are re-seeded and keep their partitions; new groups wait for an operator', async () => {
    let topicName = '';
    const produceProbe = async (): Promise<{ status: number; code?: string }> => {
      const response = await fetch(`${fleet.sidecars[1]!.url}/v1/ordered-produce`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic: topicName, messages: [{ message_group: 'probe-new-group', value: 'probe' }] }),
      });
      const body = (await response.json()) as { error?: { code: string } };
      return { status: response.status, ...(body.error ? { code: body.error.code } : {}) };
    };
    await scenario(fleet, 'flushall-no-log', warm, (GROUPS * (MESSAGES_PER_GROUP - WARM_MESSAGES)) / 4, async (topic) => {
      topicName = topic;
      const flusher = new Redis(fleet.redis.url);
      try {
        await flusher.flushall();
      } finally {
        flusher.disconnect();
      }
      // A group no replica has cached cannot be proven: refused (retriable) until an operator resumes the topic.
      await vi.waitUntil(async () => (await produceProbe()).code === 'ROUTING_STATE_LOST', { timeout: 30_000, interval: 200 });
    });
    expect(await produceProbe()).toEqual({ status: 503, code: 'ROUTING_STATE_LOST' });
    const resumed = await fetch(`${fleet.sidecars[0]!.url}/admin/v1/topics/${topicName}/resume`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(await resumed.json()).toEqual({ topic: topicName, resumed: true });
    // Another replica than the one resumed: under a loaded CI machine its first probe once got a 503 (code not
    // recorded then). A retriable answer is retried, as the SDK would; it must turn into a 200 within seconds.
    let last: { status: number; code?: string } | undefined;
    await eventually(
      () => `a new group taken after the resume (last answer ${JSON.stringify(last)})`,
      async () => (last = await produceProbe()).status === 200,
      15_000,
      200,
    );
  });
});
