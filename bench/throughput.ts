import { CompressionTypes, Partitioners, type Admin, type Message, type Producer } from 'kafkajs';
import { DEFAULT_OPTIONS } from '../src/config/options.ts';
import { createLogger } from '../src/logging/logger.ts';
import { startSidecar, type RunningSidecar } from '../src/sidecar.ts';
import { cpuWindow, describeCpu, servicePids, type CpuUsage } from './support/cpu.ts';
import { KAFKA_BROKERS, REDIS_URL, benchKafka, benchPrefix, connectRedis, createTopic, dropPrefix, recordCount } from './support/env.ts';
import { fmtInt, fmtMs, fmtNum, heading, note, table, verdictAtLeast } from './support/format.ts';
import { histogramTotals, since } from './support/histogram.ts';
import { closedLoop, postOrdered, type LoadResult } from './support/load.ts';
import type { TargetRow } from './support/targets.ts';
import { buildWorkload, type Workload } from './support/workload.ts';

export interface ThroughputSettings {
  durationMs: number;
  warmupMs: number;
  concurrency: number;
}

export const PARTITIONS = 12;
export const SHAPE = { groups: 1000, partitions: PARTITIONS, messagesPerRequest: 100, valueBytes: 100, distinctBodies: 256 };

export const throughputSettings = (quick: boolean, overrides: Partial<ThroughputSettings> = {}): ThroughputSettings => ({
  durationMs: quick ? 5000 : 15_000,
  warmupMs: quick ? 1500 : 3000,
  concurrency: 64,
  ...overrides,
});

/** Sends request `i` from loop `worker`; resolves with the messages acknowledged. */
type Send = (i: number, worker: number) => Promise<number>;

/** Polls /readyz until the sidecar reports Kafka and Redis reachable. */
export async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(`${url}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`sidecar at ${url} not ready after ${timeoutMs} ms (last status ${status})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The prepared request bodies, posted by keep-alive fetch loops. */
export const httpSender = (url: string, workload: Workload): Send => (i) =>
  postOrdered(`${url}/v1/ordered-produce`, workload.bodies[i % workload.bodies.length]!, workload.messagesPerRequest);

/** One idempotent producer configured as the sidecar's (acks all, one request in flight per connection). */
async function rawProducer(): Promise<Producer> {
  const producer = benchKafka().producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return producer;
}

const sendBatch = async (producer: Producer, topic: string, messages: Message[]): Promise<number> => {
  await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages });
  return messages.length;
};

/** Request i's 100 messages as one producer.send, as an application would without the sidecar. */
const rawSender = (producer: Producer, topic: string, workload: Workload): Send => (i) => sendBatch(producer, topic, workload.batches[i % workload.batches.length]!);

/** The client's ceiling: loop w always sends partition w (one batch in flight per partition, as PartitionWriter), 1000 messages at a time. */
function ceilingSender(producer: Producer, topic: string, workload: Workload): Send {
  const all = workload.batches.flat();
  const perPartition = Array.from({ length: PARTITIONS }, (_, p) => all.filter((m) => m.partition === p).slice(0, DEFAULT_OPTIONS.maxBatchMessages));
  return (_i, worker) => sendBatch(producer, topic, perPartition[worker % PARTITIONS]!);
}

interface Measured {
  label: string;
  concurrency: number;
  topic: string;
  warm: LoadResult;
  run: LoadResult;
  usage: CpuUsage;
  cpu: string;
}

async function measure(label: string, topic: string, concurrency: number, settings: ThroughputSettings, pids: Awaited<ReturnType<typeof servicePids>>, send: Send, afterWarmUp = async (): Promise<void> => {}): Promise<Measured> {
  const warm = await closedLoop(concurrency, settings.warmupMs, send);
  await afterWarmUp();
  const window = cpuWindow(pids, navigator.hardwareConcurrency);
  const run = await closedLoop(concurrency, settings.durationMs, send);
  const usage = window.stop();
  return { label, concurrency, topic, warm, run, usage, cpu: describeCpu(usage, 'this process') };
}

/** What the sidecar's own metrics say about the measured window: how it batched for Kafka and how long routing took. */
function sidecarView(metrics: RunningSidecar['metrics']) {
  const read = async () => ({
    batches: await histogramTotals(metrics.kafkaBatchMessages),
    writes: await histogramTotals(metrics.kafkaWriteDuration),
    routing: await histogramTotals(metrics.routingDuration),
  });
  let before: Awaited<ReturnType<typeof read>> | undefined;
  return {
    mark: async (): Promise<void> => void (before = await read()),
    describe: async (seconds: number): Promise<string> => {
      const now = await read();
      const batches = since(now.batches, before!.batches);
      const writes = since(now.writes, before!.writes);
      const routing = since(now.routing, before!.routing);
      return [
        `${fmtInt(batches.count / seconds)} Kafka produce requests/s of ${fmtNum(batches.sum / batches.count, 0)} messages on average (one partition each)`,
        `mean Kafka write ${fmtMs((writes.sum / writes.count) * 1000)} (queueing included)`,
        `mean routing per request ${fmtMs((routing.sum / routing.count) * 1000)}`,
      ].join('; ');
    },
  };
}

const resultRow = (m: Measured): string[] => [
  m.label,
  String(m.concurrency),
  fmtInt(m.run.requests),
  fmtInt(m.run.messages),
  fmtInt(m.run.messages / m.run.seconds),
  fmtMs(m.run.latency.p50),
  fmtMs(m.run.latency.p99),
  `${fmtNum((m.usage.self * m.run.seconds * 1e6) / m.run.messages, 1)} µs`,
  fmtInt(m.run.failures),
];

async function kafkaCheck(admin: Admin, topic: string, runs: Measured[]): Promise<string[]> {
  const acknowledged = runs.reduce((n, m) => n + m.warm.messages + m.run.messages, 0);
  const written = await recordCount(admin, topic);
  return [`${topic} (${runs.map((m) => m.label.split(':')[0]).join(' + ')})`, fmtInt(acknowledged), fmtInt(written), written === acknowledged ? 'equal' : `DIFFER by ${fmtInt(written - acknowledged)}`];
}

export async function benchThroughput(settings: ThroughputSettings): Promise<TargetRow[]> {
  heading(`4. End-to-end throughput: ${SHAPE.messagesPerRequest} x ${SHAPE.valueBytes}-byte messages per request, ${fmtInt(SHAPE.groups)} groups, ${PARTITIONS} partitions, ${settings.durationMs / 1000} s per row`);
  const admin = benchKafka().admin();
  await admin.connect();
  const redis = connectRedis();
  const prefix = benchPrefix();
  const topics: string[] = [];
  try {
    const pids = await servicePids(redis);
    const sidecarTopic = await createTopic(admin, 'sidecar', PARTITIONS);
    const rawTopic = await createTopic(admin, 'raw', PARTITIONS);
    topics.push(sidecarTopic, rawTopic);
    const workload = buildWorkload({ ...SHAPE, topic: sidecarTopic });

    const sidecar = await startSidecar(
      { ...DEFAULT_OPTIONS, kafkaBrokers: KAFKA_BROKERS, redisUrl: REDIS_URL, redisPrefix: prefix, port: 0, logLevel: 'warn' },
      createLogger('warn', { bench: true }),
    );
    let viaSidecar: Measured;
    let inside: string;
    try {
      await waitReady(sidecar.url);
      const view = sidecarView(sidecar.metrics);
      viaSidecar = await measure('sidecar: HTTP ordered-produce, in-process', sidecarTopic, settings.concurrency, settings, pids, httpSender(sidecar.url, workload), view.mark);
      inside = await view.describe(viaSidecar.run.seconds);
    } finally {
      await sidecar.close();
    }

    const producer = await rawProducer();
    let raw: Measured;
    let ceiling: Measured;
    try {
      raw = await measure('raw kafkajs: same 100-message requests', rawTopic, settings.concurrency, settings, pids, rawSender(producer, rawTopic, workload));
      ceiling = await measure('raw kafkajs ceiling: 1000-message batches per partition', rawTopic, PARTITIONS, settings, pids, ceilingSender(producer, rawTopic, workload));
    } finally {
      await producer.disconnect();
    }

    table(['path', 'concurrency', 'requests', 'messages', 'messages/s', 'p50', 'p99', 'CPU/msg', 'failures'], [viaSidecar, raw, ceiling].map(resultRow));
    const rate = (m: Measured): number => m.run.messages / m.run.seconds;
    console.log(`   sidecar / raw kafkajs (same requests) = ${fmtNum(rate(viaSidecar) / rate(raw), 2)}; sidecar / kafkajs ceiling = ${fmtNum(rate(viaSidecar) / rate(ceiling), 2)}`);
    console.log(`   inside the sidecar: ${inside}`);
    for (const m of [viaSidecar, raw, ceiling]) {
      console.log(`   CPU during "${m.label}": ${m.cpu}`);
      if (m.run.firstFailure) console.log(`   first failure: ${m.run.firstFailure}`);
    }
    console.log('');
    table(['Kafka-side check (warm-up + measured)', 'acknowledged', 'records in topic (sum of end offsets)', 'result'], [await kafkaCheck(admin, sidecarTopic, [viaSidecar]), await kafkaCheck(admin, rawTopic, [raw, ceiling])]);
    note('2 shared cores: the load generator (fetch + JSON), the sidecar, the Kafka broker, Redis and anything else running compete for them; the ratios, measured back to back, are the honest figures.');
    note('CPU/msg = CPU time of this process / messages; for the sidecar row it includes the load generator (section 5 measures the sidecar alone).');
    note('the sidecar coalesces concurrent requests per partition (<= 1000 messages / 900 KiB per Kafka request); raw sends each 100-message request as one producer.send.');
    return [{ figure: 'end-to-end throughput via sidecar', target: '100K+ msgs/s', measured: `${fmtInt(rate(viaSidecar))} msgs/s (kafkajs alone: ${fmtInt(rate(raw))}, ceiling ${fmtInt(rate(ceiling))})`, verdict: verdictAtLeast(rate(viaSidecar), 100_000) }];
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}
