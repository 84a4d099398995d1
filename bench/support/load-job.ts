import type { Summary } from './stats.ts';
import type { WorkloadShape } from './workload.ts';

/** The two Kafka clients the sidecar can run on (`KAFKA_CLIENT`), which the direct rows also use. */
export const ENGINES = ['platformatic', 'kafkajs'] as const;
export type Engine = (typeof ENGINES)[number];

/** Where the load generator sends: a sidecar over HTTP, or Kafka itself through one engine (an application without the sidecar). */
export type LoadTarget = { kind: 'sidecar'; url: string } | { kind: 'direct'; engine: Engine; brokers: string[] };

/**
 * How it sends:
 * - `closed`: `concurrency` loops, each sending one request and waiting for its answer;
 * - `ceiling`: one loop per partition, each sending `batchMessages`-message batches to its partition (direct only);
 * - `paced`: an open loop starting `perSecond` requests a second whatever the answers, latency counted from the
 *   scheduled start so a stall is not hidden (no coordinated omission).
 */
export type LoadPattern = { kind: 'closed'; concurrency: number } | { kind: 'ceiling'; batchMessages: number } | { kind: 'paced'; perSecond: number };

export interface LoadJob {
  target: LoadTarget;
  pattern: LoadPattern;
  shape: WorkloadShape;
  warmupMs: number;
  durationMs: number;
}

export interface LoadResult {
  seconds: number;
  requests: number;
  /** Messages the far side acknowledged as written. */
  messages: number;
  failures: number;
  firstFailure?: string;
  latency: Summary;
}

export interface LoadReport {
  warm: LoadResult;
  run: LoadResult;
}

/** Load generator to orchestrator, over the child process's IPC channel. */
export type LoadMessage = { type: 'measuring' } | { type: 'done'; report: LoadReport } | { type: 'failed'; error: string };
