import { describe, expect, it } from 'vitest';
import { isLoopbackHost, warnIfAdminExposed } from '../../src/http/bearer-token.ts';
import { generationWaitMs, requiredIdleMs } from '../../src/admin/admin-service.ts';
import { groupParam, limitParam, movePartition, topicParam } from '../../src/http/admin-validate.ts';
import { decodeCursor, encodeCursor } from '../../src/admin/list-cursor.ts';
import { ConfigError, loadConfig } from '../../src/config/load-config.ts';
import { DEFAULT_OPTIONS } from '../../src/config/options.ts';
import { SidecarError } from '../../src/errors/sidecar-error.ts';
import { createLogger } from '../../src/logging/logger.ts';

const rejects = (fn: () => unknown, field: string) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SidecarError);
    expect((err as SidecarError).field).toBe(field);
    return;
  }
  throw new Error(`expected a rejection of ${field}`);
};

describe('admin timing', () => {
  const base = { moveMinIdleMs: 120_000, touchFlushIntervalMs: 1000, kafkaWriteTimeoutMs: 30_000, maxGroupBytes: 128 };

  it('requires the configured idle time, never less than six write timeouts plus two flushes', () => {
    // Route log append, dedup wait, own write: each a queue wait and a write of KAFKA_WRITE_TIMEOUT at most.
    expect(requiredIdleMs(base)).toBe(182_000);
    expect(requiredIdleMs({ ...base, moveMinIdleMs: 300_000 })).toBe(300_000);
    expect(requiredIdleMs({ ...base, moveMinIdleMs: 60_000, kafkaWriteTimeoutMs: 5000 })).toBe(60_000);
  });

  it('waits more than two touch-flush intervals after each generation bump', () => {
    expect(generationWaitMs(1000)).toBe(2500);
    expect(generationWaitMs(100)).toBe(300);
    for (const interval of [10, 100, 1000, 60_000]) expect(generationWaitMs(interval)).toBeGreaterThan(2 * interval);
  });
});

describe('admin input', () => {
  it('accepts Kafka topic names and groups within the byte limit', () => {
    expect(topicParam('orders.v1_x-2')).toBe('orders.v1_x-2');
    expect(groupParam('user/1 ü', 128)).toBe('user/1 ü');
    rejects(() => topicParam('a b'), 'topic');
    rejects(() => topicParam('x'.repeat(250)), 'topic');
    rejects(() => groupParam('', 128), 'group');
    rejects(() => groupParam('ü'.repeat(65), 128), 'group');
  });

  it('bounds the page size and parses a move body strictly', () => {
    expect(limitParam(undefined)).toBe(100);
    expect(limitParam('1000')).toBe(1000);
    for (const bad of ['0', '1001', '-1', '1.5', 'x', ['1', '2']]) rejects(() => limitParam(bad), 'limit');
    expect(movePartition({ partition: 0 })).toBe(0);
    for (const bad of [{ partition: -1 }, { partition: 1.5 }, { partition: '1' }, {}]) rejects(() => movePartition(bad), 'partition');
    rejects(() => movePartition({ partition: 1, to: 2 }), 'body.to');
    rejects(() => movePartition([1]), 'body');
  });
});

describe('list cursor', () => {
  it('round-trips a position, with or without a group to resume after', () => {
    for (const position of [
      { bucket: 0, scan: '0' },
      { bucket: 4095, scan: '17' },
      { bucket: 3, scan: '0', after: 'user/"ü"' },
      // The largest cursor Redis accepts (2^64 - 1); one more is refused below.
      { bucket: 1, scan: '18446744073709551615' },
    ]) {
      expect(decodeCursor(encodeCursor(position), 4096)).toEqual(position);
    }
    expect(decodeCursor(undefined, 16)).toEqual({ bucket: 0, scan: '0' });
  });

  it('rejects what no listing returned', () => {
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const raw of ['%%%', forged({}), forged([16, '0']), forged([-1, '0']), forged([0, 'x']), forged([0, '0', 5]), forged([0, '18446744073709551616'])]) {
      rejects(() => decodeCursor(raw, 16), 'cursor');
    }
  });
});

describe('admin exposure', () => {
  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'sidecar']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('warns at start only when the admin API or the produce API is open beyond loopback', () => {
    const lines: string[] = [];
    const log = createLogger('info', {}, (line) => lines.push(line));
    warnIfAdminExposed({ host: '127.0.0.1' }, log);
    warnIfAdminExposed({ host: '0.0.0.0', adminToken: 't', apiToken: 'u' }, log);
    // Tokens read from files (ADMIN_TOKEN_FILE, API_TOKEN_FILE) count as set.
    warnIfAdminExposed({ host: '0.0.0.0', adminToken: () => 't', apiToken: () => 'u' }, log);
    expect(lines).toEqual([]);
    warnIfAdminExposed({ host: '0.0.0.0', apiToken: 'u' }, log);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', host: '0.0.0.0' });
    expect(lines[0]).toContain('ADMIN_TOKEN is not set');
    warnIfAdminExposed({ host: '0.0.0.0', adminToken: 't' }, log);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('API_TOKEN is not set');
  });
});

describe('admin settings', () => {
  it('reads ADMIN_TOKEN (no default) and ADMIN_MOVE_MIN_IDLE (default 2 min, at least 1 min)', () => {
    expect(loadConfig([], {}).adminToken).toBeUndefined();
    expect(DEFAULT_OPTIONS.moveMinIdleMs).toBe(120_000);
    expect(loadConfig([], { ADMIN_TOKEN: 's3cret', ADMIN_MOVE_MIN_IDLE: '1m' })).toMatchObject({ adminToken: 's3cret', moveMinIdleMs: 60_000 });
    expect(() => loadConfig([], { ADMIN_MOVE_MIN_IDLE: '30s' })).toThrow(ConfigError);
  });
});
