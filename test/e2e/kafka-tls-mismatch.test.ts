import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readyzUntil, spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';

/**
 * TLS against the stack's plaintext listener: both clients only say "Cannot connect to any broker". The sidecar
 * asks the broker itself and names the mismatch in /readyz and once in the log. (Plaintext against a TLS
 * listener: test/secure/kafka-refusals.test.ts.)
 */
const plaintextStack = process.env.KAFKA_TLS_CA_FILE === undefined;

describe.runIf(plaintextStack)('KAFKA_TLS=true against a plaintext listener', () => {
  let sidecar: SidecarProcess;
  beforeAll(async () => {
    sidecar = await spawnSidecar(testOptions(), { flags: ['--kafka-tls', 'true'] });
  });
  afterAll(async () => {
    await sidecar?.stop();
  });

  it('is not ready, names the cause in /readyz, and logs it once', async () => {
    const cause = 'TLS to a plaintext listener';
    const readiness = await readyzUntil(sidecar.url, (r) => r.kafka.cause !== undefined);
    expect(readiness.status).toBe(503);
    expect(readiness.body).toMatchObject({ ready: false, kafka: { ok: false, cause } });
    expect(readiness.body.kafka.error).toContain('KAFKA_TLS');
    const again = await readyzUntil(sidecar.url, () => true);
    expect(again.body.kafka.cause).toBe(cause);
    expect(sidecar.logs.filter((l) => l.includes(`"Kafka ${cause};`))).toHaveLength(1);
  });
});
