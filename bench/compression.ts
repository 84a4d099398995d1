import { compressionsAlgorithms } from '@platformatic/kafka';
import { KAFKA_COMPRESSIONS, type KafkaCompression } from '../src/config/options.ts';
import { KafkaConnectionProblem } from '../src/kafka/connection-problem.ts';
import { createKafkaEngine } from '../src/kafka/create-engine.ts';
import { PartitionWriter, type OutgoingRecord } from '../src/writer/partition-writer.ts';
import { processCpuSeconds, servicePids } from './support/cpu.ts';
import { KAFKA_BROKERS, benchKafka, benchMetrics, connectRedis, createTopic, quietLog } from './support/env.ts';
import { fmtInt, fmtNum, heading, note, table } from './support/format.ts';
import { PARTITIONS } from './support/throughput-rows.ts';
import { buildRequests, type WorkloadShape } from './support/workload.ts';

/** The everyday workload (section 4b): 10-message requests of 100-byte values, 1,000 a second. */
const SHAPE: WorkloadShape = { groups: 1000, partitions: PARTITIONS, messagesPerRequest: 10, valueBytes: 100, distinctBodies: 256 };
const REQUESTS_PER_S = 1000;

interface CodecPhase {
  codec: KafkaCompression;
  /** This process (the writer and its engine; the pacing loop is the same for every codec). */
  writerCores: number;
  brokerCores: number | undefined;
  answeredPerS: number;
}

/** A request's batch as the codec compresses it (values and group headers, as the record batch carries them). */
function compressedShare(codec: KafkaCompression, requests: readonly { group: string; value: string }[][]): number {
  if (codec === 'none') return 1;
  let raw = 0;
  let packed = 0;
  for (const request of requests) {
    const body = Buffer.from(request.map((m) => `message-group${m.group}${m.value}`).join(''));
    raw += body.length;
    packed += compressionsAlgorithms[codec].compressSync(body).length;
  }
  return packed / raw;
}

/**
 * KAFKA_COMPRESSION at everyday load: the partition writer and the @platformatic/kafka engine in this process,
 * 1,000 requests/s of 10 messages, each codec in turn for `rounds` rounds (medians), CPU of this process and of
 * the broker from /proc. Picks the default: the codec with the least CPU on both sides.
 */
export async function benchCompression(quick: boolean): Promise<void> {
  const seconds = quick ? 3 : 5;
  const rounds = quick ? 2 : 3;
  heading(
    `6. KAFKA_COMPRESSION at ${fmtInt(REQUESTS_PER_S)} requests/s of 10 messages: writer + @platformatic/kafka engine in this process, ${rounds} rounds of ${seconds} s per codec`,
  );
  const admin = benchKafka().admin();
  await admin.connect();
  const redis = connectRedis();
  const broker = (await servicePids(redis, KAFKA_BROKERS)).find((s) => s.label === 'Kafka broker')?.pid;
  await redis.quit();
  const requests = buildRequests(SHAPE);
  const phases: CodecPhase[] = [];
  const topics: string[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const codec of KAFKA_COMPRESSIONS) {
        const topic = await createTopic(admin, `codec-${codec}`, PARTITIONS);
        topics.push(topic);
        phases.push(await runCodec(codec, topic, requests, seconds, broker));
      }
    }
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
  const med = (values: (number | undefined)[]): number | undefined => {
    const known = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
    return known.length === 0 ? undefined : known[Math.floor((known.length - 1) / 2)];
  };
  console.log('');
  table(
    ['KAFKA_COMPRESSION', 'writer process cores', 'broker cores', 'answered/s', 'batch bytes after the codec'],
    KAFKA_COMPRESSIONS.map((codec) => {
      const mine = phases.filter((p) => p.codec === codec);
      const broker = med(mine.map((p) => p.brokerCores));
      return [
        codec,
        fmtNum(med(mine.map((p) => p.writerCores))!, 3),
        broker === undefined ? 'n/a' : fmtNum(broker, 3),
        fmtInt(med(mine.map((p) => p.answeredPerS))!),
        `${fmtNum(compressedShare(codec, requests) * 100, 0)} %`,
      ];
    }),
  );
  note(
    'medians over the rounds; the workload values are random letters and digits (compressible only through the repeated header names and groups): payloads that repeat more (JSON) shrink more, at the same CPU per byte.',
  );
}

async function runCodec(
  codec: KafkaCompression,
  topic: string,
  requests: readonly { group: string; value: string; partition: number }[][],
  seconds: number,
  broker: number | undefined,
): Promise<CodecPhase> {
  const engine = await createKafkaEngine(
    'platformatic',
    { brokers: KAFKA_BROKERS, clientId: `bench-codec-${codec}`, security: {}, problem: new KafkaConnectionProblem() },
    { writeTimeoutMs: 30_000, compression: codec },
    quietLog(),
  );
  await engine.connect();
  const writer = new PartitionWriter(engine, { maxBatchMessages: 1000, maxBatchBytes: 900 * 1024 }, benchMetrics());
  const send = async (i: number): Promise<void> => {
    const byPartition = new Map<number, OutgoingRecord[]>();
    for (const m of requests[i % requests.length]!) {
      const record = { message: { key: null, value: m.value, headers: { 'message-group': m.group } }, bytes: m.value.length };
      byPartition.set(m.partition, [...(byPartition.get(m.partition) ?? []), record]);
    }
    await Promise.all([...byPartition].map(([partition, records]) => writer.write(topic, partition, records, 'ordered')));
  };
  try {
    // A second of warm-up, then the measured window; requests start on schedule whatever the answers.
    const run = async (ms: number): Promise<number> => {
      const started = performance.now();
      const pending: Promise<void>[] = [];
      for (let i = 0; performance.now() - started < ms;) {
        const due = Math.floor(((performance.now() - started) / 1000) * REQUESTS_PER_S);
        for (; i < due; i++) pending.push(send(i));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await Promise.all(pending);
      return pending.length;
    };
    await run(1000);
    const cpu = process.cpuUsage();
    const brokerBefore = broker === undefined ? undefined : processCpuSeconds(broker);
    const started = performance.now();
    const answered = await run(seconds * 1000);
    const elapsed = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const brokerAfter = broker === undefined ? undefined : processCpuSeconds(broker);
    return {
      codec,
      writerCores: (used.user + used.system) / 1e6 / elapsed,
      brokerCores: brokerBefore === undefined || brokerAfter === undefined ? undefined : (brokerAfter - brokerBefore) / elapsed,
      answeredPerS: answered / elapsed,
    };
  } finally {
    await writer.idle();
    await engine.close();
  }
}
