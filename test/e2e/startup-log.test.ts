import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from '../../src/logging/logger.ts';
import { startSidecar } from '../../src/sidecar.ts';
import { testOptions } from '../support/sidecar.ts';

// Characters a URL must percent-encode, so neither the raw nor the encoded password may show.
const REDIS_PASSWORD = 'redis-secret p@ss/w:rd';
// ioredis takes every query parameter as an option, `password` included.
const QUERY_PASSWORD = 'query-secret 5e1b&x';
const SASL_PASSWORD = 'sasl-secret-4d1f';
const API_TOKEN = 'api-secret-9c2e';
const ADMIN_TOKEN = 'admin-secret-77ab';

const run = promisify(execFile);

describe('the start-up log', () => {
  it('names where Redis is but never a password or token, the logger alone censoring them', async () => {
    const base = testOptions();
    const redisUrl = new URL(base.redisUrl);
    // The test Redis has no password: its default user takes any, so the sidecar still starts.
    redisUrl.username = 'default';
    redisUrl.password = REDIS_PASSWORD;
    redisUrl.searchParams.set('password', QUERY_PASSWORD);
    const lines: string[] = [];
    const sidecar = await startSidecar(
      {
        ...base,
        redisUrl: redisUrl.toString(),
        kafkaSaslMechanism: 'scram-sha-512',
        kafkaSaslUsername: 'sidecar',
        kafkaSaslPassword: SASL_PASSWORD,
        apiToken: API_TOKEN,
        adminToken: ADMIN_TOKEN,
      },
      createLogger('debug', {}, (line) => lines.push(line)),
    );
    await sidecar.close();

    const listening = lines.map((line) => JSON.parse(line) as { msg: string; redis?: unknown }).find((entry) => entry.msg === 'ordered-sidecar listening');
    expect(listening?.redis).toBe(`redis://default:${REDACTED}@${redisUrl.host}?password=${REDACTED}`);
    const log = lines.join('');
    for (const secret of [
      REDIS_PASSWORD,
      encodeURIComponent(REDIS_PASSWORD),
      redisUrl.password,
      QUERY_PASSWORD,
      'query-secret',
      SASL_PASSWORD,
      API_TOKEN,
      ADMIN_TOKEN,
    ]) {
      expect(log).not.toContain(secret);
    }
  });

  it.each([
    ['PORT', ['--host', '127.0.0.1'], (port: number) => `ordered-sidecar: cannot listen on 127.0.0.1:${port} (EADDRINUSE); check HOST and PORT\n`],
    [
      'OPS_PORT',
      ['--port', '0', '--ops-host', '127.0.0.1'],
      (port: number) => `ordered-sidecar: cannot listen on 127.0.0.1:${port} for the ops listener (EADDRINUSE); check OPS_HOST and OPS_PORT\n`,
    ],
  ])('names the listener, its address and %s when that port is taken, and exits 2', async (option, flags, message) => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const o = testOptions();
      const portFlag = option === 'PORT' ? ['--port', String(port)] : ['--ops-port', String(port)];
      // Kafka TLS/SASL reach the child through the environment it inherits, as with spawnSidecar.
      const args = ['src/cli.ts', 'serve', '--kafka-brokers', o.kafkaBrokers.join(','), '--redis-url', o.redisUrl, '--kafka-client', o.kafkaClient];
      const exit = await run(process.execPath, [...args, '--log-level', 'error', ...flags, ...portFlag], { timeout: 30_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
      expect(exit.code).toBe(2);
      expect(exit.stderr).toContain(message(port));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
