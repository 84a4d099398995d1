import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/logging/logger.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';
import { LoadsRefresher, MISSING_TOPIC_RECHECK_MS, type LoadsStore } from '../../src/routing/load-refresher.ts';

/** Loads as Redis holds them, per topic: partition -> groups. */
class FakeLoads implements LoadsStore {
  readonly loadsOf = new Map<string, number[]>();
  async topics(): Promise<string[]> {
    return [...this.loadsOf.keys()];
  }
  async loads(topic: string, partitions: number): Promise<number[]> {
    return Array.from({ length: partitions }, (_, p) => this.loadsOf.get(topic)?.[p] ?? 0);
  }
  async mappedGroups(topic: string): Promise<number> {
    return (this.loadsOf.get(topic) ?? []).reduce((a, b) => a + b, 0);
  }
  async lastCleanupRun(): Promise<number | undefined> {
    return undefined;
  }
}

function setup(partitions: (topic: string) => Promise<number | undefined>, timeoutMs = 5000) {
  const store = new FakeLoads();
  const metrics = new SidecarMetrics(new Registry(), { defaultMetrics: false });
  const lines: string[] = [];
  const log = createLogger('debug', {}, (line) => void lines.push(line));
  const refresher = new LoadsRefresher(store, partitions, { loadsRefreshMs: 60_000, loadsRefreshTimeoutMs: timeoutMs }, metrics, log);
  const value = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
    const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === `ordered_sidecar_${name}`);
    return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
  };
  return { store, metrics, lines, refresher, value };
}

describe('the loads refresh', () => {
  it('shows every topic, and the mapped groups alone of a topic Kafka does not have, logged and counted once', async () => {
    const asked: string[] = [];
    const { store, lines, refresher, value, metrics } = setup(async (topic) => {
      asked.push(topic);
      return topic === 'gone' ? undefined : 3;
    });
    store.loadsOf.set('live', [2, 1, 0]);
    store.loadsOf.set('gone', [4, 5]);
    await refresher.refresh();
    await refresher.refresh();
    expect(await value('partition_loads', { topic: 'live', partition: '0' })).toBe(2);
    expect(await value('total_mapped_groups', { topic: 'live' })).toBe(3);
    expect(await value('total_mapped_groups', { topic: 'gone' })).toBe(9);
    expect(await value('partition_loads', { topic: 'gone' })).toBeUndefined();
    expect(await value('loads_missing_topics')).toBe(1);
    expect(await value('loads_missing_topics_found_total')).toBe(1);
    expect(lines.filter((l) => l.includes('does not exist in Kafka'))).toHaveLength(1);
    // Kafka is asked about the missing topic once, not at every refresh.
    expect(asked.filter((t) => t === 'gone')).toHaveLength(1);
    expect(asked.filter((t) => t === 'live')).toHaveLength(2);

    // Once cleanup has removed its mappings (and the topic from the list), its series go.
    store.loadsOf.delete('gone');
    await refresher.refresh();
    expect(await value('total_mapped_groups', { topic: 'gone' })).toBeUndefined();
    expect(await value('loads_missing_topics')).toBe(0);
    expect(metrics.registry.getSingleMetric('ordered_sidecar_loads_refreshed_timestamp_seconds')).toBeDefined();
    expect(await value('loads_refreshed_timestamp_seconds')).toBeGreaterThan(0);
  });

  it('asks Kafka again about a missing topic after the recheck interval', async () => {
    let now = 1_000_000;
    const realNow = Date.now;
    Date.now = () => now;
    try {
      let exists = false;
      const { store, refresher, value, lines } = setup(async () => (exists ? 2 : undefined));
      store.loadsOf.set('t', [1, 1]);
      await refresher.refresh();
      expect(await value('loads_missing_topics')).toBe(1);
      exists = true;
      now += MISSING_TOPIC_RECHECK_MS - 1;
      await refresher.refresh();
      expect(await value('loads_missing_topics')).toBe(1);
      now += 1;
      await refresher.refresh();
      expect(await value('loads_missing_topics')).toBe(0);
      expect(await value('partition_loads', { topic: 't', partition: '1' })).toBe(1);
      expect(lines.filter((l) => l.includes('exists in Kafka again'))).toHaveLength(1);
    } finally {
      Date.now = realNow;
    }
  });

  it('ends by its deadline with a topic whose partition count never comes, showing the others; no second read piles up', async () => {
    let release: (partitions: number) => void = () => undefined;
    const stuck = new Promise<number>((resolve) => (release = resolve));
    let stuckAsks = 0;
    const { store, refresher, value } = setup(async (topic) => {
      if (topic !== 'slow') return 1;
      stuckAsks++;
      return stuck;
    }, 100);
    store.loadsOf.set('slow', [7]);
    for (let i = 0; i < 20; i++) store.loadsOf.set(`t${i}`, [i]);
    const started = performance.now();
    await refresher.refresh();
    expect(performance.now() - started).toBeLessThan(5000);
    expect(await value('partition_loads', { topic: 't19', partition: '0' })).toBe(19);
    expect(await value('partition_loads', { topic: 'slow', partition: '0' })).toBeUndefined();
    expect(await value('loads_refresh_failures_total')).toBe(1);
    // The late read is still out: a refresh now does not ask again.
    await refresher.refresh();
    expect(stuckAsks).toBe(1);
    release(1);
    await refresher.stop();
    expect(await value('partition_loads', { topic: 'slow', partition: '0' })).toBe(7);
  });

  it('reads topics in parallel, a bounded number at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    const { store, refresher } = setup(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => gates.push(resolve));
      inFlight--;
      return 1;
    });
    for (let i = 0; i < 30; i++) store.loadsOf.set(`t${i}`, [1]);
    const done = refresher.refresh();
    // Open the gates as reads arrive, until every topic was read.
    let opened = 0;
    while (opened < 30) {
      await new Promise((resolve) => setImmediate(resolve));
      for (const open of gates.splice(0)) {
        open();
        opened++;
      }
    }
    await done;
    expect(most).toBe(8);
  });
});
