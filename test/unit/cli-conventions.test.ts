import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configCommand } from '../../src/cli/config-command.ts';
import { optionsHelp } from '../../src/config/describe-options.ts';
import { ConfigError, OPTION_KEYS, SETTINGS, flagName, loadConfig } from '../../src/config/load-config.ts';
import { VERSION } from '../../src/version.ts';
import { tempDir } from '../support/temp-dir.ts';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** The CLI in a process of its own, as an operator runs it; never throws, resolves to its exit code and output. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 20_000, env: { PATH: process.env.PATH } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** configCommand with its output captured. */
function check(argv: string[], env: NodeJS.ProcessEnv = {}): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = configCommand(['check', ...argv], env, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('help and version at every level', () => {
  it.each([
    ['-h'],
    ['--help'],
    ['help'],
    ['serve', '-h'],
    ['serve', '--help'],
    ['groups', '-h'],
    ['subscriptions', '--help'],
    ['config', '-h'],
    ['config', 'check', '--help'],
  ])('%s %s %s exits 0 with a usage text on stdout', async (...args) => {
    const r = await cli(...args);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^Usage|Usage:/m);
  });

  it.each([['-v'], ['--version']])('%s prints the version alone', async (flag) => {
    expect(await cli(flag)).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('an unknown command exits 2 with the usage on stderr', async () => {
    const r = await cli('serv');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "serv"');
  });
});

describe('serve --help', () => {
  it("lists every option of the loader's table with its flag, env name, default and one line", () => {
    const help = optionsHelp();
    for (const key of OPTION_KEYS) {
      const { env, help: line } = SETTINGS[key];
      expect(help).toMatch(new RegExp(`${flagName(env)}( VALUE)? +env ${env}, default \\S`));
      expect(line.length).toBeGreaterThan(5);
      expect(help).toContain(line);
    }
    expect(help).toContain('env KAFKA_WRITE_TIMEOUT, default 30s');
    expect(help).toContain('env MAX_BATCH_BYTES, default 900KiB');
    expect(help).toContain('env ADMIN_TOKEN, default unset');
    // A switch is a bare flag.
    expect(help).toMatch(/--kafka-tls +env KAFKA_TLS, default false/);
  });
});

describe('boolean flags', () => {
  it('take no value: a bare flag means true, and the next flag is not eaten as its value', () => {
    const options = loadConfig(['--kafka-tls', '--port', '9000'], {});
    expect(options.kafkaTls).toBe(true);
    expect(options.port).toBe(9000);
    expect(loadConfig(['--redis-tls', '--redis-cluster-nodes', 'h:1'], {}).redisTls).toBe(true);
  });

  it('take a value inline or as the next word, which overrides the environment', () => {
    expect(loadConfig(['--kafka-tls=false'], { KAFKA_TLS: 'true' }).kafkaTls).toBe(false);
    expect(loadConfig(['--kafka-tls', 'false', '--port', '1'], { KAFKA_TLS: 'true' })).toMatchObject({ kafkaTls: false, port: 1 });
    expect(() => loadConfig(['--kafka-tls', 'maybe'], {})).toThrow(/unknown option maybe/);
    expect(() => loadConfig(['--kafka-tls=maybe'], {})).toThrow(ConfigError);
  });

  it('other options still need a value', () => {
    expect(() => loadConfig(['--port'], {})).toThrow(/option --port needs a value/);
  });
});

describe('config check', () => {
  const dir = tempDir('os-config-check-');

  it('prints every option with its source, secrets masked, and exits 0', () => {
    // ioredis takes a password from the query too (every parameter is an option of its).
    const redisUrl = 'redis://app:s3cret-url@redis:6379/0?family=4&password=s3cret-query';
    const r = check(['--port', '9000', '--redis-url', redisUrl], { API_TOKEN: 'tok-123456', GROUP_TTL: '2h' });
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    for (const key of OPTION_KEYS) expect(r.out).toMatch(new RegExp(`^${SETTINGS[key].env} +\\S`, 'm'));
    expect(r.out).toMatch(/^PORT +9000 +\(--port\)$/m);
    expect(r.out).toMatch(/^GROUP_TTL +2h +\(GROUP_TTL\)$/m);
    expect(r.out).toMatch(/^KAFKA_BROKERS +127\.0\.0\.1:9092 +\(default\)$/m);
    expect(r.out).toMatch(/^API_TOKEN +\(set, hidden\) +\(API_TOKEN\)$/m);
    expect(r.out).not.toContain('tok-123456');
    expect(r.out).not.toContain('s3cret-url');
    expect(r.out).not.toContain('s3cret-query');
    expect(r.out).toMatch(/^REDIS_URL +redis:\/\/app:\*\*\*@redis:6379\/0\?family=4&password=\*\*\* +\(--redis-url\)$/m);
    expect(r.out).toContain('nothing is consumed');
  });

  it('validates the subscriptions file without connecting, and lists its subscriptions', () => {
    const path = join(dir, 'subs.json');
    writeFileSync(
      path,
      JSON.stringify({
        subscriptions: [{ name: 'orders', topic: 'orders', consumer_group: 'g', endpoint: 'http://127.0.0.1:9/deliver', dead_letter_topic: 'orders.dlq' }],
      }),
    );
    const r = check([], { SUBSCRIPTIONS_FILE: path });
    expect(r.code).toBe(0);
    expect(r.out).toContain('1 subscription(s):');
    expect(r.out).toContain('orders: topic orders, consumer group g');
  });

  it('says which delivery authentication a subscription has, never the secret or its file, and refuses an unreadable one', () => {
    const path = join(dir, 'auth-subs.json');
    const token = join(dir, 'delivery-token');
    writeFileSync(token, 'tok-delivery-987\n');
    const entry = { name: 'signed', topic: 'orders', consumer_group: 'g', endpoint: 'http://127.0.0.1:9/deliver', on_exhausted: 'block' };
    writeFileSync(path, JSON.stringify({ subscriptions: [{ ...entry, auth_token_file: token, signing_secret_file: token }] }));
    const r = check([], { SUBSCRIPTIONS_FILE: path });
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      'signed: topic orders, consumer group g, endpoint http://127.0.0.1:9/deliver, on exhausted block, delivery auth: bearer token, signature\n',
    );
    expect(r.out).not.toContain('tok-delivery-987');
    expect(r.out).not.toContain(token);
    writeFileSync(path, JSON.stringify({ subscriptions: [{ ...entry, auth_token_file: join(dir, 'none') }] }));
    const refused = check([], { SUBSCRIPTIONS_FILE: path });
    expect([refused.code, refused.err]).toEqual([
      2,
      `ordered-sidecar config check: subscriptions file ${path}: subscriptions[0].auth_token_file: cannot use ${join(dir, 'none')} (ENOENT)\n`,
    ]);
  });

  it.each([
    ['a bad value', ['--port', 'abc'], {}, /invalid --port="abc": must be a whole number/],
    ['settings that contradict', ['--kafka-tls=false', '--kafka-tls-servername', 'k'], {}, /KAFKA_TLS=false contradicts/],
    ['an unreadable file', [], { KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem' }, /KAFKA_TLS_CA_FILE=\/nonexistent\/ca.pem cannot be read/],
    ['an unknown flag', ['--prot', '1'], {}, /unknown option --prot/],
  ])('exits 2 on %s, with one line saying why', (_, argv, env, why) => {
    const r = check(argv, env);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(why);
    expect(r.err.trim()).not.toContain('\n');
  });

  it('exits 2 on a subscriptions file that is not valid, naming the field', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ subscriptions: [{ name: 'x', topic: 'orders', consumer_group: 'g' }] }));
    const r = check([], { SUBSCRIPTIONS_FILE: path });
    expect(r.code).toBe(2);
    expect(r.err).toContain('endpoint');
  });

  it('refuses what serve would refuse before connecting: an ack_timeout not below the session timeout', () => {
    const path = join(dir, 'slow.json');
    const entry = { name: 'slow', topic: 'orders', consumer_group: 'g', endpoint: 'http://127.0.0.1:9/deliver', on_exhausted: 'block', ack_timeout: '60s' };
    writeFileSync(path, JSON.stringify({ subscriptions: [entry] }));
    const r = check([], { SUBSCRIPTIONS_FILE: path });
    expect([r.code, r.out]).toEqual([2, '']);
    expect(r.err).toBe(
      `ordered-sidecar config check: subscriptions file ${path}: subscriptions[0].ack_timeout: 60000 ms must be below CONSUME_SESSION_TIMEOUT (45000 ms); lower it or raise the session timeout\n`,
    );
    expect(check([], { SUBSCRIPTIONS_FILE: path, CONSUME_SESSION_TIMEOUT: '90s' }).code).toBe(0);
  });

  it.each([
    ['ADMIN_TOKEN_FILE', 'empty', '\n', 'the file is empty'],
    ['API_TOKEN_FILE', 'spaced', 'abc def\n', 'the token holds a space or a tab'],
    ['ADMIN_TOKEN_FILE', 'multi-line', 'abc\ndef\n', 'the token holds a line break'],
  ])('refuses a %s the start could not use (%s), naming it and never its content', (env, name, content, why) => {
    const file = join(dir, `token-${name}`);
    writeFileSync(file, content);
    const r = check([], { [env]: file });
    expect([r.code, r.out]).toEqual([2, '']);
    expect(r.err).toMatch(new RegExp(`^ordered-sidecar config check: ${env}=${file} cannot be used: ${why}`));
    expect(r.err).not.toContain('abc');
    writeFileSync(file, 'good-token\n');
    expect(check([], { [env]: file }).code).toBe(0);
  });

  it('masks a secret in its error too', () => {
    const r = check([], { API_TOKEN: ' ' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('invalid API_TOKEN: must not be empty');
  });
});

describe('serve', () => {
  it('exits 2 with one line when a token file cannot be used, before connecting to anything', async () => {
    const file = join(tempDir('os-serve-'), 'empty-token');
    writeFileSync(file, '');
    const r = await cli('serve', '--admin-token-file', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`ordered-sidecar: ADMIN_TOKEN_FILE=${file} cannot be used: the file is empty\n`);
  });
});
