import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KAFKA_BROKERS, REDIS_URL, createTopic } from './support/env.ts';
import { fmtInt, fmtMs, fmtNum, heading, note, table } from './support/format.ts';
import { ensureBuilt, startSidecarProcess, type SidecarProcess } from './support/sidecar-process.ts';
import { PARTITIONS } from './support/throughput-rows.ts';
import { SHAPE, everydaySettings, median, openLoadBench, runPhase, type Context, type Phase } from './everyday-load.ts';

/** The everyday rate (section 4b's `lowload` row): where a per-request cost shows against the sidecar's own. */
const RATE = 1000;

/** The three ways a sidecar runs here; the sidecar's environment for each. */
const MODES = [
  { label: 'TRACING=off', env: (_sink: string) => ({ TRACING: 'off' }) },
  {
    label: 'on, every request sampled and exported',
    env: (sink: string) => ({ TRACING: 'auto', OTEL_EXPORTER_OTLP_ENDPOINT: sink, OTEL_TRACES_SAMPLER: 'always_on' }),
  },
  {
    label: 'on, sampled out (OTEL_TRACES_SAMPLER=always_off)',
    env: (sink: string) => ({ TRACING: 'auto', OTEL_EXPORTER_OTLP_ENDPOINT: sink, OTEL_TRACES_SAMPLER: 'always_off' }),
  },
] as const;

/** Stands in for an OpenTelemetry collector: takes every export and drops it, counting bytes. */
async function otlpSink() {
  let exports = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts: () => ({ exports, bytes }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * What tracing costs (`--only tracing`, not in the default run): three sidecars side by side, tracing off, on
 * with every request exported to a local OTLP sink, and on but sampled out, the everyday workload at 1,000
 * requests/s of 10 messages through each in alternating phases. Tracing off must cost nothing measurable
 * against the others' spread.
 */
export async function benchTracing(quick: boolean): Promise<void> {
  ensureBuilt();
  const settings = everydaySettings(quick);
  heading(
    `7. Tracing on and off: ${fmtInt(RATE)} requests/s of ${SHAPE.messagesPerRequest} messages through a sidecar per mode, ${settings.rounds} alternating phases of ${settings.phaseMs / 1000} s each, medians`,
  );
  const { admin, services, prefix, generator, close } = await openLoadBench();
  const sink = await otlpSink();
  const sidecars: SidecarProcess[] = [];
  const topics: string[] = [];
  try {
    for (const mode of MODES) {
      sidecars.push(await startSidecarProcess({ kafkaBrokers: KAFKA_BROKERS, redisUrl: REDIS_URL, redisPrefix: prefix, env: mode.env(sink.url) }));
      topics.push(await createTopic(admin, 'tracing', PARTITIONS));
    }
    const phases: Phase[][] = MODES.map(() => []);
    for (let round = 1; round <= settings.rounds; round++) {
      for (const [i, mode] of MODES.entries()) {
        const ctx: Context = { admin, generator, services, settings, sidecar: sidecars[i]! };
        const phase = await runPhase(ctx, 'sidecar', topics[i]!, RATE);
        phases[i]!.push(phase);
        console.log(`   round ${round}, ${mode.label}: ${fmtNum(phase.cores ?? NaN, 3)} cores, p50 ${fmtMs(phase.p50)}, p99 ${fmtMs(phase.p99)}`);
      }
    }
    console.log('');
    const cores = (v: number | undefined): string => (v === undefined ? 'n/a' : fmtNum(v, 3));
    const ms = (v: number | undefined): string => (v === undefined ? 'n/a' : fmtMs(v));
    table(
      ['tracing', 'sidecar CPU cores', 'p50', 'p99', 'answered/s', 'failures'],
      MODES.map((mode, i) => {
        const mine = phases[i]!;
        return [
          mode.label,
          cores(median(mine.map((p) => p.cores))),
          ms(median(mine.map((p) => p.p50))),
          ms(median(mine.map((p) => p.p99))),
          fmtInt(median(mine.map((p) => p.answeredPerS)) ?? 0),
          fmtInt(mine.reduce((total, p) => total + p.failures, 0)),
        ];
      }),
    );
    const { exports, bytes } = sink.counts();
    note(
      `the sink took ${fmtInt(exports)} OTLP/HTTP JSON exports, ${fmtNum(bytes / 2 ** 20, 1)} MiB in all. Off, the SDK is never loaded: the difference to the "off" row is the whole cost of tracing; compare it with the spread of the rounds above.`,
    );
  } finally {
    await Promise.all(sidecars.map((s) => s.stop()));
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await sink.close();
    await close();
  }
}
