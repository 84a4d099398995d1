import type { Admin } from 'kafkajs';
import { coresOf, cpuWindow, processMemory, servicePids, type CpuUsage, type Watched } from './support/cpu.ts';
import { KAFKA_BROKERS, REDIS_URL, benchKafka, benchPrefix, connectRedis, createTopic, dropPrefix, recordCount } from './support/env.ts';
import { startFloorProcess, type FloorProcess } from './support/floor-process.ts';
import { fmtInt, fmtMs, fmtNum, heading, note, table, verdict } from './support/format.ts';
import type { Engine, LoadJob, LoadReport } from './support/load-job.ts';
import { LoadGenerator } from './support/load-process.ts';
import { ensureBuilt, scrapeCounter, startSidecarProcess, type SidecarProcess } from './support/sidecar-process.ts';
import { rounded, type SummaryFigures } from './support/summary.ts';
import type { SectionResult, TargetRow } from './support/targets.ts';
import { PARTITIONS, fmtMb } from './support/throughput-rows.ts';
import type { WorkloadShape } from './support/workload.ts';

/** Requests a second of each row: a quiet pod, an everyday one, a busy one. */
const RATES = [100, 1000, 5000] as const;
/** The `lowload_*` figures and the targets are read at this rate. */
const LOWLOAD_RATE = 1000;
/** 10-message requests of 100-byte values over 1000 groups (the throughput section's latency workload). */
export const SHAPE: WorkloadShape = { groups: 1000, partitions: PARTITIONS, messagesPerRequest: 10, valueBytes: 100, distinctBodies: 256 };
/** The direct application of these rows: @platformatic/kafka, the client a sidecar on its default engine replaces. */
const DIRECT_ENGINE: Engine = 'platformatic';

const TARGET_CPU_RATIO = 1.5;
const TARGET_BROKER_RATIO = 1.2;
const TARGET_OVERHEAD_P99_MS = 2;
const TARGET_REQUESTS_PER_HTTP_REQUEST = 1.2;
const TARGET_IDLE_RSS_MIB = 80;
/** How long a freshly started sidecar sits idle before its resident memory is read. */
const IDLE_SETTLE_MS = 5000;
/** A phase kept its rate if it answered at least this share of it and skipped nothing. */
const STEADY_SHARE = 0.95;

export interface EverydaySettings {
  /** Sidecar and direct phases alternate this many times at each rate. */
  rounds: number;
  phaseMs: number;
  warmupMs: number;
}

export const everydaySettings = (quick: boolean): EverydaySettings => ({ rounds: 3, phaseMs: quick ? 3000 : 5000, warmupMs: quick ? 1000 : 1500 });

/**
 * The parties of each rate: the sidecar; the floor, a bare node:http server sending each request's messages with
 * one @platformatic/kafka producer (support/floor-server.ts), which is what any HTTP hop in front of this client
 * costs; and the direct application, which sends the same messages itself.
 */
const SIDES = ['sidecar', 'floor', 'direct'] as const;
export type Side = (typeof SIDES)[number];

/** What one phase measured. */
export interface Phase {
  /** Cores of the sidecar, of the floor server, or of the application (direct phases). */
  cores: number | undefined;
  brokerCores: number | undefined;
  p50: number;
  p99: number;
  answeredPerS: number;
  skipped: number;
  failures: number;
  /** Sidecar phases: Produce requests the sidecar sent to Kafka a second (its /metrics). */
  kafkaRequestsPerS: number | undefined;
  acknowledged: number;
}

/** The medians of one side's phases at one rate. */
interface Medians {
  cores: number | undefined;
  brokerCores: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
  answeredPerS: number | undefined;
  kafkaRequestsPerS: number | undefined;
  /** Phases that fell behind the rate (their latency is mostly queueing). */
  behind: number;
  failures: number;
}

interface RateResult {
  rate: number;
  medians: Record<Side, Medians>;
  /** acked = records for every party's topic of the rate. */
  checked: boolean;
}

export function median(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v)).sort((a, b) => a - b);
  if (known.length === 0) return undefined;
  const mid = Math.floor(known.length / 2);
  return known.length % 2 === 1 ? known[mid] : (known[mid - 1]! + known[mid]!) / 2;
}

const mediansOf = (phases: Phase[], rate: number): Medians => ({
  cores: median(phases.map((p) => p.cores)),
  brokerCores: median(phases.map((p) => p.brokerCores)),
  p50: median(phases.map((p) => p.p50)),
  p99: median(phases.map((p) => p.p99)),
  answeredPerS: median(phases.map((p) => p.answeredPerS)),
  kafkaRequestsPerS: median(phases.map((p) => p.kafkaRequestsPerS)),
  behind: phases.filter((p) => p.skipped > 0 || p.answeredPerS < STEADY_SHARE * rate).length,
  failures: phases.reduce((total, p) => total + p.failures, 0),
});

export interface Context {
  admin: Admin;
  generator: LoadGenerator;
  services: Watched[];
  settings: EverydaySettings;
  sidecar: SidecarProcess;
  /** Section 4b's floor server; the sections that borrow runPhase for sidecar phases only have none. */
  floor?: FloorProcess;
}

const BROKER = 'Kafka broker';
const REQUESTS_METRIC = 'kafka_produce_requests_total';

/** The process whose CPU a phase of each side reads (the direct application is the load generator itself). */
const MEASURED: Record<Side, string> = { sidecar: 'sidecar', floor: 'floor server', direct: 'application' };

function floorOf(ctx: Context): FloorProcess {
  if (!ctx.floor) throw new Error('a floor phase needs the floor server in its context');
  return ctx.floor;
}

/** One phase at `rate`: the load generator paces requests to the sidecar or the floor server, or is itself the direct application. */
export async function runPhase(ctx: Context, side: Side, topic: string, rate: number): Promise<Phase> {
  const { sidecar } = ctx;
  const job: LoadJob = {
    target:
      side === 'direct'
        ? { kind: 'direct', engine: DIRECT_ENGINE, brokers: KAFKA_BROKERS }
        : { kind: 'sidecar', url: side === 'sidecar' ? sidecar.url : floorOf(ctx).url },
    pattern: { kind: 'paced', perSecond: rate },
    topic,
    shape: SHAPE,
    warmupMs: ctx.settings.warmupMs,
    durationMs: ctx.settings.phaseMs,
  };
  const main = MEASURED[side];
  let requestsBefore: Promise<number | undefined> | undefined;
  let requestsAfter: Promise<number | undefined> | undefined;
  const { report, measured } = await ctx.generator.run<CpuUsage>(job, (generatorPid) => {
    const pid = side === 'sidecar' ? sidecar.pid : side === 'floor' ? floorOf(ctx).pid : generatorPid;
    const watched: Watched[] = [{ label: main, pid }, ...ctx.services];
    if (side === 'sidecar') requestsBefore = scrapeCounter(sidecar.url, REQUESTS_METRIC);
    const window = cpuWindow(watched);
    return () => {
      if (side === 'sidecar') requestsAfter = scrapeCounter(sidecar.url, REQUESTS_METRIC);
      return window.stop();
    };
  });
  const [before, after] = await Promise.all([requestsBefore, requestsAfter]);
  const { run } = report;
  return {
    cores: coresOf(measured, main),
    brokerCores: coresOf(measured, BROKER),
    p50: run.latency.p50,
    p99: run.latency.p99,
    answeredPerS: run.requests / run.seconds,
    skipped: run.skipped,
    failures: run.failures,
    kafkaRequestsPerS: before !== undefined && after !== undefined ? (after - before) / run.seconds : undefined,
    acknowledged: acknowledged(report),
  };
}

const acknowledged = (r: LoadReport): number => r.warm.messages + r.run.messages + r.drain.messages;

/** Every party at one rate, alternating, each on a topic of its own. */
async function runRate(ctx: Context, rate: number): Promise<RateResult> {
  const topics = {} as Record<Side, string>;
  for (const side of SIDES) topics[side] = await createTopic(ctx.admin, 'everyday', PARTITIONS);
  const phases: Record<Side, Phase[]> = { sidecar: [], floor: [], direct: [] };
  try {
    for (let round = 1; round <= ctx.settings.rounds; round++) {
      for (const side of SIDES) {
        const phase = await runPhase(ctx, side, topics[side], rate);
        phases[side].push(phase);
        console.log(
          `   ${fmtInt(rate)} req/s, round ${round}, ${side}: ${fmtNum(phase.cores ?? NaN, 2)} cores, broker ${fmtNum(phase.brokerCores ?? NaN, 2)}, p50 ${fmtMs(phase.p50)}, p99 ${fmtMs(phase.p99)}${
            phase.kafkaRequestsPerS === undefined ? '' : `, ${fmtInt(phase.kafkaRequestsPerS)} Kafka requests/s`
          }${phase.failures > 0 ? `, ${fmtInt(phase.failures)} failures` : ''}`,
        );
      }
    }
    const checks = await Promise.all(
      SIDES.map(async (side) => (await recordCount(ctx.admin, topics[side])) === phases[side].reduce((t, p) => t + p.acknowledged, 0)),
    );
    const medians = { sidecar: mediansOf(phases.sidecar, rate), floor: mediansOf(phases.floor, rate), direct: mediansOf(phases.direct, rate) };
    return { rate, medians, checked: checks.every(Boolean) };
  } finally {
    await ctx.admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  }
}

/** KAFKA_CLIENT of the benchmark's own environment picks the sidecar's engine; otherwise its default. */
const requestedEngine = (): Engine | undefined =>
  process.env.KAFKA_CLIENT === 'kafkajs' || process.env.KAFKA_CLIENT === 'platformatic' ? process.env.KAFKA_CLIENT : undefined;

export async function benchEveryday(settings: EverydaySettings): Promise<SectionResult> {
  ensureBuilt();
  heading(
    `4b. Everyday load: a sidecar beside a bare HTTP hop (the floor) and the direct @platformatic/kafka application at ${RATES.map(fmtInt).join(', ')} requests/s of ${SHAPE.messagesPerRequest} messages, ${settings.rounds} alternating phases of ${settings.phaseMs / 1000} s each, medians`,
  );
  const { admin, services, prefix, generator, close } = await openLoadBench();
  let sidecar: SidecarProcess | undefined;
  let floor: FloorProcess | undefined;
  try {
    const engine = requestedEngine();
    sidecar = await startSidecarProcess({ kafkaBrokers: KAFKA_BROKERS, redisUrl: REDIS_URL, redisPrefix: prefix, ...(engine ? { engine } : {}) });
    console.log(
      `   sidecar pid ${sidecar.pid}, engine ${sidecar.engine.engine} (${sidecar.engine.source}), KAFKA_COMPRESSION ${process.env.KAFKA_COMPRESSION || 'default'}`,
    );
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
    const idleRss = processMemory(sidecar.pid)?.rss;
    console.log(`   idle sidecar, ${IDLE_SETTLE_MS / 1000} s after it was ready: RSS ${fmtMb(idleRss)}`);
    floor = await startFloorProcess(KAFKA_BROKERS, PARTITIONS);
    console.log(`   floor server pid ${floor.pid}`);
    const ctx: Context = { admin, generator, services, settings, sidecar, floor };
    const results: RateResult[] = [];
    for (const rate of RATES) results.push(await runRate(ctx, rate));
    printRates(results);
    return judge(results, idleRss, sidecar.engine.engine);
  } finally {
    await Promise.all([sidecar?.stop(), floor?.stop()]);
    await close();
  }
}

/** What a section of sidecar phases needs (Kafka admin, the services watched, a Redis prefix, the load generator), and its teardown. */
export async function openLoadBench() {
  const admin = benchKafka().admin();
  await admin.connect();
  const redis = connectRedis();
  const services = await servicePids(redis, KAFKA_BROKERS);
  const prefix = benchPrefix();
  const generator = new LoadGenerator();
  const close = async (): Promise<void> => {
    await generator.close();
    await dropPrefix(redis, prefix).finally(() => redis.quit());
    await admin.disconnect();
  };
  return { admin, services, prefix, generator, close };
}

const PARTY: Record<Side, string> = { sidecar: 'sidecar', floor: 'floor: bare HTTP hop', direct: `direct ${DIRECT_ENGINE} app` };

const cores = (v: number | undefined): string => (v === undefined ? 'n/a' : fmtNum(v, 2));
const ms = (v: number | undefined): string => (v === undefined ? 'n/a' : fmtMs(v));

function printRates(results: RateResult[]): void {
  console.log('');
  table(
    ['req/s of 10', 'party', 'its CPU cores', 'broker cores', 'p50', 'p99', 'Kafka requests/s', 'per HTTP request', 'answered/s', 'behind', 'acked = records'],
    results.flatMap((r) =>
      SIDES.map((side) => {
        const m = r.medians[side];
        const perRequest = m.kafkaRequestsPerS !== undefined && m.answeredPerS ? m.kafkaRequestsPerS / m.answeredPerS : undefined;
        return [
          fmtInt(r.rate),
          PARTY[side],
          cores(m.cores),
          cores(m.brokerCores),
          ms(m.p50),
          ms(m.p99),
          side === 'sidecar' ? (m.kafkaRequestsPerS === undefined ? 'n/a' : fmtInt(m.kafkaRequestsPerS)) : '~1 per send',
          perRequest === undefined ? '' : fmtNum(perRequest, 2),
          m.answeredPerS === undefined ? 'n/a' : fmtInt(m.answeredPerS),
          `${m.behind} of phases`,
          r.checked ? 'yes' : 'NO',
        ];
      }),
    ),
  );
  note(
    'each figure is the median of the phases; sidecar, floor and direct phases alternate on the same machine minutes apart, so a burst of other work hits all three. "its CPU" is the sidecar process, the floor server (a bare node:http server parsing each body and sending its messages with one @platformatic/kafka producer, as the direct application does) or the application process (direct rows); the load generator in front of the sidecar and the floor is not counted. Kafka requests/s is the sidecar\'s ordered_sidecar_kafka_produce_requests_total; the direct application and the floor send one request per send (one per HTTP request at most, per broker).',
  );
  for (const { rate, medians } of results) {
    const above = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? 'n/a' : fmtNum(a - b, 2));
    note(
      `${fmtInt(rate)} req/s: the HTTP hop itself (floor - direct) ${above(medians.floor.cores, medians.direct.cores)} cores, the sidecar above the floor ${above(medians.sidecar.cores, medians.floor.cores)} cores; p99 ${ms(medians.direct.p99)} direct, ${ms(medians.floor.p99)} floor, ${ms(medians.sidecar.p99)} sidecar.`,
    );
  }
}

/** The summary's `lowload_*` and memory fields, and the lines against the targets. */
function judge(results: RateResult[], idleRss: number | undefined, engine: Engine): SectionResult {
  const low = results.find((r) => r.rate === LOWLOAD_RATE)?.medians;
  const s = low?.sidecar;
  const d = low?.direct;
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const cpuRatio = ratio(s?.cores, d?.cores);
  const brokerRatio = ratio(s?.brokerCores, d?.brokerCores);
  const overheadP50 = s?.p50 !== undefined && d?.p50 !== undefined ? s.p50 - d.p50 : undefined;
  const overheadP99 = s?.p99 !== undefined && d?.p99 !== undefined ? s.p99 - d.p99 : undefined;
  const perRequest = ratio(s?.kafkaRequestsPerS, s?.answeredPerS);
  const behind = (s?.behind ?? 0) + (d?.behind ?? 0);
  const idleMib = idleRss === undefined ? undefined : idleRss / 2 ** 20;
  const x = (n: number): string => `${fmtNum(n, 2)}x`;
  const at = `at ${fmtInt(LOWLOAD_RATE)} req/s of 10 [${engine}]`;
  const na = 'n/a (not measured)';
  const targets: TargetRow[] = [
    {
      figure: `sidecar CPU / direct app CPU ${at}`,
      target: `<= ${TARGET_CPU_RATIO}x`,
      measured: cpuRatio === undefined ? na : `${x(cpuRatio)} (${cores(s?.cores)} / ${cores(d?.cores)} cores)`,
      verdict: cpuRatio === undefined ? 'NOT MEASURED' : verdict(cpuRatio, TARGET_CPU_RATIO, x),
    },
    {
      figure: `broker CPU beside the sidecar / beside the direct app ${at}`,
      target: `<= ${TARGET_BROKER_RATIO}x`,
      measured: brokerRatio === undefined ? na : `${x(brokerRatio)} (${cores(s?.brokerCores)} / ${cores(d?.brokerCores)} cores)`,
      verdict: brokerRatio === undefined ? 'NOT MEASURED' : verdict(brokerRatio, TARGET_BROKER_RATIO, x),
    },
    {
      figure: `sidecar overhead p99 ${at} (medians)`,
      target: `<= ${TARGET_OVERHEAD_P99_MS} ms`,
      measured: overheadP99 === undefined ? na : `${fmtMs(overheadP99)} (p50 ${fmtMs(overheadP50!)})`,
      verdict:
        overheadP99 === undefined
          ? 'NOT MEASURED'
          : behind > 0
            ? `CANNOT JUDGE: ${behind} phase(s) fell behind the rate`
            : overheadP99 <= 0
              ? 'meets (no measurable overhead)'
              : verdict(overheadP99, TARGET_OVERHEAD_P99_MS, fmtMs),
    },
    {
      figure: `Kafka produce requests per HTTP request ${at}`,
      target: `<= ${TARGET_REQUESTS_PER_HTTP_REQUEST}`,
      measured: perRequest === undefined ? na : fmtNum(perRequest, 2),
      verdict: perRequest === undefined ? 'NOT MEASURED' : verdict(perRequest, TARGET_REQUESTS_PER_HTTP_REQUEST, (n) => fmtNum(n, 2)),
    },
    {
      figure: 'idle sidecar RSS',
      target: `<= ${TARGET_IDLE_RSS_MIB} MiB`,
      measured: fmtMb(idleRss),
      verdict: idleMib === undefined ? 'NOT MEASURED' : verdict(idleMib, TARGET_IDLE_RSS_MIB, (n) => `${fmtNum(n, 0)} MiB`),
    },
    {
      figure: 'acked equals records, every everyday phase',
      target: 'all rates',
      measured: `${results.filter((r) => r.checked).length} of ${results.length} rates`,
      verdict: results.every((r) => r.checked) ? 'meets' : 'MISSES',
    },
  ];
  const figures: SummaryFigures = {
    overhead_p50_ms: rounded(overheadP50, 3),
    overhead_p99_ms: rounded(overheadP99, 3),
    lowload_sidecar_cores: rounded(s?.cores, 3),
    lowload_app_cores: rounded(d?.cores, 3),
    lowload_floor_cores: rounded(low?.floor.cores, 3),
    lowload_broker_cores: rounded(s?.brokerCores, 3),
    lowload_direct_broker_cores: rounded(d?.brokerCores, 3),
    lowload_kafka_requests_per_s: rounded(s?.kafkaRequestsPerS, 0),
    idle_rss_mib: rounded(idleMib, 1),
  };
  return { targets, figures };
}
