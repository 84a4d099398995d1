import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, withoutUrlPassword } from '../../src/logging/logger.ts';

describe('withoutUrlPassword', () => {
  it.each([
    ['a userinfo password', 'redis://app:s3cret@redis:6379/0', 'redis://app:***@redis:6379/0'],
    ['a query password', 'redis://redis:6379/0?password=s3cret', 'redis://redis:6379/0?password=***'],
    ['a query sentinelPassword', 'redis://redis:6379?sentinelPassword=s3cret', 'redis://redis:6379?sentinelPassword=***'],
    [
      'both, other parameters kept',
      'redis://app:s3cret@redis:6379/0?family=4&password=q-s3cret&db=2',
      'redis://app:***@redis:6379/0?family=4&password=***&db=2',
    ],
    ['a %-encoded name, which ioredis decodes', 'redis://redis?pa%73sword=s3cret', 'redis://redis?pa%73sword=***'],
    ['a query in a URL that does not parse', 'redis://app:s3cret@redis:99999?password=s3cret', 'redis://***@redis:99999?password=***'],
  ])('masks %s', (_, url, shown) => {
    expect(withoutUrlPassword(url)).toBe(shown);
  });

  it.each([
    ['no secret', 'redis://redis:6379/0?family=4&db=2'],
    ['a user without a password', 'redis://app@redis:6379'],
    // ioredis reads names as written: `Password` is no option of its, and a "?" after "#" is the fragment's.
    ['names ioredis does not read as a password', 'redis://redis?Password=x&PASSWORD=y&passwords=z'],
    ['a parameter without a value', 'redis://redis?password'],
    ['a fragment', 'redis://redis#x?password=y'],
  ])('leaves a URL with %s as written', (_, url) => {
    expect(withoutUrlPassword(url)).toBe(url);
  });

  it.each([
    ['redis://127.0.0.1:6379/0?family=4&password=q-s3cret', 'q-s3cret', undefined],
    ['redis://app:u-s3cret@127.0.0.1:6379/0?family=4&pa%73sword=q-s3cret&sentinelPassword=s-s3cret', 'u-s3cret', 's-s3cret'],
  ])('shows none of the secrets ioredis takes from %s', (url, password, sentinelPassword) => {
    const client = new Redis(url, { lazyConnect: true });
    try {
      expect([client.options.password, client.options.sentinelPassword]).toEqual([password, sentinelPassword]);
      const shown = withoutUrlPassword(url);
      for (const secret of ['u-s3cret', 'q-s3cret', 's-s3cret']) expect(shown).not.toContain(secret);
      expect(shown).toContain('family=4');
    } finally {
      client.disconnect();
    }
  });
});

describe('the logger', () => {
  it('censors a query password of a URL inside a message or a field, as a userinfo one', () => {
    const lines: string[] = [];
    const log = createLogger('info', {}, (line) => lines.push(line));
    log.info('cannot reach redis://redis:6379/0?password=m-s3cret&db=1 now', { redis: 'redis://app:u-s3cret@redis:6379/0?family=4&sentinelPassword=f-s3cret' });
    const { msg, redis } = JSON.parse(lines[0]!) as { msg: string; redis: string };
    expect(msg).toBe(`cannot reach redis://redis:6379/0?password=${REDACTED}&db=1 now`);
    expect(redis).toBe(`redis://app:${REDACTED}@redis:6379/0?family=4&sentinelPassword=${REDACTED}`);
  });
});
