import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, type LogLevel } from '../../src/logging/logger.ts';

/** A logger whose lines are kept, and the lines parsed back. */
function capture(level: LogLevel = 'debug', base = {}) {
  const lines: string[] = [];
  const log = createLogger(level, base, (line) => lines.push(line));
  return { log, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const SECRET = 'hunter2-s3cr3t';

describe('logger', () => {
  it('writes one JSON object per line with the field names operators parse: time (ISO), level (name), msg', () => {
    const { log, lines, parsed } = capture('debug', { service: 'ordered-sidecar' });
    log.info('ordered-sidecar listening', { url: 'http://127.0.0.1:8080', partitions: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const [entry] = parsed();
    expect(entry).toMatchObject({ level: 'info', msg: 'ordered-sidecar listening', service: 'ordered-sidecar', url: 'http://127.0.0.1:8080', partitions: 3 });
    expect(new Date(entry!.time as string).toISOString()).toBe(entry!.time);
  });

  it('drops lines below its level, and child loggers add their fields', () => {
    const { log, parsed } = capture('warn', { service: 's' });
    log.debug('d');
    log.info('i');
    log.child({ topic: 't' }).warn('w', { group: 'g' });
    log.error('e');
    expect(parsed().map((e) => [e.level, e.msg])).toEqual([
      ['warn', 'w'],
      ['error', 'e'],
    ]);
    expect(parsed()[0]).toMatchObject({ service: 's', topic: 't', group: 'g' });
  });

  it('flattens errors to message, name, code, type, cause chain and stack', () => {
    const { log, parsed } = capture();
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const err = Object.assign(new Error('write failed', { cause }), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    log.error('request failed', { err, other: new TypeError('x') });
    const [entry] = parsed();
    expect(entry!.err).toMatchObject({
      message: 'write failed',
      name: 'Error',
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
      cause: { message: 'connect ECONNREFUSED', name: 'Error', code: 'ECONNREFUSED' },
    });
    expect((entry!.err as { stack: string }).stack).toMatch(/^Error: write failed\n\s+at /);
    expect((entry!.err as { cause: { stack: string } }).cause.stack).toMatch(/^Error: connect ECONNREFUSED\n\s+at /);
    expect(entry!.other).toMatchObject({ message: 'x', name: 'TypeError' });
  });

  it('never writes a secret held under a redacted key, at any depth, in fields, bindings or arrays', () => {
    const { log, lines, parsed } = capture('debug', { adminToken: SECRET });
    log.child({ sasl: { mechanism: 'plain', username: 'u', password: SECRET } }).info('connecting', {
      password: SECRET,
      headers: { Authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET, 'content-type': 'application/json' },
      brokers: [{ host: 'b1', saslPassword: SECRET }],
      deep: { a: { b: { c: { d: { token: SECRET } } } } },
      err: Object.assign(new Error('auth failed'), { code: 'SASL', cause: { secret: SECRET } }),
    });
    expect(lines.join('')).not.toContain(SECRET);
    const [entry] = parsed();
    expect(entry).toMatchObject({
      adminToken: REDACTED,
      sasl: { mechanism: 'plain', username: 'u', password: REDACTED },
      password: REDACTED,
      headers: { Authorization: REDACTED, 'x-api-key': REDACTED, 'content-type': 'application/json' },
      brokers: [{ host: 'b1', saslPassword: REDACTED }],
      deep: { a: { b: { c: { d: { token: REDACTED } } } } },
      err: { message: 'auth failed', code: 'SASL', cause: { secret: REDACTED } },
    });
  });

  it('censors the password of a URL in any string: messages, fields, error messages and stacks', () => {
    const { log, lines, parsed } = capture();
    const url = `redis://default:${SECRET}@redis.internal:6379/0`;
    log.warn(`cannot reach ${url}`, { redis: url, err: new Error(`connect to ${url} failed`) });
    expect(lines.join('')).not.toContain(SECRET);
    const [entry] = parsed();
    expect(entry!.msg).toBe(`cannot reach redis://default:${REDACTED}@redis.internal:6379/0`);
    expect(entry!.redis).toBe(`redis://default:${REDACTED}@redis.internal:6379/0`);
    expect(entry!.err).toMatchObject({ message: `connect to redis://default:${REDACTED}@redis.internal:6379/0 failed` });
  });

  it('censors a raw "@" in a URL password up to the last "@" before the host, as URL parsers read it', () => {
    const { log, lines, parsed } = capture();
    log.warn('cannot reach', { redis: `redis://:${SECRET}@x@redis.internal:6379/0`, other: `see http://redis.internal:8080/a@b` });
    expect(lines.join('')).not.toContain(SECRET);
    expect(parsed()[0]).toMatchObject({ redis: `redis://:${REDACTED}@redis.internal:6379/0`, other: 'see http://redis.internal:8080/a@b' });
  });

  it('logs a cyclic structure once instead of failing, and keeps other objects as JSON shows them', () => {
    const { log, parsed } = capture();
    const node: Record<string, unknown> = { name: 'n' };
    node.self = node;
    const shared = { id: 1 };
    log.info('state', { node, pair: [shared, shared], at: new Date(0) });
    expect(parsed()[0]).toMatchObject({ node: { name: 'n', self: '[Circular]' }, pair: [{ id: 1 }, { id: 1 }], at: '1970-01-01T00:00:00.000Z' });
  });

  it('takes the message literally (no printf placeholders)', () => {
    const { log, parsed } = capture();
    log.info('100% done, %s left', { n: 1 });
    expect(parsed()[0]!.msg).toBe('100% done, %s left');
  });
});
