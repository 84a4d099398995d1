import type { TestProject } from 'vitest/node';
import { startServices } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await startServices();
  console.log(`integration services from ${services.source}: kafka ${services.kafkaBrokers.join(',')}, redis ${services.redisUrl}`);
  project.provide('kafkaBrokers', services.kafkaBrokers);
  project.provide('redisUrl', services.redisUrl);
  return () => services.stop();
}
