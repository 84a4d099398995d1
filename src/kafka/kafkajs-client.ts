import { Kafka, logLevel as kafkaLogLevel, type KafkaConfig } from 'kafkajs';
import type { Logger } from '../logging/logger.ts';
import type { KafkaConnection } from './kafka-connection.ts';

/** Warnings about choices made on purpose: bounded retries are paired with producer replacement. */
const EXPECTED_KAFKAJS_WARNINGS = ['Limiting retries for the idempotent producer'];

/** kafkajs logs through ours, at warn and above, so broker trouble shows up in the same JSON stream. */
function kafkaLogCreator(log: Logger) {
  return () =>
    ({ level, log: entry }: { level: number; log: { message: string } & Record<string, unknown> }) => {
      const { message, timestamp: _t, logger: _l, ...fields } = entry;
      if (EXPECTED_KAFKAJS_WARNINGS.some((w) => message.startsWith(w))) return;
      // A client naming a topic that does not exist is a 404 for that client, not a broker problem.
      if (String(fields.error ?? '').includes('does not host this topic-partition')) {
        log.debug(`kafkajs: ${message}`, fields);
        return;
      }
      if (level <= kafkaLogLevel.ERROR) log.error(`kafkajs: ${message}`, fields);
      else if (level === kafkaLogLevel.WARN) log.warn(`kafkajs: ${message}`, fields);
    };
}

/**
 * A kafkajs client for the connection, logging through ours. The kafkajs producer engine and the consumer
 * (which stays on kafkajs for its rebalance semantics, docs/consumption.md) both start here, so a transport
 * setting of KafkaConnection is mapped for kafkajs in this one place.
 */
export function kafkajsClient(connection: KafkaConnection, log: Logger, tuning: Pick<KafkaConfig, 'retry' | 'requestTimeout'> = {}): Kafka {
  return new Kafka({
    clientId: connection.clientId,
    brokers: connection.brokers,
    logLevel: kafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(log),
    ...tuning,
  });
}
