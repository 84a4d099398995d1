import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnRedis } from '../support/own-redis.ts';
import { freePort } from '../support/ports.ts';
import { spawnSidecar, testOptions, waitUntilReady, type SidecarProcess } from '../support/sidecar.ts';

// A private redis-server: this test freezes it, which must never happen to the shared one.
let redis: OwnRedis;
let sidecar: SidecarProcess | undefined;

beforeAll(async () => {
  redis = new OwnRedis(await freePort());
  await redis.start();
});
afterAll(async () => {
  sidecar?.child.kill('SIGKILL');
  redis.thaw();
  await redis.destroy();
});

describe('shutdown with Redis frozen', () => {
  it('ends within the drain and a Redis command timeout, not waiting for a QUIT reply that never comes', async () => {
    const { redisClusterNodes: _nodes, redisSentinels: _sentinels, ...options } = testOptions({ redisUrl: redis.url });
    sidecar = await spawnSidecar(options, { flags: ['--redis-command-timeout', '500ms', '--shutdown-grace', '1s'] });
    await waitUntilReady(sidecar.url);
    redis.freeze(); // SIGSTOP: the connection stays open, nothing answers
    const started = Date.now();
    const code = await Promise.race([sidecar.stop('SIGTERM'), new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
    expect(code, sidecar.logs.slice(-5).join('\n')).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sidecar.logs.some((line) => line.includes('"shut down cleanly"'))).toBe(true);
  }, 60_000);
});
