import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.ts';
import { PINO_REDACT_PATHS, redact, REDACTED } from '../../src/logging/redaction.ts';

describe('log redaction', () => {
  it('replaces secret fields at any depth and passwords inside URLs, leaving the rest', () => {
    const lines: string[] = [];
    const log = createLogger('debug', {}, (l) => lines.push(l));
    const err = new Error('cannot connect to redis://app:s3cr3t@r:6379/0', { cause: new Error('ECONNREFUSED') });
    log.warn('connecting with rediss://u:hunter2@host:6380', { options: { kafkaSaslPassword: 'hunter2', sasl: { mechanism: 'plain', password: 'hunter2' }, brokers: ['b:9092'] }, authorization: 'Bearer abc', err });
    const line = lines.join('');
    expect(line).not.toContain('hunter2');
    expect(line).not.toContain('s3cr3t');
    expect(line).not.toContain('Bearer abc');
    const entry = JSON.parse(line) as { msg: string; options: { sasl: string; brokers: string[] }; err: { message: string; cause: { message: string } } };
    expect(entry.msg).toBe(`connecting with rediss://u:${REDACTED}@host:6380`);
    expect(entry.options.sasl).toBe(REDACTED);
    expect(entry.options.brokers).toEqual(['b:9092']);
    expect(entry.err.message).toBe(`cannot connect to redis://app:${REDACTED}@r:6379/0`);
    expect(entry.err.cause.message).toBe('ECONNREFUSED');
  });

  it('does not change the value it is given', () => {
    const value = { password: 'x', nested: { token: 'y' } };
    expect(redact(value)).toEqual({ password: REDACTED, nested: { token: REDACTED } });
    expect(value.password).toBe('x');
  });

  it('gives pino the same names, top level and one level down', () => {
    expect(PINO_REDACT_PATHS).toContain('password');
    expect(PINO_REDACT_PATHS).toContain('*.kafkaSaslPassword');
  });
});
