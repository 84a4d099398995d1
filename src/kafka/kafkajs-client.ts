import { Kafka, logLevel as kafkaLogLevel, type KafkaConfig } from 'kafkajs';
import type { Logger } from '../logging/logger.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { reportRefusal, type KafkaConnectionProblem } from './connection-problem.ts';
import { kafkajsSecurity } from './kafka-security.ts';

/** kafkajs's words for a connection ending or failing, whatever the reason. */
const CONNECTION_NOISE = /Closed connection|Connection error|Connection timeout|Failed to connect/i;

/** Warnings about choices made on purpose: bounded retries are paired with producer replacement. */
const EXPECTED_KAFKAJS_WARNINGS = ['Limiting retries for the idempotent producer'];

/**
 * kafkajs logs through ours, at warn and above, so broker trouble shows up in the same JSON stream. Failures
 * an operator must fix (credentials, certificates) are logged once per cause, not at every retry.
 */
function kafkaLogCreator(log: Logger, problem: KafkaConnectionProblem) {
  return () =>
    ({ level, log: entry }: { level: number; log: { message: string } & Record<string, unknown> }) => {
      const { message, timestamp: _t, logger: _l, stack: _s, ...fields } = entry;
      if (EXPECTED_KAFKAJS_WARNINGS.some((w) => message.startsWith(w))) return;
      const detail = fields.error === undefined ? message : `${message}: ${String(fields.error)}`;
      if (level <= kafkaLogLevel.WARN && reportRefusal(problem, detail, log, { broker: fields.broker })) return;
      // The connection a refused login leaves behind is closed and retried: part of the failure just logged.
      if (problem.current && CONNECTION_NOISE.test(detail)) {
        log.debug(`kafkajs: ${message}`, fields);
        return;
      }
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
    ...kafkajsSecurity(connection.security),
    logLevel: kafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(log, connection.problem),
    ...tuning,
  });
}
