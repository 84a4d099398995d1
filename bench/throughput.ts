import type { Admin } from 'kafkajs';
import { DEFAULT_OPTIONS } from '../src/config/options.ts';
import { cpuWindow, processMemory, servicePids, type Watched } from './support/cpu.ts';
import {
  PARTITIONS,
  acknowledgedEqualsRecords,
  fmtMb,
  generatorLabel,
  printResults,
  rate,
  usPerMessage,
  type RowKind,
  type RowOutcome,
  type RowSpec,
} from './support/throughput-rows.ts';
import { KAFKA_BROKERS, REDIS_URL, benchKafka, benchPrefix, connectRedis, createTopic, dropPrefix, recordCount } from './support/env.ts';
import { fmtInt, fmtNum, heading, note, verdict, verdictAtLeast } from './support/format.ts';
import { ENGINES, type Engine, type LoadJob, type LoadPattern } from './support/load-job.ts';
import { LoadGenerator } from './support/load-process.ts';
import { ensureBuilt, scrapeHistogram, startSidecarProcess, type EngineReading, type SidecarProcess } from './support/sidecar-process.ts';
import { rounded, type SummaryFigures } from './support/summary.ts';
import type { SectionResult, TargetRow } from './support/targets.ts';
import type { WorkloadShape } from './support/workload.ts';

export interface ThroughputSettings {
  durationMs: number;
  warmupMs: number;
  concurrency: number;
}

/** The throughput workload: 100-message requests of 100-byte values over 1000 groups. */
export const SHAPE: WorkloadShape = { groups: 1000, partitions: PARTITIONS, messagesPerRequest: 100, valueBytes: 100, distinctBodies: 256 };

const TARGET_MSGS_PER_S = 100_000;
const TARGET_RATIO_VS_DIRECT_KAFKAJS = 1.5;
const TARGET_RATIO_VS_DIRECT_PLATFORMATIC = 0.75;
const TARGET_CPU_US_PER_MSG = 5;
const TARGET_PEAK_RSS_MIB = 200;

export const throughputSettings = (quick: boolean, overrides: Partial<ThroughputSettings> = {}): ThroughputSettings => ({
  durationMs: quick ? 5000 : 15_000,
  warmupMs: quick ? 1500 : 3000,
  concurrency: 64,
  ...overrides,
});

interface Context {
  admin: Admin;
  generator: LoadGenerator;
  services: Watched[];
  settings: ThroughputSettings;
  topics: string[];
}

/** One row: a fresh topic, a load generator process, CPU from /proc over its measured window, then the Kafka-side check. */
async function runRow(ctx: Context, spec: RowSpec, engine: Engine, sidecar?: SidecarProcess): Promise<RowOutcome> {
  const started = performance.now();
  const topic = await createTopic(ctx.admin, spec.kind, PARTITIONS);
  ctx.topics.push(topic);
  const job: LoadJob = {
    target: sidecar ? { kind: 'sidecar', url: sidecar.url } : { kind: 'direct', engine, brokers: KAFKA_BROKERS },
    pattern: spec.pattern,
    topic,
    shape: spec.shape,
    warmupMs: ctx.settings.warmupMs,
    durationMs: ctx.settings.durationMs,
  };
  const outcome: RowOutcome = { spec, engine, topic };
  let batchesBefore: ReturnType<typeof scrapeHistogram> | undefined;
  let batchesAfter: ReturnType<typeof scrapeHistogram> | undefined;
  try {
    const { report, measured } = await ctx.generator.run(job, (generatorPid) => {
      const watched = [...(sidecar ? [{ label: 'sidecar', pid: sidecar.pid }] : []), { label: generatorLabel(spec), pid: generatorPid }, ...ctx.services];
      if (sidecar) batchesBefore = scrapeHistogram(sidecar.url, 'kafka_batch_messages');
      const window = cpuWindow(watched);
      return () => {
        if (sidecar) batchesAfter = scrapeHistogram(sidecar.url, 'kafka_batch_messages');
        return window.stop();
      };
    });
    outcome.report = report;
    outcome.cpu = measured;
    outcome.acknowledged = report.warm.messages + report.run.messages + report.drain.messages;
    if (sidecar) {
      outcome.memory = processMemory(sidecar.pid);
      const [before, after] = await Promise.all([batchesBefore, batchesAfter]);
      if (before && after && after.count > before.count) {
        const batches = after.count - before.count;
        outcome.batching = `${fmtInt(batches / report.run.seconds)} Kafka batches/s of ${fmtNum((after.sum - before.sum) / batches, 0)} messages on average`;
      }
    }
  } catch (err) {
    outcome.error = err instanceof Error ? err.message : String(err);
  }
  outcome.records = await recordCount(ctx.admin, topic);
  const check =
    outcome.acknowledged === undefined
      ? 'not checked'
      : acknowledgedEqualsRecords(outcome)
        ? 'acked = records'
        : `acked ${fmtInt(outcome.acknowledged)} != records ${fmtInt(outcome.records)}`;
  console.log(
    `   done in ${fmtNum((performance.now() - started) / 1000, 1)} s: ${spec.label} [${engine}]: ${outcome.report ? `${fmtInt(rate(outcome)!)} msgs/s` : `FAILED: ${outcome.error}`}; ${check}`,
  );
  return outcome;
}

/** Starts a sidecar process, runs `specs` through it, stops it. A sidecar that cannot start fails its rows, not the run. */
async function throughSidecar(ctx: Context, engine: Engine | undefined, specs: RowSpec[]): Promise<{ reading?: EngineReading; outcomes: RowOutcome[] }> {
  let sidecar: SidecarProcess;
  const prefix = benchPrefix();
  const redis = connectRedis();
  const started = performance.now();
  try {
    sidecar = await startSidecarProcess({ kafkaBrokers: KAFKA_BROKERS, redisUrl: REDIS_URL, redisPrefix: prefix, ...(engine ? { engine } : {}) });
  } catch (err) {
    const error = `sidecar did not start: ${err instanceof Error ? err.message : String(err)}`;
    console.log(`   ${error}`);
    await dropPrefix(redis, prefix).finally(() => redis.quit());
    return { outcomes: specs.map((spec) => ({ spec, engine: engine ?? 'kafkajs', topic: '-', error })) };
  }
  try {
    console.log(
      `   sidecar pid ${sidecar.pid} at ${sidecar.url}, ready in ${fmtNum((performance.now() - started) / 1000, 1)} s: engine ${sidecar.engine.engine} (${sidecar.engine.source})`,
    );
    const outcomes: RowOutcome[] = [];
    for (const spec of specs) outcomes.push(await runRow(ctx, spec, sidecar.engine.engine, sidecar));
    return { reading: sidecar.engine, outcomes };
  } finally {
    await sidecar.stop();
    await dropPrefix(redis, prefix).finally(() => redis.quit());
  }
}

const otherEngine = (engine: Engine): Engine => ENGINES.find((e) => e !== engine)!;

/** KAFKA_CLIENT of the benchmark's own environment picks the engine the summary is about; otherwise the sidecar's default. */
function requestedEngine(): Engine | undefined {
  const value = process.env.KAFKA_CLIENT;
  if (value === undefined || value === '') return undefined;
  const engine = ENGINES.find((e) => e === value);
  if (!engine) throw new Error(`KAFKA_CLIENT=${value}: expected one of ${ENGINES.join(', ')}`);
  return engine;
}

export async function benchThroughput(settings: ThroughputSettings): Promise<SectionResult> {
  ensureBuilt();
  const seconds = settings.durationMs / 1000;
  heading(`4. Throughput: sidecar processes (node dist/cli.js serve) against applications on each engine, ${seconds} s per row`);
  console.log(
    `   throughput rows: ${SHAPE.messagesPerRequest} x ${SHAPE.valueBytes}-byte messages per request, ${fmtInt(SHAPE.groups)} groups, ${PARTITIONS} partitions, ${settings.concurrency} concurrent requests, ${settings.warmupMs / 1000} s warm-up (latency at a steady rate: section 4b)`,
  );
  const admin = benchKafka().admin();
  await admin.connect();
  const redis = connectRedis();
  const ctx: Context = { admin, generator: new LoadGenerator(), services: await servicePids(redis, KAFKA_BROKERS), settings, topics: [] };
  await redis.quit();
  console.log(`   watched: ${ctx.services.map((s) => `${s.label} pid ${s.pid ?? 'not found (CPU n/a)'}`).join(', ')}`);
  try {
    const closed: LoadPattern = { kind: 'closed', concurrency: settings.concurrency };
    const requested = requestedEngine();
    const first = await throughSidecar(ctx, requested, [
      { kind: 'sidecar', label: `sidecar, ${requested ? 'KAFKA_CLIENT' : 'default'} engine`, pattern: closed, shape: SHAPE },
    ]);
    const engine = first.reading?.engine ?? requested ?? 'kafkajs';
    const second = await throughSidecar(ctx, otherEngine(engine), [{ kind: 'sidecar', label: 'sidecar, other engine', pattern: closed, shape: SHAPE }]);
    if (first.reading && second.reading && first.reading.engine === second.reading.engine) {
      console.log(`   WARNING: both sidecar rows ran ${engine}: the second sidecar did not take KAFKA_CLIENT=${otherEngine(engine)}`);
    } else if (second.reading && second.reading.source !== 'reported by /v1/api-versions') {
      console.log(
        `   WARNING: the sidecar does not name its engine; one built before the engine interface ignores KAFKA_CLIENT, so "sidecar, other engine" may have run kafkajs`,
      );
    }
    const direct: RowOutcome[] = [];
    const directRow = async (spec: RowSpec, e: Engine): Promise<void> => void direct.push(await runRow(ctx, spec, e));
    for (const e of ENGINES) await directRow({ kind: 'direct', label: `direct ${e}, same requests`, pattern: closed, shape: SHAPE }, e);
    const batchMessages = DEFAULT_OPTIONS.maxBatchMessages;
    for (const e of ENGINES)
      await directRow(
        { kind: 'ceiling', label: `${e} ceiling, ${fmtInt(batchMessages)}-message batches`, pattern: { kind: 'ceiling', batchMessages }, shape: SHAPE },
        e,
      );

    const outcomes = [...first.outcomes, ...second.outcomes, ...direct];
    printResults(outcomes);
    return judge(engine, outcomes);
  } finally {
    await ctx.generator.close();
    await admin.deleteTopics({ topics: ctx.topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

/** The summary figures and the lines against the targets. */
function judge(engine: Engine, outcomes: RowOutcome[]): SectionResult {
  const find = (kind: RowKind, e: Engine): RowOutcome | undefined => outcomes.find((o) => o.spec.kind === kind && o.engine === e);
  const sidecar = outcomes.find((o) => o.spec.kind === 'sidecar');
  const sidecarRate = rate(sidecar);
  const directKafkajs = rate(find('direct', 'kafkajs'));
  const directPlatformatic = rate(find('direct', 'platformatic'));
  const ceiling = rate(find('ceiling', engine));
  const cpuPerMessage = sidecar && usPerMessage(sidecar, 'sidecar');
  const ratio = sidecarRate !== undefined && directKafkajs !== undefined ? sidecarRate / directKafkajs : undefined;
  const ratioPlatformatic = sidecarRate !== undefined && directPlatformatic !== undefined ? sidecarRate / directPlatformatic : undefined;
  const peakMib = sidecar?.memory?.peak === undefined ? undefined : sidecar.memory.peak / 2 ** 20;
  const allEqual = outcomes.every(acknowledgedEqualsRecords);
  const unequal = outcomes.filter((o) => !acknowledgedEqualsRecords(o)).map((o) => `${o.spec.label} [${o.engine}]`);

  console.log(
    `   sidecar [${engine}] / direct kafkajs = ${fmtNum(ratio ?? NaN, 2)}; sidecar / ${engine} ceiling = ${fmtNum(sidecarRate !== undefined && ceiling !== undefined ? sidecarRate / ceiling : NaN, 2)}`,
  );
  note(
    'every process is separate: the sidecar (node dist/cli.js serve), the load generator or application (a child of this process, keep-alive HTTP, requests built before the clock starts), the broker and Redis; CPU is read from /proc for each over the measured window.',
  );
  note(
    'CPU/msg = that process\'s CPU time in the measured window / messages acknowledged in it. "everything else" is the rest of the machine: other developers\' work, the kernel, this orchestrator.',
  );
  note(
    "direct rows: one producer, one send per request (idempotent, acks -1), each message to its group's hashed partition; ceiling rows: one loop per partition sending that partition's 1000-message batches (one batch in flight per partition, as the sidecar's writer).",
  );

  const us = (n: number): string => `${fmtNum(n, 1)} µs`;
  const msgs = (n: number): string => `${fmtInt(n)} msgs/s`;
  const na = 'n/a (row failed)';
  const targets: TargetRow[] = [
    {
      figure: `ordered msgs/s through one sidecar [${engine}]`,
      target: '>= 100K msgs/s',
      measured: sidecarRate === undefined ? na : msgs(sidecarRate),
      verdict: sidecarRate === undefined ? 'NOT MEASURED' : verdictAtLeast(sidecarRate, TARGET_MSGS_PER_S, msgs),
    },
    {
      figure: 'sidecar / direct kafkajs (same requests)',
      target: '>= 1.5x',
      measured: ratio === undefined ? na : `${fmtNum(ratio, 2)}x`,
      verdict: ratio === undefined ? 'NOT MEASURED' : verdictAtLeast(ratio, TARGET_RATIO_VS_DIRECT_KAFKAJS, (n) => `${fmtNum(n, 2)}x`),
    },
    {
      figure: `sidecar / direct platformatic (same requests)`,
      target: `>= ${TARGET_RATIO_VS_DIRECT_PLATFORMATIC}x`,
      measured: ratioPlatformatic === undefined ? na : `${fmtNum(ratioPlatformatic, 2)}x`,
      verdict:
        ratioPlatformatic === undefined ? 'NOT MEASURED' : verdictAtLeast(ratioPlatformatic, TARGET_RATIO_VS_DIRECT_PLATFORMATIC, (n) => `${fmtNum(n, 2)}x`),
    },
    {
      figure: 'sidecar CPU per message',
      target: `<= ${TARGET_CPU_US_PER_MSG} µs`,
      measured: cpuPerMessage === undefined ? na : us(cpuPerMessage),
      verdict:
        cpuPerMessage === undefined
          ? 'NOT MEASURED'
          : cpuPerMessage <= TARGET_CPU_US_PER_MSG
            ? `meets (${fmtNum(TARGET_CPU_US_PER_MSG / cpuPerMessage, 1)}x margin)`
            : verdict(cpuPerMessage, TARGET_CPU_US_PER_MSG, us),
    },
    {
      figure: 'sidecar peak RSS under the 64-way load',
      target: `<= ${TARGET_PEAK_RSS_MIB} MiB`,
      measured: fmtMb(sidecar?.memory?.peak),
      verdict: peakMib === undefined ? 'NOT MEASURED' : verdict(peakMib, TARGET_PEAK_RSS_MIB, (n) => `${fmtNum(n, 0)} MiB`),
    },
    {
      figure: 'acked equals records, every row',
      target: 'all rows',
      measured: allEqual ? `${outcomes.length} of ${outcomes.length} rows` : `${outcomes.length - unequal.length} of ${outcomes.length} rows`,
      verdict: allEqual ? 'meets' : `MISSES: ${unequal.join(', ')}`,
    },
  ];
  const figures: SummaryFigures = {
    engine,
    sidecar_msgs_per_s: rounded(sidecarRate, 0),
    sidecar_kafkajs_msgs_per_s: rounded(rate(find('sidecar', 'kafkajs')), 0),
    direct_kafkajs_msgs_per_s: rounded(directKafkajs, 0),
    direct_platformatic_msgs_per_s: rounded(rate(find('direct', 'platformatic')), 0),
    ratio_vs_direct_kafkajs: rounded(ratio, 3),
    ratio_vs_direct_platformatic: rounded(ratioPlatformatic, 3),
    engine_ceiling_msgs_per_s: rounded(ceiling, 0),
    ratio_vs_engine_ceiling: rounded(sidecarRate !== undefined && ceiling !== undefined ? sidecarRate / ceiling : undefined, 3),
    sidecar_cpu_us_per_msg: rounded(cpuPerMessage, 2),
    acked_equals_records: allEqual,
    peak_rss_mib: rounded(peakMib, 1),
  };
  return { targets, figures };
}
