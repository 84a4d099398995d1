import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { postJson } from '../support/http.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { freePort } from '../support/ports.ts';
import { startTestSidecar } from '../support/sidecar.ts';

/**
 * A real Prometheus (Debian's `prometheus` package; .ci/run installs it) with the project's own configuration and
 * alert rules, scraping a sidecar whose Redis still maps topics deleted from Kafka. Asking Kafka about a deleted
 * topic costs seconds of client retries: while scrapes did that, one such topic brought a scrape near its
 * timeout and the target stayed down.
 */
const SCRAPE_INTERVAL_S = 3;
const DELETED_TOPICS = 3;

interface Target {
  labels: Record<string, string>;
  health: string;
  lastError: string;
  lastScrapeDuration: number;
}
interface Rule {
  name: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
}

const { admin } = useKafkaAdmin();
let sidecar: RunningSidecar;
let prometheus: ChildProcess;
let promUrl: string;
let dir: string;
let promReadyAt: number;
const promLog: string[] = [];

async function api<T>(path: string): Promise<T> {
  const body = (await (await fetch(`${promUrl}${path}`)).json()) as { status: string; data: T };
  expect(body.status).toBe('success');
  return body.data;
}

/** The project's prometheus.yml, pointed at this test's sidecar and rules, scraping every few seconds. */
function adaptedConfig(sidecarHostPort: string, promHostPort: string, alertsFile: string): string {
  let config = readFileSync(new URL('../../deploy/prometheus/prometheus.yml', import.meta.url), 'utf8');
  const replace = (from: string, to: string): void => {
    expect(config, `deploy/prometheus/prometheus.yml no longer holds ${from}`).toContain(from);
    config = config.replaceAll(from, to);
  };
  replace('scrape_interval: 15s', `scrape_interval: ${SCRAPE_INTERVAL_S}s`);
  replace('evaluation_interval: 15s', `evaluation_interval: ${SCRAPE_INTERVAL_S}s`);
  replace('/etc/prometheus/alerts.yml', alertsFile);
  replace('"sidecar:8080"', JSON.stringify(sidecarHostPort));
  replace('"localhost:9090"', JSON.stringify(promHostPort));
  return config;
}

beforeAll(async () => {
  const found = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  if (found.error) throw new Error('this test needs a prometheus binary on PATH (Debian: apt-get install prometheus; .ci/run installs it)');
  const redisPrefix = `ost-${randomUUID().slice(0, 8)}`;

  // Mappings on topics that are then deleted from Kafka, as an earlier stack or a removed service leaves them.
  const first = await startTestSidecar({ redisPrefix });
  const deleted: string[] = [];
  for (let i = 0; i < DELETED_TOPICS; i++) deleted.push(await createTopic(admin, 2));
  const live = await createTopic(admin, 2);
  for (const topic of [...deleted, live]) {
    const { status } = await postJson(`${first.url}/v1/ordered-produce`, {
      topic,
      messages: [
        { message_group: 'g1', value: 'a' },
        { message_group: 'g2', value: 'b' },
      ],
    });
    expect(status).toBe(200);
  }
  await first.close();
  await admin.deleteTopics({ topics: deleted });
  await vi.waitUntil(async () => !(await admin.listTopics()).some((t) => deleted.includes(t)), { timeout: 30_000, interval: 200 });

  sidecar = await startTestSidecar({ redisPrefix });
  dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const alertsFile = join(dir, 'alerts.yml');
  writeFileSync(alertsFile, readFileSync(new URL('../../deploy/prometheus/alerts.yml', import.meta.url)));
  const promHostPort = `127.0.0.1:${await freePort()}`;
  promUrl = `http://${promHostPort}`;
  writeFileSync(join(dir, 'prometheus.yml'), adaptedConfig(new URL(sidecar.url).host, promHostPort, alertsFile));
  prometheus = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${promHostPort}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout?.on('data', (chunk: Buffer) => promLog.push(chunk.toString()));
  prometheus.stderr?.on('data', (chunk: Buffer) => promLog.push(chunk.toString()));
  await vi.waitUntil(
    () =>
      fetch(`${promUrl}/-/ready`).then(
        (r) => r.ok,
        () => false,
      ),
    { timeout: 30_000, interval: 100 },
  );
  promReadyAt = performance.now();
});

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((resolve) => prometheus.once('exit', resolve));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await sidecar?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a real Prometheus with the project configuration and rules', () => {
  it('sees the sidecar up within two scrape intervals, with topics deleted from Kafka still mapped in Redis', async () => {
    const sidecarTarget = async (): Promise<Target | undefined> =>
      (await api<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets.find((t) => t.labels.job === 'ordered-sidecar');
    // Prometheus hands new targets to its scrapers a few seconds after start (its discovery updates are batched);
    // the first scrape then comes within one interval.
    await vi.waitUntil(async () => (await sidecarTarget()) !== undefined, { timeout: 30_000, interval: 100 });
    const discoveredAt = performance.now();
    await vi
      .waitUntil(async () => (await sidecarTarget())?.health === 'up', { timeout: 2 * SCRAPE_INTERVAL_S * 1000, interval: 100 })
      .catch(async (err: unknown) => {
        throw new Error(`target not up within two scrape intervals: ${JSON.stringify(await sidecarTarget())}\n${promLog.join('')}`, { cause: err });
      });
    const target = await sidecarTarget();
    expect(target?.lastError).toBe('');
    expect(target?.lastScrapeDuration).toBeLessThan(1);
    console.log(
      `target discovered ${((discoveredAt - promReadyAt) / 1000).toFixed(1)} s after Prometheus was ready, up ${((performance.now() - discoveredAt) / 1000).toFixed(1)} s later; scrape took ${(target!.lastScrapeDuration * 1000).toFixed(1)} ms`,
    );
    const up = await api<{ result: { value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent('up{job="ordered-sidecar"}')}`);
    expect(up.result.map((r) => r.value[1])).toEqual(['1']);
  });

  it('evaluates every alert rule without error', async () => {
    const rules = async (): Promise<Rule[]> => (await api<{ groups: { rules: Rule[] }[] }>('/api/v1/rules')).groups.flatMap((g) => g.rules);
    // A rule not evaluated yet shows health "unknown".
    await vi.waitUntil(async () => (await rules()).every((r) => !r.lastEvaluation.startsWith('0001-')), {
      timeout: 3 * SCRAPE_INTERVAL_S * 1000,
      interval: 200,
    });
    const all = await rules();
    expect(all.length).toBeGreaterThan(5);
    expect(all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
  });

  it('reports the deleted topics from the loads refresh', async () => {
    const query = async (expr: string): Promise<string[]> =>
      (await api<{ result: { value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result.map((r) => r.value[1]);
    await vi.waitUntil(async () => (await query('ordered_sidecar_loads_missing_topics')).includes(String(DELETED_TOPICS)), {
      timeout: 3 * SCRAPE_INTERVAL_S * 1000,
      interval: 200,
    });
    expect(await query('ordered_sidecar_loads_missing_topics_found_total')).toEqual([String(DELETED_TOPICS)]);
  });
});
