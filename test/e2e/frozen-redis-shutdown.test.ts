import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, useKafkaAdmin } from '../support/kafka.ts';
import { OwnRedis } from '../support/own-redis.ts';
import { freePort } from '../support/ports.ts';
import { spawnSidecar, testOptions, waitUntilReady, type SidecarProcess } from '../support/sidecar.ts';

// A private redis-server: this test freezes it, which must never happen to the shared one.
const { admin } = useKafkaAdmin();
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

  it('spends one Redis command timeout in all on the last touches of many topics, not one per topic', async () => {
    redis.thaw();
    const { redisClusterNodes: _nodes, redisSentinels: _sentinels, ...options } = testOptions({ redisUrl: redis.url });
    // Touches wait for the final flush; each topic's are one command, which a frozen Redis never answers.
    sidecar = await spawnSidecar(options, { flags: ['--redis-command-timeout', '1s', '--shutdown-grace', '1s', '--touch-flush-interval', '60s'] });
    await waitUntilReady(sidecar.url);
    const topics = await Promise.all(Array.from({ length: 8 }, () => createTopic(admin, 1)));
    for (const topic of topics) {
      for (let use = 0; use < 2; use++) {
        const answer = await fetch(`${sidecar.url}/v1/ordered-produce`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ topic, messages: [{ message_group: 'g', value: 'v' }] }),
        });
        expect(answer.status).toBe(200);
      }
    }
    redis.freeze();
    const started = Date.now();
    const code = await Promise.race([sidecar.stop('SIGTERM'), new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000))]);
    expect(code, sidecar.logs.slice(-5).join('\n')).toBe(0);
    // The drain (nothing in flight), one command timeout, Kafka's close: well under one timeout per topic (8 s).
    expect(Date.now() - started).toBeLessThan(5000);
    expect(sidecar.logs.some((line) => line.includes('shutting down without them'))).toBe(true);
  }, 60_000);
});
