import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coresOf, cpuWindow, describeCpu, servicePids } from './support/cpu.ts';
import { KAFKA_BROKERS, REDIS_URL, benchKafka, benchPrefix, connectRedis, createTopic, dropPrefix } from './support/env.ts';
import { fmtInt, fmtMs, fmtNum, heading, note, table } from './support/format.ts';
import { LoadGenerator } from './support/load-process.ts';
import { summariseProfile } from './support/cpuprofile.ts';
import { ensureBuilt, startSidecarProcess } from './support/sidecar-process.ts';
import { SHAPE, type ThroughputSettings } from './throughput.ts';

/**
 * The throughput workload against a sidecar process profiled with `node --cpu-prof`: which functions the
 * sidecar spends its CPU in under load. The load generator is a process of its own, as in section 4.
 */
export async function benchProfile(settings: ThroughputSettings, keepProfile = false): Promise<void> {
  ensureBuilt();
  heading(`5. CPU profile of a sidecar process under the throughput workload (${settings.durationMs / 1000} s, node --cpu-prof)`);
  const admin = benchKafka().admin();
  await admin.connect();
  const redis = connectRedis();
  const prefix = benchPrefix();
  const profileDir = mkdtempSync(join(tmpdir(), 'sidecar-cpuprof-'));
  let topic: string | undefined;
  try {
    const services = await servicePids(redis, KAFKA_BROKERS);
    topic = await createTopic(admin, 'profile', SHAPE.partitions);
    const generator = new LoadGenerator();
    const sidecar = await startSidecarProcess({ kafkaBrokers: KAFKA_BROKERS, redisUrl: REDIS_URL, redisPrefix: prefix, profileDir });
    let loaded;
    try {
      const job = {
        target: { kind: 'sidecar' as const, url: sidecar.url },
        pattern: { kind: 'closed' as const, concurrency: settings.concurrency },
        topic,
        shape: SHAPE,
        warmupMs: settings.warmupMs,
        durationMs: settings.durationMs,
      };
      loaded = await generator.run(job, (pid) => {
        const window = cpuWindow([{ label: 'sidecar', pid: sidecar.pid }, { label: 'load generator', pid }, ...services]);
        return () => window.stop();
      });
    } finally {
      await generator.close();
      await sidecar.stop(); // the profile is written at exit
    }
    const {
      report: { warm, run: result, drain },
      measured: cpu,
    } = loaded;
    const childCores = coresOf(cpu, 'sidecar');
    const cpuPerMessage = childCores === undefined ? 'n/a' : `${fmtNum((childCores * result.seconds * 1e6) / result.messages, 1)} µs`;
    table(
      ['path', 'concurrency', 'requests', 'messages/s', 'p50', 'p99', 'sidecar CPU/msg', 'failures'],
      [
        [
          `sidecar in its own process (profiled, ${sidecar.engine.engine})`,
          String(settings.concurrency),
          fmtInt(result.requests),
          fmtInt(result.messages / result.seconds),
          fmtMs(result.latency.p50),
          fmtMs(result.latency.p99),
          cpuPerMessage,
          fmtInt(result.failures),
        ],
      ],
    );
    console.log(`   CPU: ${describeCpu(cpu)}`);
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
    const summary = summariseProfile(join(profileDir, file));
    const idle = summary.owners.find((o) => o.name === '(idle)')?.ms ?? 0;
    const busy = summary.totalMs - idle;
    const messages = warm.messages + result.messages + drain.messages;
    const row = (e: { name: string; ms: number }): string[] => [
      e.name,
      fmtInt(e.ms),
      e.name === '(idle)' ? '' : `${fmtNum((100 * e.ms) / busy, 1)} %`,
      e.name === '(idle)' ? '' : `${fmtNum((e.ms * 1000) / messages, 2)} µs`,
    ];
    console.log('');
    table(['self time by owner (Node internals charged to their caller)', 'ms', 'of busy', 'per message'], summary.owners.slice(0, 14).map(row));
    console.log('');
    table(['top self-time functions', 'ms', 'of busy', 'per message'], summary.functions.slice(0, 20).map(row));
    note(
      `the profile covers the sidecar's whole life (start-up, warm-up, run, shutdown): ${fmtInt(summary.totalMs)} ms sampled, ${fmtInt(busy)} ms not idle, ${fmtInt(messages)} messages.`,
    );
    note('samples are wall-clock: on a machine busy with other work, time the sidecar waited for a core is charged to whatever it was running.');
  } finally {
    if (keepProfile) console.log(`   profile kept in ${profileDir} (open it in Chrome DevTools > Performance, or VS Code)`);
    else rmSync(profileDir, { recursive: true, force: true });
    if (topic) await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}
