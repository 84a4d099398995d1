import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { BlockedStore } from './consume/blocked-store.ts';
import type { GroupLeaseStore } from './consume/group-lease-store.ts';
import type { SidecarOptions } from './config/options.ts';
import { ConsumeService } from './consume/consume-service.ts';
import { deadLetterRequest, missingDeadLetterTopics } from './consume/dead-letter.ts';
import type { Delivery } from './consume/delivery.ts';
import { EndpointClient } from './consume/endpoint-client.ts';
import { SubscriptionRunner } from './consume/subscription-runner.ts';
import { DeadLetterRejected } from './consume/dispatch-ports.ts';
import type { Subscription } from './consume/subscriptions.ts';
import { SidecarError, errorMessage } from './errors/sidecar-error.ts';
import { KafkajsConsumerEngine } from './kafka/consumer/kafkajs-consumer-engine.ts';
import { PlatformaticGroupAdmin } from './kafka/consumer/platformatic-group-admin.ts';
import { kafkaConnection } from './kafka/kafka-connection.ts';
import { kafkajsClient } from './kafka/kafkajs-client.ts';
import type { Logger } from './logging/logger.ts';
import { ConsumeMetrics, HOT_GROUPS } from './metrics/consume-metrics.ts';
import type { ProduceService } from './produce/produce-service.ts';

export interface ConsumptionDeps {
  subscriptions: Subscription[];
  produce: ProduceService;
  registry: Registry;
  /** Blocked groups that outlive a restart or a rebalance (Redis). */
  blocked: BlockedStore;
  /** Delivery leases: one replica at a time delivers a group (Redis). */
  leases: GroupLeaseStore;
  options: SidecarOptions;
  log: Logger;
}

/** Wires each subscription: kafkajs consumer, HTTP endpoint client, dead letters through the produce path, metrics. */
export function createConsumption({ subscriptions, produce, registry, blocked, leases, options, log }: ConsumptionDeps): {
  service: ConsumeService;
  close(): Promise<void>;
} {
  // The consumer stays on kafkajs whatever KAFKA_CLIENT says: it can hold a rebalance until in-flight
  // deliveries finish (docs/consumption.md), which @platformatic/kafka's consumer cannot.
  const kafka = kafkajsClient(kafkaConnection(options), log);
  const admin = kafka.admin();
  void admin.connect().then(
    () => warnMissingDeadLetterTopics(subscriptions, () => admin.listTopics(), log),
    (err: unknown) => log.warn('Kafka not reachable yet for consumption; will retry on demand', { err }),
  );
  const metrics = new ConsumeMetrics(registry, { groupNames: options.metricsGroupNames });
  const offsets = new PlatformaticGroupAdmin(kafkaConnection(options));
  const clients = new Map<string, EndpointClient>();
  // Names this process in lease owner ids: readable in Redis (host, pid), unique across restarts (uuid).
  const instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  // Called again for a subscription an admin stopped and starts: the endpoint client outlives its runners.
  const makeRunner = (subscription: Subscription): SubscriptionRunner => {
    const { name } = subscription;
    const client = clients.get(name) ?? new EndpointClient(subscription, log);
    clients.set(name, client);
    const where = (d: Delivery) => ({
      subscription: name,
      partition: d.partition,
      messageGroup: d.group,
      offsets: `${d.records[0]!.offset}..${d.records.at(-1)!.offset}`,
      attempt: d.attempt,
    });
    // Label children resolved once: these are touched on every delivery.
    const okDuration = metrics.deliveryDuration.labels({ subscription: name, outcome: 'ok' });
    const okAttempts = metrics.attempts.labels({ subscription: name, outcome: 'ok' });
    const delivered = metrics.messages.labels({ subscription: name, outcome: 'delivered' });
    const runner = new SubscriptionRunner({
      subscription,
      engine: new KafkajsConsumerEngine(kafka, admin, {
        topic: subscription.topic,
        groupId: subscription.consumerGroup,
        fromBeginning: subscription.startFrom === 'earliest',
        rebalanceTimeoutMs: Math.max(60_000, subscription.ackTimeoutMs + 30_000),
        sessionTimeoutMs: options.consumeSessionTimeoutMs,
      }),
      deliver: (d) => client.deliver(d),
      blocked,
      leases,
      instanceId,
      deadLetter: async (d, lastError) => {
        const request = deadLetterRequest(name, subscription.topic, subscription.deadLetterTopic!, d, lastError);
        let response;
        try {
          response = request.kind === 'ordered' ? await produce.ordered(request.body) : await produce.plain(request.body);
        } catch (err) {
          // A refusal that no retry can change (an oversized message, a group over MAX_GROUP_BYTES) blocks the group.
          if (err instanceof SidecarError && !err.retriable) throw new DeadLetterRejected(`${err.code}: ${err.message}`);
          throw err;
        }
        const failed = response.partition_errors[0];
        if (failed) {
          const message = `dead-letter write to ${subscription.deadLetterTopic} failed: ${failed.code} ${failed.error}`;
          throw failed.retriable ? new Error(message) : new DeadLetterRejected(message);
        }
      },
      observer: {
        delivered: (d, ms) => {
          okDuration.observe(ms / 1000);
          okAttempts.inc();
          delivered.inc(d.records.length);
        },
        failed: (d, error, retryIn) => {
          metrics.attempts.inc({ subscription: name, outcome: 'failed' });
          if (retryIn !== undefined) metrics.retries.inc({ subscription: name });
          log.debug('delivery failed', { ...where(d), error, retryInMs: retryIn });
        },
        deadLettered: (d, error) => {
          metrics.messages.inc({ subscription: name, outcome: 'dead_lettered' }, d.records.length);
          log.warn('delivery dead-lettered after max_attempts', { ...where(d), deadLetterTopic: subscription.deadLetterTopic, error });
        },
        deadLetterFailed: (d, err) => {
          metrics.deadLetterFailures.inc({ subscription: name });
          // A rejection no retry can change blocks the group (the `blocked` line follows); anything else is retried.
          const what =
            err instanceof DeadLetterRejected
              ? 'dead-letter write rejected for good; the group blocks'
              : 'dead-letter write failed; the group waits and it is tried again';
          log.error(what, { ...where(d), err: errorMessage(err) });
        },
        blocked: (d, error) => log.warn('MessageGroup blocked after max_attempts: retry or skip it through /admin/v1', { ...where(d), error }),
        skipped: (d) => {
          metrics.messages.inc({ subscription: name, outcome: 'skipped' }, d.records.length);
          log.warn('blocked head skipped by an admin', where(d));
        },
        leaseWait: (d, reason) => {
          metrics.leaseWaits.inc({ subscription: name, reason });
          log.debug("delivery put off: the group's lease is not this replica's now", { ...where(d), reason });
        },
      },
      limits: { trackedRecords: options.consumeBufferMessages, commitIntervalMs: options.consumeCommitIntervalMs },
      log,
    });
    return runner;
  };
  const replayLimits = {
    maxMessagesPerRequest: options.maxMessagesPerRequest,
    maxMessageBytes: options.maxMessageBytes,
    maxRequestBytes: options.maxBodyBytes,
  };
  const service = new ConsumeService({ subscriptions, makeRunner, offsets, produce, replayLimits, stopGraceMs: options.shutdownGraceMs });
  for (const { name } of subscriptions) {
    metrics.track(() => {
      const runner = service.runner(name);
      // Stopped by an admin: its partitions are another replica's now, and its last view of them is stale.
      if (runner.status().state === 'stopped')
        return {
          subscription: name,
          lag: new Map(),
          buffered: new Map(),
          tracked: new Map(),
          pausedPartitions: 0,
          inFlightGroups: 0,
          blockedGroups: 0,
          hotGroups: [],
        };
      return {
        subscription: name,
        lag: runner.lag(),
        buffered: runner.buffered(),
        tracked: runner.tracked(),
        pausedPartitions: runner.pausedPartitions(),
        inFlightGroups: runner.inFlightGroups,
        blockedGroups: runner.blockedGroups().length,
        hotGroups: runner.hotGroups(HOT_GROUPS),
      };
    });
  }
  return {
    service,
    close: async () => {
      clients.forEach((c) => c.close());
      await Promise.all([admin.disconnect(), offsets.close()]);
    },
  };
}

/** Said once at start; a list that cannot be read says nothing (the write's own refusal will, if it comes to that). */
async function warnMissingDeadLetterTopics(subscriptions: readonly Subscription[], listTopics: () => Promise<string[]>, log: Logger): Promise<void> {
  const topics = await listTopics().catch(() => undefined);
  if (!topics) return;
  for (const { name, deadLetterTopic } of missingDeadLetterTopics(subscriptions, new Set(topics))) {
    log.warn('dead-letter topic does not exist: a group that runs out of attempts will block (the write is refused) until it is created', {
      subscription: name,
      deadLetterTopic,
    });
  }
}
