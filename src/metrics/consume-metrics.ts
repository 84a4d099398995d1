import { createHash } from 'node:crypto';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const PREFIX = 'ordered_sidecar_consume_';
const DELIVERY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Hot groups exported per subscription: a fixed top, so group names cannot grow the series count. */
export const HOT_GROUPS = 10;
/** MessageGroup label values are cut to this many characters. */
const GROUP_LABEL_CHARS = 64;

/**
 * How MessageGroup names appear as label values (METRICS_GROUP_NAMES): they may be customer ids. `hash` shows
 * the first 16 hex digits of their SHA-256 (the same on every replica, so a group can be followed; not a
 * secret against someone who can guess ids), `off` an empty value.
 */
export type MetricsGroupNames = 'plain' | 'hash' | 'off';

export function groupLabel(group: string | null, shown: MetricsGroupNames): string {
  if (group === null || shown === 'off') return '';
  return shown === 'hash' ? createHash('sha256').update(group).digest('hex').slice(0, 16) : group.slice(0, GROUP_LABEL_CHARS);
}

export interface HotGroup {
  partition: number;
  group: string | null;
  backlog: number;
}

/** What a subscription reports when Prometheus scrapes. */
export interface ConsumeGauges {
  subscription: string;
  lag: Map<number, bigint>;
  /** Fetched messages not yet done, per partition. */
  buffered: Map<number, number>;
  /** Offsets held from the commit point on (done ones behind an unfinished one included), per partition. */
  tracked: Map<number, number>;
  /** Partitions whose fetching is paused because they track too many records. */
  pausedPartitions: number;
  inFlightGroups: number;
  blockedGroups: number;
  hotGroups: HotGroup[];
}

/** Metrics of ordered consumption (docs/consumption.md lists them), on the sidecar's registry. */
export class ConsumeMetrics {
  readonly deliveryDuration: Histogram<'subscription' | 'outcome'>;
  readonly attempts: Counter<'subscription' | 'outcome'>;
  readonly retries: Counter<'subscription'>;
  readonly messages: Counter<'subscription' | 'outcome'>;
  readonly deadLetterFailures: Counter<'subscription'>;
  readonly leaseWaits: Counter<'subscription' | 'reason'>;
  readonly lag: Gauge<'subscription' | 'partition'>;
  readonly buffered: Gauge<'subscription' | 'partition'>;
  readonly tracked: Gauge<'subscription' | 'partition'>;
  readonly pausedPartitions: Gauge<'subscription'>;
  readonly inFlightGroups: Gauge<'subscription'>;
  readonly blockedGroups: Gauge<'subscription'>;
  readonly hotGroupBacklog: Gauge<'subscription' | 'rank' | 'partition' | 'message_group'>;
  readonly #sources: Array<() => ConsumeGauges> = [];

  constructor(registry: Registry, { groupNames = 'plain' }: { groupNames?: MetricsGroupNames } = {}) {
    const sources = this.#sources;
    const registers = [registry];
    this.deliveryDuration = new Histogram({
      name: `${PREFIX}delivery_duration_seconds`,
      help: "Time from POST to the endpoint's answer, per attempt.",
      labelNames: ['subscription', 'outcome'],
      buckets: DELIVERY_BUCKETS,
      registers,
    });
    this.attempts = new Counter({
      name: `${PREFIX}delivery_attempts_total`,
      help: 'Delivery attempts by outcome (ok, failed).',
      labelNames: ['subscription', 'outcome'],
      registers,
    });
    this.leaseWaits = new Counter({
      name: `${PREFIX}lease_waits_total`,
      help: "Deliveries put off because another replica held the group's lease (held_elsewhere), Redis was unreachable (store_unreachable) or answered with an error (store_failed).",
      labelNames: ['subscription', 'reason'],
      registers,
    });
    this.retries = new Counter({ name: `${PREFIX}retries_total`, help: 'Failed attempts that will be tried again.', labelNames: ['subscription'], registers });
    this.messages = new Counter({
      name: `${PREFIX}messages_total`,
      help: 'Messages done, by outcome (delivered, dead_lettered, skipped).',
      labelNames: ['subscription', 'outcome'],
      registers,
    });
    this.deadLetterFailures = new Counter({
      name: `${PREFIX}dead_letter_failures_total`,
      help: 'Dead-letter writes that failed (they are tried again).',
      labelNames: ['subscription'],
      registers,
    });
    // The gauges below are rebuilt at each scrape from the subscriptions' current state: partitions move
    // between replicas and hot groups change, so no stale series may linger.
    const each = (gauge: Gauge<string>, read: (now: ConsumeGauges) => Array<[Record<string, string>, number]>): void => {
      gauge.reset();
      for (const source of sources) {
        const now = source();
        for (const [labels, value] of read(now)) gauge.set({ subscription: now.subscription, ...labels }, value);
      }
    };
    this.lag = new Gauge({
      name: `${PREFIX}lag_messages`,
      help: 'Per assigned partition: log end offset minus the offset to commit.',
      labelNames: ['subscription', 'partition'],
      registers,
      collect() {
        each(this, (now) => [...now.lag].map(([partition, lag]) => [{ partition: String(partition) }, Number(lag)]));
      },
    });
    this.buffered = new Gauge({
      name: `${PREFIX}buffered_messages`,
      help: 'Per assigned partition: fetched messages not yet delivered, dead-lettered or skipped.',
      labelNames: ['subscription', 'partition'],
      registers,
      collect() {
        each(this, (now) => [...now.buffered].map(([partition, n]) => [{ partition: String(partition) }, n]));
      },
    });
    this.tracked = new Gauge({
      name: `${PREFIX}tracked_records`,
      help: 'Per assigned partition: offsets held from the commit point on, done ones behind an unfinished one included (bounded by CONSUME_BUFFER_MESSAGES).',
      labelNames: ['subscription', 'partition'],
      registers,
      collect() {
        each(this, (now) => [...now.tracked].map(([partition, n]) => [{ partition: String(partition) }, n]));
      },
    });
    this.pausedPartitions = new Gauge({
      name: `${PREFIX}paused_partitions`,
      help: 'Partitions whose fetching is paused: they track CONSUME_BUFFER_MESSAGES records behind an unfinished one (a blocked group).',
      labelNames: ['subscription'],
      registers,
      collect() {
        each(this, (now) => [[{}, now.pausedPartitions]]);
      },
    });
    this.inFlightGroups = new Gauge({
      name: `${PREFIX}in_flight_groups`,
      help: 'MessageGroups with a delivery in flight.',
      labelNames: ['subscription'],
      registers,
      collect() {
        each(this, (now) => [[{}, now.inFlightGroups]]);
      },
    });
    this.blockedGroups = new Gauge({
      name: `${PREFIX}blocked_groups`,
      help: 'MessageGroups blocked after max_attempts, waiting for an admin retry or skip.',
      labelNames: ['subscription'],
      registers,
      collect() {
        each(this, (now) => [[{}, now.blockedGroups]]);
      },
    });
    this.hotGroupBacklog = new Gauge({
      name: `${PREFIX}hot_group_backlog_messages`,
      help: `The ${HOT_GROUPS} MessageGroups holding the most fetched, undelivered messages, per subscription.`,
      labelNames: ['subscription', 'rank', 'partition', 'message_group'],
      registers,
      collect() {
        each(this, (now) =>
          now.hotGroups.map((g, i) => [{ rank: String(i + 1), partition: String(g.partition), message_group: groupLabel(g.group, groupNames) }, g.backlog]),
        );
      },
    });
  }

  /** Adds a subscription whose gauges are read at each scrape. */
  track(source: () => ConsumeGauges): void {
    this.#sources.push(source);
  }
}
