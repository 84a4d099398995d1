import type { LoadsView, OverviewView } from '../protocol/admin.ts';
import { admin, readiness } from './api.ts';
import { loadsChart } from './chart.ts';
import { facts, h, replace, table } from './dom.ts';
import type { Page } from './page.ts';

/** /readyz's body (the fields the console shows). */
interface Readiness {
  ready: boolean;
  degraded: boolean;
  kafka: { ok: boolean; error?: string; cause?: string; client: string };
  redis: { ok: boolean; error?: string };
  subscriptions?: Array<{ name: string; ready: boolean; error?: string }>;
}

/** Topics charted at most; the rest are named, so a sidecar with hundreds of topics stays cheap to watch. */
const TOPICS_CHARTED = 20;

/** What keeps the sidecar from being ready, in words; empty when ready. */
function causes(r: Readiness): string[] {
  const out: string[] = [];
  if (!r.kafka.ok) out.push(`Kafka: ${r.kafka.cause ?? r.kafka.error ?? 'not connected'}${r.kafka.cause && r.kafka.error ? ` (${r.kafka.error})` : ''}`);
  if (!r.redis.ok) out.push(`Redis: ${r.redis.error ?? 'not connected'}`);
  if (r.degraded) out.push('degraded: routing without Redis (cached routes only)');
  for (const s of r.subscriptions ?? []) if (!s.ready) out.push(`subscription ${s.name}: ${s.error ?? 'not ready'}`);
  return out;
}

/** Messages per second between two readings of a counter. */
const rate = (now: number, before: number | undefined, seconds: number): string =>
  before === undefined || seconds <= 0 ? '…' : `${Math.max(0, (now - before) / seconds).toFixed(1)}/s`;

export function overviewPage(): Page {
  const sidecar = h('section', { 'aria-labelledby': 'sidecar-title' });
  const writes = h('section', { 'aria-labelledby': 'writes-title' });
  const topics = h('section', { 'aria-labelledby': 'topics-title' });
  const hot = h('section', { 'aria-labelledby': 'hot-title' });
  let last: { at: number; writes: OverviewView['kafka_writes'] } | undefined;

  return {
    title: 'Overview',
    mount: (main) => main.append(h('h2', {}, 'Overview'), sidecar, writes, topics, hot),
    async refresh() {
      const [overview, ready, topicList] = await Promise.all([
        admin<OverviewView>('GET', ['overview']),
        readiness<Readiness>(),
        admin<{ topics: string[] }>('GET', ['topics']),
      ]);
      const charted = topicList.topics.toSorted().slice(0, TOPICS_CHARTED);
      // One topic's failure (deleted from Kafka since it had mappings: 404) must not blank the whole page.
      const answers = await Promise.allSettled(charted.map((t) => admin<LoadsView>('GET', ['topics', t, 'loads'])));
      const loads = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
      const unread = charted.filter((_, i) => answers[i]!.status === 'rejected');

      const why = causes(ready);
      replace(
        sidecar,
        h('h3', { id: 'sidecar-title' }, 'Sidecar'),
        facts([
          ['Version', overview.version],
          ['Kafka engine', overview.kafka_client],
          ['Ready (/readyz)', ready.ready ? 'yes' : 'no'],
          ['Causes', why.length === 0 ? 'none' : h('ul', {}, ...why.map((c) => h('li', {}, c)))],
        ]),
      );

      const now = Date.now();
      const seconds = last === undefined ? 0 : (now - last.at) / 1000;
      const w = overview.kafka_writes;
      replace(
        writes,
        h('h3', { id: 'writes-title' }, 'Kafka writes (this replica, since start)'),
        facts([
          ['Messages written', `${w.messages_produced} (${rate(w.messages_produced, last?.writes.messages_produced, seconds)})`],
          ['Messages failed', `${w.messages_failed} (${rate(w.messages_failed, last?.writes.messages_failed, seconds)})`],
          ['Produce requests', `${w.produce_requests} (${rate(w.produce_requests, last?.writes.produce_requests, seconds)})`],
        ]),
      );
      last = { at: now, writes: w };

      replace(
        topics,
        h('h3', { id: 'topics-title' }, 'Topics'),
        topicList.topics.length === 0
          ? h('p', { class: 'muted' }, 'No topic has MessageGroup mappings yet.')
          : table(
              `Topics with mappings${topicList.topics.length > TOPICS_CHARTED ? ` (the first ${TOPICS_CHARTED} of ${topicList.topics.length})` : ''}`,
              ['Topic', '#Partitions', '#Mapped groups', '#Max−min', '#Deviation'],
              loads.map((l) => [l.topic, l.partitions.length, l.total, l.max_minus_min, l.deviation.toFixed(3)]),
            ),
        ...(unread.length === 0 ? [] : [h('p', { class: 'muted' }, `Loads not read (the topic may be gone from Kafka): ${unread.join(', ')}`)]),
        ...loads.map(loadsChart),
      );

      replace(
        hot,
        h('h3', { id: 'hot-title' }, 'Hot groups'),
        overview.hot_groups.length === 0
          ? h('p', { class: 'muted' }, 'No group holds a backlog on this replica.')
          : table(
              'Groups holding the most fetched, undelivered messages on this replica',
              ['Subscription', '#Partition', 'Group', '#Backlog'],
              overview.hot_groups.map((g) => [g.subscription, g.partition, g.group ?? '(no group)', g.backlog]),
            ),
      );
    },
  };
}
