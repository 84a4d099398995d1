import type { Summary } from './stats.ts';
import type { WorkloadShape } from './workload.ts';

/** The two Kafka clients the sidecar can run on (`KAFKA_CLIENT`), which the direct rows also use. */
export const ENGINES = ['platformatic', 'kafkajs'] as const;
export type Engine = (typeof ENGINES)[number];

/**
 * Where the load generator sends: a sidecar over HTTP (or section 4b's floor server, which answers the same
 * request), or Kafka itself through one engine (an application without the sidecar).
 */
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
  topic: string;
  shape: WorkloadShape;
  warmupMs: number;
  durationMs: number;
}

/** The requests answered within one phase of a run. */
export interface LoadResult {
  seconds: number;
  requests: number;
  /** Messages the far side acknowledged as written. */
  messages: number;
  failures: number;
  /** Paced pattern: requests due that were not started because too many were unanswered. */
  skipped: number;
  firstFailure: string | undefined;
  latency: Summary;
}

/** Warm-up, the measured window, and the answers that arrived after it (counted for the Kafka-side check only). */
export interface LoadReport {
  warm: LoadResult;
  run: LoadResult;
  drain: LoadResult;
}

/** Load generator to orchestrator, over the child process's IPC channel: the window opens, closes, then the report. */
export type LoadMessage = { type: 'measuring' } | { type: 'measured' } | { type: 'done'; report: LoadReport } | { type: 'failed'; error: string };
