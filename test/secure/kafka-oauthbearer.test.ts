import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/sdk/client.ts';
import { postJson } from '../support/http.ts';
import { useKafkaAdmin, consumeAll, createTopic } from '../support/kafka.ts';
import { expectGroupsIntact } from '../support/ordered-stream.ts';
import { readyzUntil, spawnSidecar, testKafkaClient, testOptions, waitUntilReady, type SidecarProcess } from '../support/sidecar.ts';

/**
 * Against `stack.sh up --secure`, whose SASL_SSL listener also takes OAUTHBEARER with Kafka's unsecured-JWS
 * validator: any unsigned JWT with a valid `sub` and `exp` is accepted, an expired one refused. The sidecar reads
 * its token from a file it does not own (as a workload-identity agent or a projected token delivers it), at every
 * authentication. Only @platformatic/kafka takes it (kafkajs cannot tell a refused token from a lost
 * connection): CI runs this project once per engine, and the kafkajs run checks the refusal at start.
 */
const { KAFKA_TLS_CA_FILE, KAFKA_SASL_PASSWORD } = process.env;
const secured = KAFKA_TLS_CA_FILE !== undefined && KAFKA_SASL_PASSWORD !== undefined;

/** An unsecured JWT (header alg "none", empty signature) for `sub`, expiring `lifetimeS` seconds from now (negative: already expired). */
function unsecuredJwt(sub: string, lifetimeS: number): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'none' })}.${part({ sub, iat: Math.min(now, now + lifetimeS - 60), exp: now + lifetimeS })}.`;
}

describe.runIf(secured)('SASL OAUTHBEARER with a token file', () => {
  const platformatic = testKafkaClient() === 'platformatic';
  let dir: string;
  let tokenFile: string;
  const { kafka, admin } = useKafkaAdmin();
  let running: SidecarProcess[] = [];
  const tokens: string[] = [];

  /** Writes the token file as an agent would (with the trailing newline many do); remembers the token to look for in logs. */
  const writeToken = (token: string): void => {
    tokens.push(token);
    writeFileSync(tokenFile, `${token}\n`);
  };

  /** A sidecar process on OAUTHBEARER: the stack's SCRAM username and password are taken out of its environment. */
  const spawnOauthSidecar = async (): Promise<SidecarProcess> => {
    const sidecar = await spawnSidecar(testOptions(), {
      env: {
        KAFKA_SASL_MECHANISM: 'oauthbearer',
        KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: tokenFile,
        KAFKA_SASL_USERNAME: undefined,
        KAFKA_SASL_PASSWORD: undefined,
        KAFKA_SASL_PASSWORD_FILE: undefined,
      },
    });
    running.push(sidecar);
    return sidecar;
  };

  const expectNoTokenLogged = (sidecar: SidecarProcess): void => {
    for (const line of sidecar.logs) for (const token of tokens) expect(line).not.toContain(token.split('.')[1]);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oauthbearer-'));
    tokenFile = join(dir, 'token');
  });
  afterEach(async () => {
    await Promise.all(running.map((s) => s.stop()));
    running = [];
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(platformatic)('produces ordered messages over OAUTHBEARER', async () => {
    writeToken(unsecuredJwt('app', 3600));
    const sidecar = await spawnOauthSidecar();
    await waitUntilReady(sidecar.url, 60_000);
    const topic = await createTopic(admin, 4);
    const client = new Client({ url: sidecar.url });
    const sent = new Map<string, number>();
    const perGroup = 25;
    await Promise.all(
      ['a', 'b', 'c', 'd', 'e', 'f'].map(async (g) => {
        const group = `oauth-${g}`;
        for (let seq = 0; seq < perGroup; seq++) {
          await client.orderedProducer().sendSingleOrderedMessage(topic, group, null, `${group}#${seq}`, { dedupId: `${group}#${seq}` });
          sent.set(group, seq + 1);
        }
      }),
    );
    await client.close();
    // Read back with the stack's SCRAM credentials: another principal sees what the OAUTHBEARER one wrote.
    expectGroupsIntact(await consumeAll(kafka, admin, topic), sent);
    // The route log (on by default) took every new group over OAUTHBEARER, and reads back over it too.
    const rebuilt = await postJson(`${sidecar.url}/admin/v1/topics/${topic}/rebuild`, {});
    expect([rebuilt.status, rebuilt.body]).toEqual([200, { topic, restored: 0 }]);
    expectNoTokenLogged(sidecar);
  });

  it.runIf(platformatic)('keeps a sidecar whose token is refused up and not ready, names authentication, and never logs the token', async () => {
    writeToken(unsecuredJwt('app', -60));
    const sidecar = await spawnOauthSidecar();
    const first = await readyzUntil(sidecar.url, (r) => r.kafka.cause !== undefined);
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ ready: false, kafka: { ok: false, cause: 'authentication failed' } });
    // Probed for a while, as kubelet would: still up, still the same cause, logged once.
    for (let i = 0; i < 8; i++) {
      const again = await readyzUntil(sidecar.url, () => true);
      expect(again.status).toBe(503);
      expect(again.body.kafka.cause).toBe('authentication failed');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(sidecar.child.exitCode).toBeNull();
    expect(
      sidecar.logs.filter((l) => l.includes('"Kafka authentication failed;')),
      sidecar.logs.join('\n'),
    ).toHaveLength(1);
    expectNoTokenLogged(sidecar);
  });

  it.runIf(platformatic)('authenticates with the rewritten token file at its next attempt, without a restart', async () => {
    writeToken(unsecuredJwt('app', -60));
    const sidecar = await spawnOauthSidecar();
    await readyzUntil(sidecar.url, (r) => r.kafka.cause === 'authentication failed');
    // The agent refreshes the token: the engine's next authentication (it keeps retrying) must read it.
    writeToken(unsecuredJwt('app', 3600));
    const ready = await readyzUntil(sidecar.url, (r) => r.ready);
    expect(ready.status).toBe(200);
    const topic = await createTopic(admin, 1);
    const { status, body } = await postJson(`${sidecar.url}/v1/ordered-produce`, {
      topic,
      messages: [{ message_group: 'refreshed', value: 'after the refresh' }],
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(sidecar.logs.filter((l) => l.includes('"Kafka authentication failed;'))).toHaveLength(1);
    expect(sidecar.child.exitCode).toBeNull();
    expectNoTokenLogged(sidecar);
  });

  it.runIf(platformatic)('re-authenticates a live connection with whatever token the file holds then', async () => {
    // stack.sh limits OAUTHBEARER sessions to 15 s: the engine must re-authenticate, reading the file again.
    writeToken(unsecuredJwt('app', 3600));
    const sidecar = await spawnOauthSidecar();
    await waitUntilReady(sidecar.url, 60_000);
    writeToken(unsecuredJwt('app', -60));
    const refused = await readyzUntil(sidecar.url, (r) => r.kafka.cause !== undefined);
    expect(refused.body.kafka.cause).toBe('authentication failed');
    writeToken(unsecuredJwt('app', 3600));
    expect((await readyzUntil(sidecar.url, (r) => r.ready)).status).toBe(200);
    expect(sidecar.child.exitCode).toBeNull();
    expectNoTokenLogged(sidecar);
  });

  it.runIf(!platformatic)('refuses to start on kafkajs, in one line', async () => {
    writeToken(unsecuredJwt('app', 3600));
    await expect(spawnOauthSidecar()).rejects.toThrow(
      /sidecar exited with 2:\nordered-sidecar: KAFKA_SASL_MECHANISM=oauthbearer needs KAFKA_CLIENT=platformatic [^\n]*$/,
    );
  });
});
