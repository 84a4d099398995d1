import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { GROUP_HEADER } from '../../src/protocol/group-header.ts';
import { Client } from '../../src/sdk/client.ts';
import { connectAdmin, consumeAll, createTopic, testKafka } from '../support/kafka.ts';
import { OwnRedis } from '../support/own-redis.ts';
import { freePort } from '../support/ports.ts';
import { spawnSidecar, testOptions, waitUntilReady, type SidecarProcess } from '../support/sidecar.ts';

/**
 * Redis faults under load: three sidecar processes share a private redis-server (persistent, as the
 * router's state must be) while SDK clients stream ordered messages, retrying 503s with their dedup ids.
 * Each scenario reads the topic back: no group split over partitions, reordered or lost.
 */

const COMMAND_TIMEOUT_MS = 3000;
const PARTITIONS = 6;
const GROUPS = 120;
const WARM_MESSAGES = 3;
const MESSAGES_PER_GROUP = 10;

let kafka: Kafka;
let admin: Admin;
let redis: OwnRedis;
let sidecars: SidecarProcess[];
let clients: Client[];

beforeAll(async () => {
  kafka = testKafka();
  admin = await connectAdmin(kafka);
  redis = new OwnRedis(await freePort(), { persistent: true });
  await redis.start();
  const options = testOptions({ redisUrl: redis.url });
  sidecars = await Promise.all([0, 1, 2].map(() => spawnSidecar(options, { flags: ['--redis-command-timeout', `${COMMAND_TIMEOUT_MS}ms`] })));
  await Promise.all(sidecars.map((s) => waitUntilReady(s.url)));
  // The SDK's own retries are under test: the default policy, a quiet logger.
  clients = sidecars.map((s) => new Client({ url: s.url, logger: { warn: () => undefined } }));
});

afterAll(async () => {
  // Defects and splits the sidecars logged (expected 503s are left out), for whoever reads a failed run.
  for (const line of (sidecars ?? []).flatMap((s) => s.logs)) if (line.includes('"code":"INTERNAL"') || line.includes('MessageGroup split')) console.log(line);
  await Promise.all((clients ?? []).map((c) => c.close()));
  await Promise.all((sidecars ?? []).map((s) => s.stop()));
  await redis?.destroy();
  await admin?.disconnect();
});

/** 503 answers to ordered produce, summed over the three sidecars (each counts its own in /metrics). */
async function count503(): Promise<number> {
  let total = 0;
  for (const s of sidecars) {
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
  topic: string,
  groups: string[],
  from: number,
  to: number,
  route: (g: number, k: number) => number,
  sent: Map<string, string[]>,
): Traffic {
  let acked = 0;
  let running = true;
  const producers = clients.map((c) => c.orderedProducer());
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

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
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
  name: string,
  warmRoute: (g: number, k: number) => number,
  faultAfter: number,
  fault: () => Promise<void>,
): Promise<{ rejected: number }> {
  const topic = await createTopic(admin, PARTITIONS);
  const groups = Array.from({ length: GROUPS }, (_, g) => `${name}-g${g}`);
  const sent = new Map(groups.map((g) => [g, [] as string[]]));
  await sendMessages(topic, groups, 0, WARM_MESSAGES, warmRoute, sent).done;
  const before = await count503();
  const traffic = sendMessages(topic, groups, WARM_MESSAGES, MESSAGES_PER_GROUP, (g, k) => (g + k) % 3, sent);
  await until(() => traffic.acked() >= faultAfter, `${faultAfter} messages acknowledged`);
  // A fault that began after the last send would prove nothing about traffic through it.
  const sendingWhenFaultStarted = traffic.running();
  await fault();
  await traffic.done;
  const rejected = (await count503()) - before;
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
  it('a freeze longer than the command timeout, with groups cached on one replica only: order holds, clients see latency', async () => {
    const { rejected } = await scenario('long-freeze', warm, 0, async () => {
      redis.freeze();
      await sleep(2 * COMMAND_TIMEOUT_MS); // the fault's length is the scenario, not a wait for a condition
      redis.thaw();
    });
    // Replicas 1 and 2 cannot prove the routes of groups only replica 0 has cached.
    expect(rejected).toBeGreaterThan(0);
  });

  it('a kill and restart: order holds, clients see latency', async () => {
    await scenario('kill-restart', warm, 0, async () => {
      await redis.stop();
      await sleep(1000); // Redis stays down this long
      await redis.start();
    });
  });

  it('a freeze shorter than the command timeout: no 503 at all', async () => {
    const { rejected } = await scenario(
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
