/**
 * How to reach the Kafka cluster. Every engine is built from this one object, so a transport setting
 * (TLS, SASL) is added here once and mapped by each engine's adapter, never threaded through the sidecar:
 * kafkajs-engine.ts passes it to `new Kafka(...)`, platformatic-engine.ts to `new Producer(...)` (#create).
 */
export interface KafkaConnection {
  /** Bootstrap servers, `host:port`. */
  brokers: string[];
  /** Client id, shown in broker logs and quotas. */
  clientId: string;
}

/** The connection settings within the sidecar's options. */
export const kafkaConnection = (options: { kafkaBrokers: string[]; kafkaClientId: string }): KafkaConnection => ({
  brokers: options.kafkaBrokers,
  clientId: options.kafkaClientId,
});
