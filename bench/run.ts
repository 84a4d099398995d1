/**
 * Benchmarks of ordered-sidecar against the real Redis and Kafka (`bash scripts/stack.sh up`).
 *
 *   npm run bench -- [--quick] [--only routing,deviation,memory,throughput,everyday,consume,compression,routelog,tracing,profile] [--profile]
 *                    [--duration SECONDS] [--concurrency N] [--keep-profile]
 *
 * `tracing` (tracing on against off) runs only when named in --only.
 * Sections 4, 4b (everyday), 5 and tracing run the sidecar as `node dist/cli.js serve`, and build dist/ first when it is missing or
 * older than src/.
 * Sections that write to Kafka run after the broker is warmed (broker-warmup.ts).
 * Prints figures measured side by side in one run; asserts nothing about timing. The last line of stdout is
 * one JSON object, `{"bench":"summary",...}` (support/summary.ts).
 */
import { cpus, loadavg } from 'node:os';
import { warmBroker } from './broker-warmup.ts';
import { benchCompression } from './compression.ts';
import { benchConsume } from './consume.ts';
import { benchEveryday, everydaySettings } from './everyday-load.ts';
import { benchLoadDeviation } from './load-deviation.ts';
import { benchProfile } from './profile.ts';
import { benchRedisMemory } from './redis-memory.ts';
import { benchRouteLog } from './route-log.ts';
import { benchRoutingLatency } from './routing-latency.ts';
import { benchThroughput, throughputSettings } from './throughput.ts';
import { benchTracing } from './tracing.ts';
import { KAFKA_BROKERS, REDIS_URL } from './support/env.ts';
import { summaryLine, type SummaryFigures } from './support/summary.ts';
import { printTargets, type SectionResult, type TargetRow } from './support/targets.ts';

const DEFAULT_SECTIONS = ['routing', 'deviation', 'memory', 'throughput', 'everyday', 'consume', 'compression', 'routelog'] as const;
const SECTIONS = [...DEFAULT_SECTIONS, 'tracing', 'profile'] as const;
type Section = (typeof SECTIONS)[number];
/** The sections that write to Kafka: the broker is warmed once before the first of them (broker-warmup.ts). */
const KAFKA_SECTIONS: readonly Section[] = ['throughput', 'everyday', 'consume', 'compression', 'routelog', 'tracing', 'profile'];

function parseArgs(argv: string[]) {
  const value = (flag: string): string | undefined => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const only = value('--only');
  const sections = new Set<Section>(only ? (only.split(',') as Section[]) : DEFAULT_SECTIONS);
  if (argv.includes('--profile')) sections.add('profile');
  for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`unknown section "${s}" (known: ${SECTIONS.join(', ')})`);
  const duration = value('--duration');
  const concurrency = value('--concurrency');
  const overrides = { ...(duration ? { durationMs: Number(duration) * 1000 } : {}), ...(concurrency ? { concurrency: Number(concurrency) } : {}) };
  return { quick: argv.includes('--quick'), keepProfile: argv.includes('--keep-profile'), sections, overrides };
}

// kafkajs arms a timer with a negative delay once a request deadline has passed (harmless; the CLI hides it too).
process.removeAllListeners('warning').on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') console.warn(`${warning.name}: ${warning.message}`);
});

const { quick, keepProfile, sections, overrides } = parseArgs(process.argv.slice(2));
console.log(`ordered-sidecar benchmarks — ${new Date().toISOString()}`);
console.log(
  `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), redis ${REDIS_URL}, kafka ${KAFKA_BROKERS.join(',')}${quick ? ', --quick' : ''}`,
);

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const loadAvgStart = Number(loadavg()[0]!.toFixed(2));
console.log(
  `load average (1, 5, 15 min) at start: ${load()} — on ${cpus().length} cores, anything near or above ${cpus().length} means the figures below competed for CPU`,
);

const targets: TargetRow[] = [];
let figures: SummaryFigures = {};
const collect = (result: SectionResult): void => {
  targets.push(...result.targets);
  figures = { ...figures, ...result.figures };
};
if (sections.has('routing')) collect(await benchRoutingLatency(quick));
if (sections.has('deviation')) collect(await benchLoadDeviation(quick));
if (sections.has('memory')) collect(await benchRedisMemory(quick));
if (KAFKA_SECTIONS.some((s) => sections.has(s))) await warmBroker(quick);
if (sections.has('throughput')) collect(await benchThroughput(throughputSettings(quick, overrides)));
if (sections.has('everyday')) collect(await benchEveryday(everydaySettings(quick)));
if (sections.has('consume')) targets.push(...(await benchConsume(quick)));
if (sections.has('compression')) await benchCompression(quick);
if (sections.has('routelog')) collect(await benchRouteLog(quick));
if (sections.has('tracing')) await benchTracing(quick);
if (sections.has('profile')) await benchProfile(throughputSettings(quick, overrides), keepProfile);
if (targets.length > 0) printTargets(targets);
console.log(`\nload average at end: ${load()}`);
console.log(summaryLine(figures, loadAvgStart));
