import { coresOf, otherCores, type CpuUsage } from './cpu.ts';
import { fmtInt, fmtMs, fmtNum, table } from './format.ts';
import type { Engine, LoadPattern, LoadReport } from './load-job.ts';
import type { WorkloadShape } from './workload.ts';

/** Partitions of every row's topic. */
export const PARTITIONS = 12;

export type RowKind = 'sidecar' | 'direct' | 'ceiling';

export interface RowSpec {
  kind: RowKind;
  label: string;
  pattern: LoadPattern;
  shape: WorkloadShape;
}

export interface RowOutcome {
  spec: RowSpec;
  engine: Engine;
  topic: string;
  report?: LoadReport;
  cpu?: CpuUsage;
  error?: string;
  /** Messages acknowledged (warm-up, measured window and drain), and the records Kafka holds. */
  acknowledged?: number;
  records?: number;
  /** Sidecar rows: resident memory after the row and its peak over the sidecar's life so far. */
  memory?: { rss: number; peak: number } | undefined;
  /** Sidecar rows: how the sidecar batched for Kafka, from its /metrics. */
  batching?: string;
}

export const rate = (o: RowOutcome | undefined): number | undefined => (o?.report ? o.report.run.messages / o.report.run.seconds : undefined);
export const usPerMessage = (o: RowOutcome, label: string): number | undefined => {
  const cores = o.cpu && coresOf(o.cpu, label);
  return cores === undefined || !o.report ? undefined : (cores * o.report.run.seconds * 1e6) / o.report.run.messages;
};
export const acknowledgedEqualsRecords = (o: RowOutcome): boolean => o.acknowledged !== undefined && o.acknowledged === o.records;
/** The CPU label of the process that sends the load: the load generator in front of a sidecar, else the application itself. */
export const generatorLabel = (spec: RowSpec): string => (spec.kind.startsWith('sidecar') ? 'load generator' : 'application');

export const fmtMb = (bytes: number | undefined): string => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : `${fmtNum(bytes / 2 ** 20, 0)} MiB`);
const fmtUs = (us: number | undefined): string => (us === undefined ? 'n/a' : `${fmtNum(us, 1)} µs`);
const fmtCores = (v: number | undefined): string => (v === undefined ? 'n/a' : fmtNum(v, 2));

/** The tables of section 4: throughput, CPU per process, and the Kafka-side check of every row. */
export function printResults(outcomes: RowOutcome[]): void {
  console.log('');
  table(
    ['row', 'engine', 'loops', 'requests', 'msgs/s', 'p50', 'p99', 'sidecar CPU/msg', 'app or generator CPU/msg', 'sidecar peak RSS', 'failures'],
    outcomes.map((o) => {
      const run = o.report?.run;
      const loops = o.spec.pattern.kind === 'closed' ? o.spec.pattern.concurrency : PARTITIONS;
      if (!run) return [o.spec.label, o.engine, String(loops), 'FAILED', '', '', '', '', '', '', ''];
      const sidecar = o.spec.kind === 'sidecar';
      return [
        o.spec.label,
        o.engine,
        String(loops),
        fmtInt(run.requests),
        fmtInt(rate(o)!),
        fmtMs(run.latency.p50),
        fmtMs(run.latency.p99),
        sidecar ? fmtUs(usPerMessage(o, 'sidecar')) : '',
        fmtUs(usPerMessage(o, generatorLabel(o.spec))),
        sidecar ? fmtMb(o.memory?.peak) : '',
        fmtInt(run.failures),
      ];
    }),
  );
  console.log('');
  table(
    ['CPU during the measured window (cores)', 'sidecar', 'app or generator', 'Kafka broker', 'Redis', 'everything else', 'machine'],
    outcomes.map((o) => {
      const c = o.cpu;
      return [
        o.spec.label,
        o.spec.kind.startsWith('sidecar') && c ? fmtCores(coresOf(c, 'sidecar')) : '',
        c ? fmtCores(coresOf(c, generatorLabel(o.spec))) : 'n/a',
        c ? fmtCores(coresOf(c, 'Kafka broker')) : 'n/a',
        c ? fmtCores(coresOf(c, 'Redis')) : 'n/a',
        c ? fmtCores(otherCores(c)) : 'n/a',
        c ? fmtCores(c.machineBusy) : 'n/a',
      ];
    }),
  );
  console.log('');
  table(
    ['Kafka-side check (whole row)', 'topic', 'acknowledged', 'records in topic', 'result'],
    outcomes.map((o) => [
      o.spec.label,
      o.topic,
      o.acknowledged === undefined ? 'n/a' : fmtInt(o.acknowledged),
      o.records === undefined ? 'n/a' : fmtInt(o.records),
      o.acknowledged === undefined
        ? `NOT CHECKED (${o.error ?? 'no report'})`
        : acknowledgedEqualsRecords(o)
          ? 'equal'
          : `DIFFER by ${fmtInt((o.records ?? 0) - o.acknowledged)}`,
    ]),
  );
  for (const o of outcomes) {
    if (o.batching)
      console.log(`   inside "${o.spec.label}" [${o.engine}]: ${o.batching}; sidecar RSS after the row ${fmtMb(o.memory?.rss)}, peak ${fmtMb(o.memory?.peak)}`);
    const failure = o.report?.warm.firstFailure ?? o.report?.run.firstFailure ?? o.report?.drain.firstFailure;
    if (failure) console.log(`   first failure in "${o.spec.label}": ${failure}`);
  }
}
