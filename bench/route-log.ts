import { DEFAULT_OPTIONS } from '../src/config/options.ts';
import { createKafkaEngine, createLogTopicClient } from '../src/kafka/create-engine.ts';
import { KafkaConnectionProblem } from '../src/kafka/connection-problem.ts';
import { KafkaRouteLog } from '../src/kafka/kafka-route-log.ts';
import { KAFKA_CLIENTS } from '../src/kafka/kafka-engine.ts';
import { PartitionWriter } from '../src/writer/partition-writer.ts';
import { RedisGateway } from '../src/redis/redis-gateway.ts';
import { RouterStore } from '../src/redis/router-store.ts';
import type { RouteLog } from '../src/routing/route-log.ts';
import { OrderedMessageRouter } from '../src/routing/router.ts';
import { pipelined, sequential } from './routing-latency.ts';
import { benchKafka, benchMetrics, benchPrefix, benchTopic, connectRedis, dropPrefix, KAFKA_BROKERS, quietLog } from './support/env.ts';
import { fmtInt, fmtMs, heading, note, table } from './support/format.ts';
import type { SectionResult } from './support/targets.ts';

const PARTITIONS = 12;

/**
 * What the route log (ROUTE_LOG) costs a new MessageGroup: the route script, then one acknowledged Kafka write
 * (acks=all, idempotent) before the route is cached. Cached routes never touch the log, so only new groups pay.
 */
export async function benchRouteLog(quick: boolean): Promise<SectionResult> {
  heading('6. New-group cost of the route log (route-3.lua, then the Kafka write, against the real Redis and Kafka)');
  const redis = connectRedis();
  const prefix = benchPrefix();
  const store = new RouterStore(new RedisGateway(redis), prefix);
  const logTopic = benchTopic('routes');
  const admin = benchKafka().admin();
  await admin.connect();
  const singles = quick ? 300 : 1000;
  const burst = quick ? 2000 : 10_000;
  const rows: string[][] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    const measure = async (label: string, routeLog: RouteLog | undefined): Promise<void> => {
      const { routerBuckets, groupTtlMs, touchFlushIntervalMs } = DEFAULT_OPTIONS;
      const router = new OrderedMessageRouter(
        store,
        async () => PARTITIONS,
        { routerBuckets, routeCacheSize: DEFAULT_OPTIONS.routeCacheSize, groupTtlMs, touchFlushIntervalMs, routeLog },
        benchMetrics(),
        quietLog(),
      );
      const topic = benchTopic('route-log');
      for (let i = 0; i < 50; i++) await router.route(topic, `warm-${i}`); // topic registered, script loaded, log topic made
      const one = await sequential(singles, (i) => router.route(topic, `one-${i}`));
      const many = await pipelined(burst, 64, (i) => router.route(topic, `many-${i}`));
      rows.push(
        [`${label}, one at a time`, fmtInt(one.count), fmtMs(one.p50), fmtMs(one.p99), fmtMs(one.max), ''],
        [
          `${label}, 64 in flight`,
          fmtInt(burst),
          fmtMs(many.latency.p50),
          fmtMs(many.latency.p99),
          fmtMs(many.latency.max),
          `${fmtInt(many.perSecond)} groups/s`,
        ],
      );
    };
    await measure('no route log (ROUTE_LOG=false)', undefined);
    for (const engineName of KAFKA_CLIENTS) {
      const connection = { brokers: KAFKA_BROKERS, clientId: 'ordered-sidecar-bench', security: {}, problem: new KafkaConnectionProblem() };
      const engine = await createKafkaEngine(engineName, connection, { writeTimeoutMs: DEFAULT_OPTIONS.kafkaWriteTimeoutMs, compression: 'none' }, quietLog());
      await engine.connect();
      const writer = new PartitionWriter(
        engine,
        { maxBatchMessages: DEFAULT_OPTIONS.maxBatchMessages, maxBatchBytes: DEFAULT_OPTIONS.maxBatchBytes },
        benchMetrics(),
      );
      const routeLog = new KafkaRouteLog(
        writer,
        await createLogTopicClient(engineName, connection, quietLog()),
        (t) => engine.partitionCount(t),
        { topic: logTopic, prefix, replicationFactor: undefined, readTimeoutMs: DEFAULT_OPTIONS.routeLogReadTimeoutMs },
        quietLog(),
      );
      closers.push(
        () => routeLog.close(),
        () => engine.close(),
      );
      await measure(`route log, ${engineName} engine`, routeLog);
    }
    table(['path (new groups only)', 'groups', 'p50', 'p99', 'max', 'throughput'], rows);
    note(`${PARTITIONS} partitions; the route log topic is created by the first write (12 partitions, compacted), as a sidecar does at start.`);
    note('a cached route costs the same with or without the log (it is not written again); "64 in flight" new groups share Kafka requests.');
    return { targets: [], figures: {} };
  } finally {
    for (const close of closers) await close();
    await admin.deleteTopics({ topics: [logTopic] }).catch(() => undefined);
    await admin.disconnect();
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}
