import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';
import { OrderedMessageRouter } from '../../src/routing/router.ts';
import { FakeRouteStore } from '../support/fake-route-store.ts';

/**
 * A labelled prom-client counter has no series until it is first incremented, so a series that appears at 1
 * is no increase() to Prometheus and the alerts over it would miss the first event. These series are
 * exported at 0 before anything is counted.
 */
describe('counters exported at 0 before their first event', () => {
  const sample = (text: string, series: string): string | undefined =>
    text
      .split('\n')
      .find((line) => line.startsWith(`${series} `))
      ?.slice(series.length + 1);

  it('exports routing_failures_total at 0 for every reason from the start', async () => {
    const metrics = new SidecarMetrics(new Registry(), { defaultMetrics: false });
    const text = await metrics.registry.metrics();
    for (const reason of ['outage', 'replica_acks', 'redis', 'busy']) {
      expect(sample(text, `ordered_sidecar_routing_failures_total{reason="${reason}"}`)).toBe('0');
    }
  });

  it("exports a topic's state-loss and restored-route counters at 0 once the router first uses the topic", async () => {
    const metrics = new SidecarMetrics(new Registry(), { defaultMetrics: false });
    const log = createLogger('error', {}, () => undefined);
    const router = new OrderedMessageRouter(
      new FakeRouteStore(),
      async () => 4,
      { routerBuckets: 16, routeCacheSize: 100, groupTtlMs: 3_600_000, touchFlushIntervalMs: 1000 },
      metrics,
      log,
    );
    const losses = 'ordered_sidecar_routing_state_losses_total{topic="orders"}';
    const restored = 'ordered_sidecar_routes_restored_total{topic="orders"}';
    expect(sample(await metrics.registry.metrics(), losses)).toBeUndefined();

    await router.route('orders', 'g1');
    await router.route('orders', 'g2');
    const text = await metrics.registry.metrics();
    expect(sample(text, losses)).toBe('0');
    expect(sample(text, restored)).toBe('0');
    expect(sample(text, 'ordered_sidecar_routing_state_losses_total{topic="payments"}')).toBeUndefined();
    await router.stop();
  });
});
