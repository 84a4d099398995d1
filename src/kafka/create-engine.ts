import type { Logger } from '../logging/logger.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import type { KafkaClientName, KafkaEngine, ProducerSettings } from './kafka-engine.ts';
import type { LogTopicClient } from './log-topic-client.ts';

/**
 * The engine named by `KAFKA_CLIENT`. Only that engine's module (and its client library) is loaded: the
 * other one would only take memory in every sidecar.
 */
export async function createKafkaEngine(name: KafkaClientName, connection: KafkaConnection, settings: ProducerSettings, log: Logger): Promise<KafkaEngine> {
  switch (name) {
    case 'kafkajs': {
      const { KafkajsEngine } = await import('./kafkajs-engine.ts');
      return new KafkajsEngine(connection, settings, log);
    }
    case 'platformatic': {
      const { PlatformaticEngine } = await import('./platformatic-engine.ts');
      return new PlatformaticEngine(connection, settings, log);
    }
  }
}

/** The log client of the engine named by KAFKA_CLIENT; only that client library is loaded. */
export async function createLogTopicClient(name: KafkaClientName, connection: KafkaConnection, log: Logger): Promise<LogTopicClient> {
  switch (name) {
    case 'kafkajs': {
      const { KafkajsLogTopicClient } = await import('./kafkajs-log-topic.ts');
      return new KafkajsLogTopicClient(connection, log);
    }
    case 'platformatic': {
      const { PlatformaticLogTopicClient } = await import('./platformatic-log-topic.ts');
      return new PlatformaticLogTopicClient(connection);
    }
  }
}
