import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { readyzUntil, spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';

/**
 * Against `stack.sh up --secure` (SASL_SSL with SCRAM-SHA-512 only): a sidecar with the wrong password or
 * the wrong CA stays up and not ready, says why, and logs it once; a client without TLS or without SASL is
 * refused by the secured port.
 */
const { KAFKA_TLS_CA_FILE, KAFKA_SASL_PASSWORD } = process.env;
const secured = KAFKA_TLS_CA_FILE !== undefined && KAFKA_SASL_PASSWORD !== undefined;

let running: SidecarProcess[] = [];
afterEach(async () => {
  await Promise.all(running.map((s) => s.stop()));
  running = [];
});

describe.runIf(secured)('a secured Kafka refuses what it should', () => {
  it.each([
    ['a wrong password', ['--kafka-sasl-password', 'not-the-password'], 'authentication failed'],
    [
      'a CA that did not sign the broker certificate',
      ['--kafka-tls-ca-file', join(dirname(KAFKA_TLS_CA_FILE ?? '/'), 'client.pem')],
      'TLS verification failed',
    ],
  ])('keeps a sidecar with %s up and not ready, naming the cause, logged once', async (_what, flags, cause) => {
    const sidecar = await spawnSidecar(testOptions(), { flags });
    running.push(sidecar);
    const first = await readyzUntil(sidecar.url, (r) => r.kafka.cause !== undefined);
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ ready: false, kafka: { ok: false, cause } });
    // Keep probing for a while, as kubelet would: the process stays up and the failure is not logged again.
    const probes = 12;
    for (let i = 0; i < probes; i++) {
      const again = await readyzUntil(sidecar.url, () => true);
      expect(again.status).toBe(503);
      expect(again.body.kafka.cause).toBe(cause);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(sidecar.child.exitCode).toBeNull();
    const causeLines = sidecar.logs.filter((l) => l.includes(`"Kafka ${cause};`));
    expect(causeLines, sidecar.logs.join('\n')).toHaveLength(1);
    const errorLines = sidecar.logs.filter((l) => l.includes('"level":"error"'));
    expect(errorLines, errorLines.join('\n')).toHaveLength(1);
    for (const line of sidecar.logs) {
      expect(line).not.toContain(KAFKA_SASL_PASSWORD);
      expect(line).not.toContain('not-the-password');
    }
  });

  it('names a sidecar without TLS against the TLS listener in /readyz and once in the log', async () => {
    const plaintext = Object.fromEntries(
      Object.keys(process.env)
        .filter((name) => /^KAFKA_(TLS|SASL)/.test(name))
        .map((name) => [name, undefined]),
    );
    const sidecar = await spawnSidecar(testOptions(), { env: plaintext });
    running.push(sidecar);
    const cause = 'plaintext to a TLS listener';
    const readiness = await readyzUntil(sidecar.url, (r) => r.kafka.cause !== undefined);
    expect(readiness.status).toBe(503);
    expect(readiness.body).toMatchObject({ ready: false, kafka: { ok: false, cause } });
    expect(readiness.body.kafka.error).toContain('KAFKA_TLS=true');
    expect(sidecar.logs.filter((l) => l.includes(`"Kafka ${cause};`))).toHaveLength(1);
  });

  it('refuses a PLAINTEXT client, and a TLS client without SASL, on the secured port', async () => {
    const attempt = async (config: Partial<ConstructorParameters<typeof Kafka>[0]>): Promise<unknown> => {
      const admin = new Kafka({
        clientId: 'refused',
        brokers: inject('kafkaBrokers'),
        logLevel: logLevel.NOTHING,
        connectionTimeout: 3000,
        requestTimeout: 3000,
        retry: { retries: 1 },
        ...config,
      }).admin();
      try {
        await admin.connect();
        return await admin.listTopics();
      } catch (err) {
        return err;
      } finally {
        await admin.disconnect();
      }
    };
    const plaintext = await attempt({});
    expect(plaintext).toBeInstanceOf(Error);
    const tlsOnly = await attempt({ ssl: { ca: [readFileSync(KAFKA_TLS_CA_FILE!)] } });
    expect(tlsOnly).toBeInstanceOf(Error);
  });
});
