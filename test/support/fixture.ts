import { afterAll, beforeAll } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import type { SidecarOptions } from '../../src/config/options.ts';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { useKafkaAdmin } from './kafka.ts';
import { startTestSidecar } from './sidecar.ts';

export interface SidecarFixture {
  kafka: Kafka;
  admin: Admin;
  sidecar: RunningSidecar;
}

/**
 * One in-process sidecar and a Kafka admin client for a test file, started before its tests and closed
 * after them. The fields are set once `beforeAll` has run, so read them inside tests and hooks.
 */
export function useSidecar(overrides: Partial<SidecarOptions> = {}): SidecarFixture {
  const fixture = { ...useKafkaAdmin() } as SidecarFixture;
  beforeAll(async () => {
    fixture.sidecar = await startTestSidecar(overrides);
  });
  afterAll(async () => {
    await fixture.sidecar?.close();
  });
  return fixture;
}
