/**
 * Ordered consumption benchmark, against the real Kafka and Redis:
 *   a) one partition, 64 MessageGroups, an endpoint taking 10 ms per delivery: the sidecar's push delivery
 *      against a plain one-at-a-time kafkajs consumer doing the same HTTP call (target: at least 40x);
 *   b) a fast endpoint and batch_max_messages 100 (target: at least 50K messages/s delivered).
 *
 *   node bench/consume.ts [--quick]        (or from bench/run.ts through benchConsume)
 *
 * Throughput is measured from the first delivery the endpoint receives to the last, so the consumer group's
 * join is not counted; the endpoint runs in this process and competes for the same CPU.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { DEFAULT_OPTIONS } from '../src/config/options.ts';
import { startSidecar } from '../src/sidecar.ts';
import { benchKafka, benchPrefix, createTopic, KAFKA_BROKERS, quietLog, REDIS_URL } from './support/env.ts';
import { fmtInt, fmtNum, heading, note, table, verdictAtLeast } from './support/format.ts';
import type { TargetRow } from './support/targets.ts';

/** An HTTP endpoint answering 200 after `delayMs`, counting the messages it received and when. */
async function endpoint(delayMs: number) {
  const stats = { messages: 0, deliveries: 0, first: 0, last: 0 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const n = (JSON.parse(body) as { messages?: unknown[] }).messages?.length ?? 1;
      const answer = () => {
        stats.messages += n;
        stats.deliveries++;
        const now = performance.now();
        if (stats.first === 0) stats.first = now;
        stats.last = now;
        res.writeHead(200).end();
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/deliver`,
    stats,
    rate: () => (stats.messages > 1 ? (stats.messages / (stats.last - stats.first)) * 1000 : 0),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function produce(kafka: Kafka, topic: string, partitions: number, groups: number, perGroup: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  const value = 'x'.repeat(100);
  let batch = [];
  for (let seq = 0; seq < perGroup; seq++) {
    for (let g = 0; g < groups; g++) {
      batch.push({ partition: g % partitions, value, headers: { 'message-group': `group-${g}` } });
      if (batch.length === 5000) {
        await producer.send({ topic, messages: batch });
        batch = [];
      }
    }
  }
  if (batch.length > 0) await producer.send({ topic, messages: batch });
  await producer.disconnect();
}

/** The sidecar consuming `topic` into `url` until `total` messages were acknowledged; returns msgs/s. */
async function sidecarRate(
  topic: string,
  url: string,
  total: number,
  ep: Awaited<ReturnType<typeof endpoint>>,
  extra: Record<string, unknown>,
): Promise<number> {
  const path = join(mkdtempSync(join(tmpdir(), 'bench-subs-')), 'subscriptions.json');
  writeFileSync(
    path,
    JSON.stringify({
      subscriptions: [{ name: 'bench', topic, consumer_group: `bench-${randomUUID().slice(0, 8)}`, endpoint: url, on_exhausted: 'block', ...extra }],
    }),
  );
  const sidecar = await startSidecar(
    { ...DEFAULT_OPTIONS, kafkaBrokers: KAFKA_BROKERS, redisUrl: REDIS_URL, redisPrefix: benchPrefix(), port: 0, logLevel: 'warn', subscriptionsFile: path },
    quietLog(),
  );
  try {
    const deadline = Date.now() + 300_000;
    while (ep.stats.messages < total && Date.now() < deadline) await sleep(50);
    return ep.rate();
  } finally {
    await sidecar.close();
  }
}

/** A plain kafkajs consumer, one message at a time, POSTing each to the endpoint; msgs/s over `ms`. */
async function plainConsumerRate(kafka: Kafka, topic: string, url: string, ms: number, ep: Awaited<ReturnType<typeof endpoint>>): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  const consumer = kafka.consumer({ groupId: `bench-plain-${randomUUID().slice(0, 8)}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      await post(JSON.stringify({ topic, partition, messages: [{ offset: message.offset, value: message.value?.toString() ?? null }] }));
    },
  });
  while (ep.stats.first === 0) await sleep(20);
  await sleep(ms);
  const rate = ep.rate();
  await consumer.disconnect();
  agent.destroy();
  return rate;
}

export async function benchConsume(quick: boolean): Promise<TargetRow[]> {
  const kafka = benchKafka();
  const admin = kafka.admin();
  await admin.connect();
  const rows: TargetRow[] = [];
  try {
    heading('Ordered consumption: push delivery, one delivery in flight per MessageGroup');

    // a) One partition, 64 groups, 10 ms per delivery.
    const perGroup = quick ? 50 : 150;
    const slowTopic = await createTopic(admin, 'consume-slow', 1);
    await produce(kafka, slowTopic, 1, 64, perGroup);
    const plainEp = await endpoint(10);
    const plain = await plainConsumerRate(kafka, slowTopic, plainEp.url, quick ? 3000 : 6000, plainEp);
    plainEp.close();
    const sidecarEp = await endpoint(10);
    const parallel = await sidecarRate(slowTopic, sidecarEp.url, 64 * perGroup, sidecarEp, { max_in_flight_groups: 64 });
    sidecarEp.close();

    // b) Fast endpoint, batches of up to 100 consecutive messages of one group.
    const fastGroups = 64;
    const fastPerGroup = quick ? 800 : 3000;
    const fastTopic = await createTopic(admin, 'consume-fast', 8);
    await produce(kafka, fastTopic, 8, fastGroups, fastPerGroup);
    const fastEp = await endpoint(0);
    const fast = await sidecarRate(fastTopic, fastEp.url, fastGroups * fastPerGroup, fastEp, { max_in_flight_groups: 64, batch_max_messages: 100 });
    const perDelivery = fastEp.stats.messages / Math.max(1, fastEp.stats.deliveries);
    fastEp.close();

    table(
      ['workload', 'messages', 'msgs/s'],
      [
        ['plain kafkajs consumer, one at a time, 1 partition, 10 ms endpoint', fmtInt(plainEp.stats.messages), fmtNum(plain, 0)],
        ['sidecar, 1 partition, 64 groups, 10 ms endpoint', fmtInt(sidecarEp.stats.messages), fmtNum(parallel, 0)],
        [
          `sidecar, 8 partitions, 64 groups, fast endpoint, batch_max_messages 100 (${fmtNum(perDelivery, 1)} msgs/delivery)`,
          fmtInt(fastEp.stats.messages),
          fmtNum(fast, 0),
        ],
      ],
    );
    note('measured from the first to the last delivery the endpoint received; the endpoint shares this process and its CPU');
    note(
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}: the sidecar's rows are CPU-bound (JSON and HTTP per delivery), the plain consumer's is not, so a busy machine narrows the ratio`,
    );
    rows.push({
      figure: 'consume: 64 groups in 1 partition vs plain consumer (10 ms endpoint)',
      target: '>= 40x',
      measured: `${fmtNum(parallel / plain, 1)}x`,
      verdict: verdictAtLeast(parallel / plain, 40),
    });
    rows.push({
      figure: 'consume: fast endpoint, batch_max_messages 100',
      target: '>= 50,000 msgs/s',
      measured: `${fmtInt(fast)} msgs/s`,
      verdict: verdictAtLeast(fast, 50_000),
    });
    await admin.deleteTopics({ topics: [slowTopic, fastTopic] }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTargets } = await import('./support/targets.ts');
  printTargets(await benchConsume(process.argv.includes('--quick')));
  process.exit(0);
}
