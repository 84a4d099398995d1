import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import type { SidecarOptions } from '../../src/config/options.ts';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { connectRedis } from '../support/redis.ts';
import { startTestSidecar, testOptions } from '../support/sidecar.ts';
import { dropPrefix, makeIdle, produceGroups } from './admin-fixture.ts';
import { groupsCommand } from '../../src/cli/groups-command.ts';
import { subscriptionsCommand } from '../../src/cli/subscriptions-command.ts';

const TOKEN = 'cli-test-token';
const { admin } = useKafkaAdmin();
let redis: RedisClient;
let options: SidecarOptions;
let sidecar: RunningSidecar;

beforeAll(async () => {
  redis = connectRedis();
  options = testOptions({ routerBuckets: 8, touchFlushIntervalMs: 100, moveMinIdleMs: 60_000, adminToken: TOKEN });
  sidecar = await startTestSidecar(options);
});

afterAll(async () => {
  await sidecar?.close();
  if (options) await dropPrefix(redis, options.redisPrefix);
  redis?.disconnect();
});

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `ordered-sidecar groups ...` as an operator runs it: a separate Node process, the token from the environment. */
function groups(args: string[], env: Record<string, string> = { ADMIN_TOKEN: TOKEN }): Promise<CliRun> {
  const { ADMIN_TOKEN: _ignored, ...base } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['src/cli.ts', 'groups', ...args, '--url', sidecar.url],
      { env: { ...base, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('ordered-sidecar groups (CLI over /admin/v1)', () => {
  it('gets, lists (every page), shows loads and topics, in human and JSON form', async () => {
    const topic = await createTopic(admin, 3);
    const names = Array.from({ length: 30 }, (_, i) => `cli-${i}`);
    const placed = await produceGroups(sidecar.url, topic, names);

    const get = await groups(['get', topic, 'cli-7']);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toMatch(new RegExp(`^partition\\s+${placed.get('cli-7')}$`, 'm'));

    const all = await groups(['list', topic, '--limit', '4', '--all', '--json']);
    expect(all.code, all.stderr).toBe(0);
    const listed = JSON.parse(all.stdout) as { groups: { group: string; partition: number }[]; next_cursor: string | null };
    expect(listed.groups.map((g) => g.group).sort()).toEqual([...names].sort());
    expect(listed.next_cursor).toBeNull();
    for (const g of listed.groups) expect(g.partition).toBe(placed.get(g.group));

    const byPrefix = await groups(['list', topic, '--prefix', 'cli-1', '--limit', '4', '--all', '--json']);
    expect(byPrefix.code, byPrefix.stderr).toBe(0);
    const prefixed = (JSON.parse(byPrefix.stdout) as { groups: { group: string }[] }).groups.map((g) => g.group);
    expect(prefixed.toSorted()).toEqual(names.filter((n) => n.startsWith('cli-1')).toSorted());

    const page = await groups(['list', topic, '--limit', '4']);
    expect(page.code).toBe(0);
    expect(page.stdout.trim().split('\n')).toHaveLength(5);
    expect(page.stderr).toMatch(/more groups: add --cursor \S+/);

    const loads = await groups(['loads', topic]);
    expect(loads.code).toBe(0);
    expect(loads.stdout).toMatch(new RegExp(`^topic ${topic}: 30 groups on 3 partitions, max-min 0, deviation 0\\.000$`, 'm'));

    const topics = await groups(['topics', '--json']);
    expect(JSON.parse(topics.stdout).topics).toContain(topic);
  });

  it('moves and releases idle groups, and exits 1 with the sidecar reason when it refuses', async () => {
    const topic = await createTopic(admin, 3);
    const placed = await produceGroups(sidecar.url, topic, ['a', 'b']);

    const busy = await groups(['release', topic, 'a']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/^ordered-sidecar groups: 409 CONFLICT: group "a" was used too recently for a release/);

    await makeIdle(redis, options.redisPrefix, topic, 'a');
    await makeIdle(redis, options.redisPrefix, topic, 'b');
    const released = await groups(['release', topic, 'a']);
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toBe(`released group "a" of topic "${topic}" (was on partition ${placed.get('a')}); its next message is routed afresh\n`);

    const to = (placed.get('b')! + 1) % 3;
    const moved = await groups(['move', topic, 'b', String(to)]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toBe(`moved group "b" of topic "${topic}": partition ${placed.get('b')} -> ${to}\n`);

    const missing = await groups(['get', topic, 'a']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/404 NOT_FOUND: group "a" has no mapping/);
  });

  it('rebuilds a topic from the route log, backfills it, and resumes it', async () => {
    const topic = await createTopic(admin, 3);
    await produceGroups(sidecar.url, topic, ['r1', 'r2']);
    const rebuilt = await groups(['rebuild', topic]);
    expect([rebuilt.code, rebuilt.stdout], rebuilt.stderr).toEqual([0, `topic "${topic}": 0 mappings restored from the route log\n`]);
    const json = await groups(['rebuild', topic, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ topic, restored: 0 });
    const backfilled = await groups(['backfill', topic]);
    expect([backfilled.code, backfilled.stdout], backfilled.stderr).toEqual([0, `topic "${topic}": 2 mappings written to the route log\n`]);
    expect(JSON.parse((await groups(['backfill', topic, '--json'])).stdout)).toEqual({ topic, logged: 2 });
    const resumed = await groups(['resume', topic]);
    expect([resumed.code, resumed.stdout], resumed.stderr).toEqual([0, `topic "${topic}": new MessageGroups are assigned again\n`]);
    const unknown = await groups(['resume', 'never-used']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/404 NOT_FOUND: topic "never-used" has no routing state in Redis/);
  });

  it('exits 1 on a missing or wrong token, 2 on a malformed command line', async () => {
    const noToken = await groups(['topics'], {});
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/401 UNAUTHORIZED/);
    expect((await groups(['topics', '--token', 'nope'], {})).stderr).toMatch(/wrong bearer token/);
    expect((await groups(['topics', '--token', TOKEN], {})).code).toBe(0);
    // As in the sidecar's pod, where the token may be a mounted file.
    const dir = mkdtempSync(join(tmpdir(), 'admin-token-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    expect((await groups(['topics'], { ADMIN_TOKEN_FILE: join(dir, 'token') })).code).toBe(0);
    rmSync(dir, { recursive: true });
    for (const args of [['get', 'only-topic'], ['frobnicate'], ['list', 't', '--bogus'], ['move', 't', 'g', 'x']]) {
      expect((await groups(args)).code, args.join(' ')).toBe(2);
    }
  });

  it('exits 1 naming what it expected when a 2xx answer has another shape (another version, a proxy)', async () => {
    // A real HTTP server in the sidecar's place, answering 200 with JSON of the wrong shape for every command.
    const impostor = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ topics: 'not-a-list', groups: [{ group: 1 }], head: null }));
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => impostor.close(() => resolve())));
    const url = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
    const io = { out: '', err: '' };
    const capture = { out: (t: string) => void (io.out += t), err: (t: string) => void (io.err += t) };
    expect(await groupsCommand(['topics', '--url', url], {}, capture)).toBe(1);
    expect(await groupsCommand(['list', 't', '--url', url], {}, capture)).toBe(1);
    expect(await groupsCommand(['loads', 't', '--url', url], {}, capture)).toBe(1);
    expect(await subscriptionsCommand(['retry', 's', '0', 'g', '--url', url], {}, capture)).toBe(1);
    expect(io.err.split('\n').filter(Boolean)).toEqual([
      'ordered-sidecar groups: the sidecar\'s answer is not a topic list: {"topics":"not-a-list","groups":[{"group":1}],"head":null}',
      'ordered-sidecar groups: the sidecar\'s answer is not a page of groups: {"topics":"not-a-list","groups":[{"group":1}],"head":null}',
      'ordered-sidecar groups: the sidecar\'s answer is not partition loads: {"topics":"not-a-list","groups":[{"group":1}],"head":null}',
      'ordered-sidecar subscriptions: the sidecar\'s answer is not the group\'s head: {"topics":"not-a-list","groups":[{"group":1}],"head":null}',
    ]);
    expect(io.out).toBe('');
  });
});
