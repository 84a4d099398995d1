import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { OwnRedis } from '../support/own-redis.ts';
import { freePort } from '../support/ports.ts';
import { startTestSidecar } from '../support/sidecar.ts';

interface ReadyBody {
  ready: boolean;
  degraded: boolean;
  redis: { ok: boolean; error?: string };
}

const readyz = async (url: string): Promise<{ status: number; body: ReadyBody }> => {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadyBody };
};

describe('a sidecar started while Redis is unreachable', () => {
  let redis: OwnRedis;
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    redis = new OwnRedis(await freePort());
    sidecar = await startTestSidecar({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await sidecar?.close();
    await redis?.stop();
  });

  it('is not ready until it reaches Redis once (it has no route it could prove), then stays ready while degraded', async () => {
    const before = await readyz(sidecar.url);
    expect(before.status).toBe(503);
    expect(before.body).toMatchObject({ ready: false, degraded: true, redis: { ok: false } });
    expect(before.body.redis.error).toContain('never reached since start');

    await redis.start();
    await vi.waitUntil(async () => (await readyz(sidecar.url)).status === 200, { timeout: 15_000, interval: 200 });

    // Reached once: Redis going away now means degraded, not out of service.
    await redis.stop();
    await vi.waitUntil(async () => (await readyz(sidecar.url)).body.redis.ok === false, { timeout: 15_000, interval: 200 });
    const after = await readyz(sidecar.url);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ ready: true, degraded: true });
  });
});

describe('/metrics while Kafka and Redis accept connections but never answer', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    sidecar = await startTestSidecar({ redisUrl: `redis://127.0.0.1:${port}`, kafkaBrokers: [`127.0.0.1:${port}`], loadsRefreshMs: 200 });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await sidecar?.close();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('answers from memory, well before a health probe to them could time out (2 s)', async () => {
    const took: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = await fetch(`${sidecar.url}/metrics`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('ordered_sidecar_kafka_up 0');
      took.push(performance.now() - started);
    }
    console.log(`scrapes with Kafka and Redis silent took ${took.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    expect(Math.max(...took)).toBeLessThan(1000);
  });
});
