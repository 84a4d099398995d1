import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClient, type RedisClient } from '../../src/redis/redis-connection.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * REDIS_PASSWORD_FILE against private password-protected redis-server processes: the password is rotated on
 * the servers and in the file, every client connection is cut, and the sidecar's client must come back with
 * the new password, without a restart.
 */

const run = promisify(execFile);
const OLD = 'old-password-1';
const NEW = 'new-password-2';
/** Each attempt settles (a refused one within a second), so a wait that fails names what it waited for. */
const BEHAVIOUR = { lazyConnect: false, maxRetriesPerRequest: 1, commandTimeout: 1000 };

const children: ChildProcess[] = [];
const clients: RedisClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await Promise.all(
    children.splice(0).map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }),
  );
});

async function startServer(port: number, dir: string, extra: string[]): Promise<void> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--requirepass', OLD, ...extra];
  children.push(spawn('redis-server', args, { stdio: 'ignore' }));
  await eventually(`redis-server on ${port} to answer`, async () => {
    const probe = new Redis({ port, password: OLD, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  });
}

/** Sets the new password on the server at `port` and cuts every client connection it has but this one. */
async function rotateAndCut(port: number): Promise<void> {
  const admin = new Redis({ port, password: OLD, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await admin.config('SET', 'masterauth', NEW);
    await admin.config('SET', 'requirepass', NEW);
    await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  } finally {
    admin.disconnect();
  }
}

function passwordFile(dir: string): string {
  const file = join(dir, 'redis-password');
  writeFileSync(file, `${OLD}\n`);
  return file;
}

/** Whether `writes` all succeed within 2 s: an attempt a cut connection leaves hanging counts as a failure. */
const succeeds = (writes: Promise<unknown>): Promise<boolean> =>
  Promise.race([
    writes.then(
      () => true,
      () => false,
    ),
    sleep(2000).then(() => false),
  ]);

function track<T extends RedisClient>(client: T): T {
  client.on('error', () => undefined); // refusals are expected while the connections are cut
  clients.push(client);
  return client;
}

describe('REDIS_PASSWORD_FILE', () => {
  it('a single Redis: after a rotation the client reconnects with the password the file holds now', async () => {
    const dir = tempDir('redis-password-');
    const port = await freePort();
    await startServer(port, dir, []);
    const file = passwordFile(dir);
    const client = track(createRedisClient({ redisUrl: `redis://127.0.0.1:${port}`, redisTls: false, redisPasswordFile: file }, BEHAVIOUR));
    await client.set('before', '1');

    writeFileSync(file, `${NEW}\n`);
    await rotateAndCut(port);

    await eventually('the client to write with the new password', () => succeeds(client.set('after', '2')), 30_000);
    expect(await client.get('before')).toBe('1');
  });

  it('a Redis Cluster: nodes the client makes anew after a rotation use the password the file holds now', async () => {
    const dir = tempDir('redis-password-cluster-');
    const ports = [await freePort(), await freePort(), await freePort()];
    await Promise.all(
      ports.map((port) =>
        startServer(port, dir, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
          '--masterauth',
          OLD,
        ]),
      ),
    );
    await run('redis-cli', [
      '-a',
      OLD,
      '--no-auth-warning',
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const file = passwordFile(dir);
    const client = track(
      createRedisClient({ redisUrl: '', redisTls: false, redisClusterNodes: ports.map((p) => `127.0.0.1:${p}`), redisPasswordFile: file }, BEHAVIOUR),
    );
    expect(client).toBeInstanceOf(Cluster);
    // Keys on every master: the three slot ranges each hold some of 30 keys.
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    await eventually('the new cluster to take writes on every master', () => succeeds(Promise.all(keys.map((k) => client.set(k, 'before')))), 30_000);

    writeFileSync(file, `${NEW}\n`);
    for (const port of ports) await rotateAndCut(port);

    await eventually('the client to write on every master with the new password', () => succeeds(Promise.all(keys.map((k) => client.set(k, 'after')))), 30_000);
    expect(await Promise.all(keys.map((k) => client.get(k)))).toEqual(keys.map(() => 'after'));
  });
});
