import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Client } from '../../src/sdk/index.ts';

const METRIC = 'ordered_sidecar_client_fallback_total';

describe('the client fallback counter in a shared registry', () => {
  it('is registered once, however many clients share the registry', async () => {
    const registry = new Registry();
    const clients = [new Client({ metricsRegistry: registry }), new Client({ metricsRegistry: registry })];
    expect(registry.getMetricsAsArray()).toHaveLength(1);
    expect((await registry.getSingleMetric(METRIC)!.get()).type).toBe('counter');
    await Promise.all(clients.map((c) => c.close()));
  });

  it('refuses a registry where the name is taken by another kind of metric instead of counting on it', () => {
    const registry = new Registry();
    new Gauge({ name: METRIC, help: 'not ours', labelNames: ['reason'], registers: [registry] });
    expect(() => new Client({ metricsRegistry: registry })).toThrow(/already been registered/);
  });
});
