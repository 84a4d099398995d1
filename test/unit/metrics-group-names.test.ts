import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { ConsumeMetrics, type ConsumeGauges } from '../../src/metrics/consume-metrics.ts';

const CUSTOMER = 'customer-4711@example.com';

async function hotGroupLabels(groupNames: 'plain' | 'hash' | 'off' | undefined): Promise<string[]> {
  const registry = new Registry();
  const metrics = new ConsumeMetrics(registry, groupNames === undefined ? {} : { groupNames });
  const gauges: ConsumeGauges = {
    subscription: 'orders',
    lag: new Map(),
    buffered: new Map(),
    tracked: new Map(),
    pausedPartitions: 0,
    inFlightGroups: 0,
    blockedGroups: 0,
    hotGroups: [
      { partition: 0, group: CUSTOMER, backlog: 5 },
      { partition: 1, group: null, backlog: 2 },
    ],
  };
  metrics.track(() => gauges);
  const text = await registry.metrics();
  return [...text.matchAll(/ordered_sidecar_consume_hot_group_backlog_messages\{[^}]*message_group="([^"]*)"\}/g)].map((m) => m[1]!);
}

describe('METRICS_GROUP_NAMES', () => {
  it('shows group names as they are by default (plain)', async () => {
    expect(loadConfig([], {}).metricsGroupNames).toBe('plain');
    expect(await hotGroupLabels(undefined)).toEqual([CUSTOMER, '']);
    expect(await hotGroupLabels('plain')).toEqual([CUSTOMER, '']);
  });

  it('shows a stable SHA-256 prefix instead with hash, never the name', async () => {
    const labels = await hotGroupLabels('hash');
    expect(labels).toEqual([createHash('sha256').update(CUSTOMER).digest('hex').slice(0, 16), '']);
    expect(await hotGroupLabels('hash')).toEqual(labels);
  });

  it('shows no name at all with off', async () => {
    expect(await hotGroupLabels('off')).toEqual(['', '']);
  });

  it('is read from the environment and refuses other values', () => {
    expect(loadConfig([], { METRICS_GROUP_NAMES: 'hash' }).metricsGroupNames).toBe('hash');
    expect(loadConfig(['--metrics-group-names', 'off'], {}).metricsGroupNames).toBe('off');
    expect(() => loadConfig([], { METRICS_GROUP_NAMES: 'md5' })).toThrow(/plain, hash, off/);
  });
});
