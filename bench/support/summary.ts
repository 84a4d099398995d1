/**
 * The run's last line of stdout: one JSON object, `{"bench":"summary", ...}`, with exactly these fields in this
 * order, for scripts that compare runs. A figure whose section did not run (`--only`) or whose row failed is null.
 */
export interface BenchSummary {
  engine: string | null;
  sidecar_msgs_per_s: number | null;
  sidecar_kafkajs_msgs_per_s: number | null;
  direct_kafkajs_msgs_per_s: number | null;
  direct_platformatic_msgs_per_s: number | null;
  ratio_vs_direct_kafkajs: number | null;
  ratio_vs_direct_platformatic: number | null;
  engine_ceiling_msgs_per_s: number | null;
  ratio_vs_engine_ceiling: number | null;
  sidecar_cpu_us_per_msg: number | null;
  overhead_p50_ms: number | null;
  overhead_p99_ms: number | null;
  routing_hit_p99_us: number | null;
  routing_miss_p99_us: number | null;
  redis_bytes_per_group: number | null;
  acked_equals_records: boolean | null;
  lowload_sidecar_cores: number | null;
  lowload_app_cores: number | null;
  lowload_floor_cores: number | null;
  lowload_broker_cores: number | null;
  lowload_direct_broker_cores: number | null;
  lowload_kafka_requests_per_s: number | null;
  idle_rss_mib: number | null;
  peak_rss_mib: number | null;
  load_avg_start: number;
}

export type SummaryFigures = Partial<Omit<BenchSummary, 'load_avg_start'>>;

const FIELDS = [
  'engine',
  'sidecar_msgs_per_s',
  'sidecar_kafkajs_msgs_per_s',
  'direct_kafkajs_msgs_per_s',
  'direct_platformatic_msgs_per_s',
  'ratio_vs_direct_kafkajs',
  'ratio_vs_direct_platformatic',
  'engine_ceiling_msgs_per_s',
  'ratio_vs_engine_ceiling',
  'sidecar_cpu_us_per_msg',
  'overhead_p50_ms',
  'overhead_p99_ms',
  'routing_hit_p99_us',
  'routing_miss_p99_us',
  'redis_bytes_per_group',
  'acked_equals_records',
  'lowload_sidecar_cores',
  'lowload_app_cores',
  'lowload_floor_cores',
  'lowload_broker_cores',
  'lowload_direct_broker_cores',
  'lowload_kafka_requests_per_s',
  'idle_rss_mib',
  'peak_rss_mib',
  'load_avg_start',
] as const satisfies readonly (keyof BenchSummary)[];

/** A finite number rounded to `digits` decimals, else null (JSON has no NaN). */
export const rounded = (n: number | undefined, digits: number): number | null =>
  n === undefined || !Number.isFinite(n) ? null : Math.round(n * 10 ** digits) / 10 ** digits;

export function summaryLine(figures: SummaryFigures, loadAvgStart: number): string {
  const value = (field: (typeof FIELDS)[number]): BenchSummary[typeof field] => (field === 'load_avg_start' ? loadAvgStart : (figures[field] ?? null));
  return JSON.stringify({ bench: 'summary', ...Object.fromEntries(FIELDS.map((f) => [f, value(f)])) });
}
