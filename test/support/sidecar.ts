import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { inject } from 'vitest';
import { DEFAULT_OPTIONS, type SidecarOptions } from '../../src/config/options.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import type { KafkaSecurityOptions } from '../../src/kafka/kafka-security.ts';
import { recordContract } from './openapi-contract.ts';
import { eventually } from './eventually.ts';
import { testRedisTopology } from './redis.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { startSidecar, type RunningSidecar } from '../../src/sidecar.ts';

/** Kafka TLS/SASL of the test stack (`stack.sh up --secure` exports them), read as the sidecar reads them. */
export function stackKafkaSecurity(): KafkaSecurityOptions {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => /^KAFKA_(TLS|SASL)/.test(name)));
  const o = loadConfig([], env);
  // Unset options stay absent (exactOptionalPropertyTypes), as loadConfig leaves them.
  const set = <T extends object>(fields: { [K in keyof T]: T[K] | undefined }): T =>
    Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T;
  return set<KafkaSecurityOptions>({
    kafkaTls: o.kafkaTls,
    kafkaTlsCaFile: o.kafkaTlsCaFile,
    kafkaTlsCertFile: o.kafkaTlsCertFile,
    kafkaTlsKeyFile: o.kafkaTlsKeyFile,
    kafkaTlsServername: o.kafkaTlsServername,
    kafkaTlsInsecureSkipVerify: o.kafkaTlsInsecureSkipVerify,
    kafkaSaslMechanism: o.kafkaSaslMechanism,
    kafkaSaslUsername: o.kafkaSaslUsername,
    kafkaSaslPassword: o.kafkaSaslPassword,
    kafkaSaslPasswordFile: o.kafkaSaslPasswordFile,
    kafkaSaslOauthbearerTokenFile: o.kafkaSaslOauthbearerTokenFile,
  });
}

/**
 * The Kafka engine every test sidecar uses: KAFKA_CLIENT when set (`.ci/run` runs the end-to-end and failover
 * suites once per engine), else the default.
 */
export const testKafkaClient = (): SidecarOptions['kafkaClient'] => loadConfig([], { KAFKA_CLIENT: process.env.KAFKA_CLIENT }).kafkaClient;

/** Options for a test sidecar: the test services, an ephemeral port, and a Redis prefix of its own. */
export function testOptions(overrides: Partial<SidecarOptions> = {}): SidecarOptions {
  return {
    ...DEFAULT_OPTIONS,
    ...stackKafkaSecurity(),
    kafkaClient: testKafkaClient(),
    kafkaBrokers: inject('kafkaBrokers'),
    ...testRedisTopology(),
    redisPrefix: `ost-${randomUUID().slice(0, 8)}`,
    port: 0,
    logLevel: 'warn',
    ...overrides,
  };
}

/**
 * A sidecar inside the test process; logs only when something goes wrong. Its responses are checked against
 * the OpenAPI document (openapi-contract.ts). The first request can only come after this returns, so
 * recording from here sees them all.
 */
export async function startTestSidecar(overrides: Partial<SidecarOptions> = {}): Promise<RunningSidecar> {
  const sidecar = await startSidecar(testOptions(overrides), createLogger('warn', { test: true }));
  recordContract(sidecar.server);
  return sidecar;
}

/** The CLI flags that point a sidecar process at the Redis `options` name. */
function redisFlags(options: SidecarOptions): string[] {
  if (options.redisClusterNodes) return ['--redis-cluster-nodes', options.redisClusterNodes.join(',')];
  if (options.redisSentinels) return ['--redis-sentinels', options.redisSentinels.join(','), '--redis-sentinel-master', options.redisSentinelMaster ?? ''];
  return ['--redis-url', options.redisUrl];
}

export interface SidecarProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Sends SIGTERM and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  logs: string[];
}

/**
 * A real `ordered-sidecar serve` process, as a user would run it (Node 24 runs the TypeScript directly).
 * `port` fixes the port (to restart a sidecar where its clients expect it); `flags` are extra CLI flags; `env`
 * replaces variables of the inherited environment (undefined removes one, as flags cannot).
 */
export async function spawnSidecar(
  options: SidecarOptions,
  { port = 0, flags = [], env = {} }: { port?: number; flags?: string[]; env?: Record<string, string | undefined> } = {},
): Promise<SidecarProcess> {
  const args = [
    'src/cli.ts',
    'serve',
    '--port',
    String(port),
    '--kafka-brokers',
    options.kafkaBrokers.join(','),
    // Kafka TLS/SASL reach the child through the environment it inherits; flags in `flags` override them.
    ...redisFlags(options),
    '--redis-prefix',
    options.redisPrefix,
    '--kafka-client',
    options.kafkaClient,
    '--log-level',
    'info',
    ...flags,
  ];
  const childEnv = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, value]) => value !== undefined));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: childEnv });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sidecar did not start within 30 s:\n${logs.join('\n')}`)), 30_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      logs.push(line);
      if (line.includes('"ordered-sidecar listening"')) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    void exited.then((code) => reject(new Error(`sidecar exited with ${code}:\n${logs.join('\n')}`)));
  });
  return {
    url,
    child,
    exited,
    logs,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Resolves once the sidecar at `url` reports ready (Kafka connected), or fails after `timeoutMs`. */
export async function waitUntilReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What /readyz says about Kafka. */
export interface Readyz {
  ready: boolean;
  kafka: { ok: boolean; error?: string; cause?: string };
}

/** Polls the sidecar at `url`'s /readyz until `done` accepts it; its status and body, or fails after `deadlineMs`. */
export async function readyzUntil(url: string, done: (r: Readyz) => boolean, deadlineMs = 60_000): Promise<{ status: number; body: Readyz }> {
  let last: Readyz | undefined;
  return eventually(
    () => `/readyz to reach the expected state; last: ${JSON.stringify(last)}`,
    async () => {
      const response = await fetch(`${url}/readyz`);
      last = (await response.json()) as Readyz;
      return done(last) && { status: response.status, body: last };
    },
    deadlineMs,
    250,
  );
}
