import type { SidecarOptions } from '../config/options.ts';
import { KafkaConnectionProblem } from './connection-problem.ts';
import { kafkaSecurity, type KafkaSecurity, type KafkaSecurityOptions } from './kafka-security.ts';

/**
 * How to reach the Kafka cluster. Every engine is built from this one object, so a transport setting
 * (TLS, SASL) is added here once and mapped by each engine's adapter, never threaded through the sidecar:
 * kafkajs-client.ts passes it to `new Kafka(...)`, platformatic-engine.ts to `new Producer(...)` (#create).
 */
export interface KafkaConnection {
  /** Bootstrap servers, `host:port`. */
  brokers: string[];
  /** Client id, shown in broker logs and quotas. */
  clientId: string;
  /** TLS and SASL (kafka-security.ts), engine-neutral. */
  security: KafkaSecurity;
  /** Where the engine reports a refusal an operator must fix (credentials, certificates): /readyz reads it. */
  problem: KafkaConnectionProblem;
}

/** The connection settings within the sidecar's options. */
export const kafkaConnection = (options: Pick<SidecarOptions, 'kafkaBrokers' | 'kafkaClientId'> & KafkaSecurityOptions): KafkaConnection => ({
  brokers: options.kafkaBrokers,
  clientId: options.kafkaClientId,
  security: kafkaSecurity(options),
  problem: new KafkaConnectionProblem(),
});
