import type { TestProject } from 'vitest/node';
import { startServices } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    redisUrl: string;
    redisClusterNodes: string[];
    redisSentinels: string[];
    redisSentinelMaster: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await startServices();
  const redis = services.redisClusterNodes.length
    ? `cluster ${services.redisClusterNodes.join(',')}`
    : services.redisSentinels.length
      ? `sentinels ${services.redisSentinels.join(',')} (master ${services.redisSentinelMaster})`
      : services.redisUrl;
  console.log(`integration services from ${services.source}: kafka ${services.kafkaBrokers.join(',')}, redis ${redis}`);
  project.provide('kafkaBrokers', services.kafkaBrokers);
  project.provide('redisUrl', services.redisUrl);
  project.provide('redisClusterNodes', services.redisClusterNodes);
  project.provide('redisSentinels', services.redisSentinels);
  project.provide('redisSentinelMaster', services.redisSentinelMaster);
  return () => services.stop();
}
