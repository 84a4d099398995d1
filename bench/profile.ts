import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cpuWindow, describeCpu, processCpuSeconds, servicePids } from './support/cpu.ts';
import { KAFKA_BROKERS, REDIS_URL, benchKafka, benchPrefix, connectRedis, createTopic, dropPrefix } from './support/env.ts';
import { fmtInt, fmtMs, fmtNum, heading, note, table } from './support/format.ts';
import { closedLoop } from './support/load.ts';
import { summariseProfile } from './support/cpuprofile.ts';
import { PARTITIONS, SHAPE, httpSender, waitReady, type ThroughputSettings } from './throughput.ts';
import { buildWorkload } from './support/workload.ts';

const CLI = new URL('../src/cli.ts', import.meta.url).pathname;

/** `ordered-sidecar serve` in a child process, under `node --cpu-prof` when given a directory; resolves once listening. */
export async function spawnSidecar(profileDir: string | undefined, prefix: string): Promise<{ url: string; child: ChildProcess; exited: Promise<number | null> }> {
  const args = [...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), CLI, 'serve', '--port', '0', '--kafka-brokers', KAFKA_BROKERS.join(','), '--redis-url', REDIS_URL, '--redis-prefix', prefix, '--log-level', 'info'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sidecar did not start within 30 s:\n${lines.join('\n')}`)), 30_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (lines.length < 50) lines.push(line);
      if (line.includes('"ordered-sidecar listening"')) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      } else if (/"level":"(warn|error)"/.test(line)) {
        process.stderr.write(`   sidecar: ${line}\n`);
      }
    });
    void exited.then((code) => reject(new Error(`sidecar exited with ${code}:\n${lines.join('\n')}`)));
  });
  return { url, child, exited };
}

/**
 * The throughput workload against a sidecar in its own process, profiled with `node --cpu-prof`: which
 * functions the sidecar spends its CPU in under load. The load generator stays in this process.
 */
export async function benchProfile(settings: ThroughputSettings, keepProfile = false): Promise<void> {
  heading(`5. CPU profile of a sidecar process under the throughput workload (${settings.durationMs / 1000} s, node --cpu-prof)`);
  const admin = benchKafka().admin();
  await admin.connect();
  const redis = connectRedis();
  const prefix = benchPrefix();
  const profileDir = mkdtempSync(join(tmpdir(), 'sidecar-cpuprof-'));
  let topic: string | undefined;
  try {
    const pids = await servicePids(redis);
    topic = await createTopic(admin, 'profile', PARTITIONS);
    const workload = buildWorkload({ ...SHAPE, topic });
    const sidecar = await spawnSidecar(profileDir, prefix);
    let warm;
    let result;
    let cpu;
    let childCores: number | undefined;
    try {
      await waitReady(sidecar.url);
      const target = httpSender(sidecar.url, workload);
      warm = await closedLoop(settings.concurrency, settings.warmupMs, target);
      const childStart = processCpuSeconds(sidecar.child.pid!);
      const started = performance.now();
      const window = cpuWindow(pids, navigator.hardwareConcurrency);
      result = await closedLoop(settings.concurrency, settings.durationMs, target);
      const seconds = (performance.now() - started) / 1000;
      childCores = childStart === undefined ? undefined : ((processCpuSeconds(sidecar.child.pid!) ?? childStart) - childStart) / seconds;
      cpu = describeCpu(window.stop(), 'load generator (this process)', [{ label: 'sidecar process', cores: childCores }]);
    } finally {
      sidecar.child.kill('SIGTERM');
      await sidecar.exited;
    }
    const cpuPerMessage = childCores === undefined ? 'n/a' : `${fmtNum((childCores * result.seconds * 1e6) / result.messages, 1)} µs`;
    table(
      ['path', 'concurrency', 'requests', 'messages/s', 'p50', 'p99', 'sidecar CPU/msg', 'failures'],
      [['sidecar in its own process (profiled)', String(settings.concurrency), fmtInt(result.requests), fmtInt(result.messages / result.seconds), fmtMs(result.latency.p50), fmtMs(result.latency.p99), cpuPerMessage, fmtInt(result.failures)]],
    );
    console.log(`   CPU: ${cpu}`);
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
    const summary = summariseProfile(join(profileDir, file));
    const idle = summary.owners.find((o) => o.name === '(idle)')?.ms ?? 0;
    const busy = summary.totalMs - idle;
    const messages = warm.messages + result.messages;
    const row = (e: { name: string; ms: number }): string[] => [e.name, fmtInt(e.ms), e.name === '(idle)' ? '' : `${fmtNum((100 * e.ms) / busy, 1)} %`, e.name === '(idle)' ? '' : `${fmtNum((e.ms * 1000) / messages, 2)} µs`];
    console.log('');
    table(['self time by owner (Node internals charged to their caller)', 'ms', 'of busy', 'per message'], summary.owners.slice(0, 14).map(row));
    console.log('');
    table(['top self-time functions', 'ms', 'of busy', 'per message'], summary.functions.slice(0, 20).map(row));
    note(`the profile covers the sidecar's whole life (start-up, warm-up, run, shutdown): ${fmtInt(summary.totalMs)} ms sampled, ${fmtInt(busy)} ms not idle, ${fmtInt(messages)} messages.`);
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
