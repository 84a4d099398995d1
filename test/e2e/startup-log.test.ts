import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from '../../src/logging/logger.ts';
import { startSidecar } from '../../src/sidecar.ts';
import { testOptions } from '../support/sidecar.ts';

// Characters a URL must percent-encode, so neither the raw nor the encoded password may show.
const REDIS_PASSWORD = 'redis-secret p@ss/w:rd';
const SASL_PASSWORD = 'sasl-secret-4d1f';
const API_TOKEN = 'api-secret-9c2e';
const ADMIN_TOKEN = 'admin-secret-77ab';

describe('the start-up log', () => {
  it('names where Redis is but never a password or token, the logger alone censoring them', async () => {
    const base = testOptions();
    const redisUrl = new URL(base.redisUrl);
    // The test Redis has no password: its default user takes any, so the sidecar still starts.
    redisUrl.username = 'default';
    redisUrl.password = REDIS_PASSWORD;
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
    expect(listening?.redis).toBe(`redis://default:${REDACTED}@${redisUrl.host}`);
    const log = lines.join('');
    for (const secret of [REDIS_PASSWORD, encodeURIComponent(REDIS_PASSWORD), redisUrl.password, SASL_PASSWORD, API_TOKEN, ADMIN_TOKEN]) {
      expect(log).not.toContain(secret);
    }
  });
});
