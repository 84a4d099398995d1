/**
 * Where integration tests find Kafka and Redis. `.ci/run` (and `npm run stack -- up`) start real ones and
 * export KAFKA_BROKERS / REDIS_URL; with neither set and a Docker engine answering, testcontainers starts them.
 */
export interface TestServices {
  kafkaBrokers: string[];
  redisUrl: string;
  /** Seed nodes when the tests run against a Redis Cluster (`stack.sh up --redis-cluster`); else empty. */
  redisClusterNodes: string[];
  /** Sentinels and the master name when the tests run against `stack.sh up --redis-sentinel`; else empty. */
  redisSentinels: string[];
  redisSentinelMaster: string;
  source: 'environment' | 'testcontainers';
  stop(): Promise<void>;
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function startServices(env: NodeJS.ProcessEnv = process.env): Promise<TestServices> {
  const { KAFKA_BROKERS, REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS, REDIS_SENTINEL_MASTER } = env;
  if (KAFKA_BROKERS && (REDIS_URL || REDIS_CLUSTER_NODES || REDIS_SENTINELS)) {
    return {
      kafkaBrokers: KAFKA_BROKERS.split(','),
      redisUrl: REDIS_URL ?? '',
      redisClusterNodes: REDIS_CLUSTER_NODES ? REDIS_CLUSTER_NODES.split(',') : [],
      redisSentinels: REDIS_SENTINELS ? REDIS_SENTINELS.split(',') : [],
      redisSentinelMaster: REDIS_SENTINEL_MASTER ?? '',
      source: 'environment',
      stop: async () => {},
    };
  }
  if (!(await dockerAnswers())) {
    throw new Error(
      'integration tests need Kafka and Redis: run `npm run stack -- up && eval "$(npm run -s stack -- env)"` ' +
        '(real Kafka from Maven jars and a local Redis), or provide a Docker engine for testcontainers',
    );
  }
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const { RedisContainer } = await import('@testcontainers/redis');
  const [kafka, redis] = await Promise.all([
    new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().withEnvironment({ KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false' }).start(),
    new RedisContainer('redis:7.4').start(),
  ]);
  return {
    kafkaBrokers: [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`],
    redisUrl: redis.getConnectionUrl(),
    redisClusterNodes: [],
    redisSentinels: [],
    redisSentinelMaster: '',
    source: 'testcontainers',
    stop: async () => {
      await Promise.all([kafka.stop(), redis.stop()]);
    },
  };
}
