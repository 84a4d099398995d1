import type { Logger } from '../logging/logger.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import type { KafkaClientName, KafkaEngine } from './kafka-engine.ts';
import { KafkajsEngine } from './kafkajs-engine.ts';
import { PlatformaticEngine } from './platformatic-engine.ts';

/** The engine named by `KAFKA_CLIENT`, bounded by the write deadline `writeTimeoutMs`. */
export function createKafkaEngine(name: KafkaClientName, connection: KafkaConnection, writeTimeoutMs: number, log: Logger): KafkaEngine {
  switch (name) {
    case 'kafkajs':
      return new KafkajsEngine(connection, writeTimeoutMs, log);
    case 'platformatic':
      return new PlatformaticEngine(connection, writeTimeoutMs, log);
  }
}
