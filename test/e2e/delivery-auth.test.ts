import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SubscriptionStatus } from '../../src/protocol/subscriptions.ts';
import {
  DELIVERY_SIGNATURE_HEADER,
  DELIVERY_TIMESTAMP_HEADER,
  deliveryEndpoint,
  deliverySignature,
  verifyDeliverySignature,
  type DeliveryBody,
} from '../../src/sdk/index.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { webhookViolation } from '../support/openapi-contract.ts';
import { produceGroups } from '../support/subscriptions.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';

const { kafka, admin: adminClient } = useKafkaAdmin();
const dir = mkdtempSync(join(tmpdir(), 'delivery-auth-'));
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const tokenFile = file('token', 'token-one\n');
const secretFile = file('secret', 'secret-one\n');

/** A CA and a certificate it signed for 127.0.0.1, made here with openssl as scripts/stack.sh --secure makes its own. */
function certificates(): { ca: string; key: Buffer; cert: Buffer } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=delivery-auth test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'app.key', '-out', 'app.csr', '-subj', '/CN=127.0.0.1');
  file('app.ext', 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'app.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'app.pem', '-days', '1', '-extfile', 'app.ext');
  return { ca: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'app.key')), cert: readFileSync(join(dir, 'app.pem')) };
}

interface Arrival {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
}

/**
 * The application: every request is recorded as it arrived (headers and raw bytes), then `/signed` goes through the
 * SDK's deliveryEndpoint, which verifies the signature against the secret the application holds now, and also
 * checks the bearer token it expects now; `/tls` acknowledges whatever reached it.
 */
const app = {
  token: 'token-one',
  secret: 'secret-one',
  arrivals: [] as Arrival[],
  accepted: [] as { path: string; body: DeliveryBody; headers: IncomingHttpHeaders }[],
};
async function handle(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  app.arrivals.push({ path: req.url ?? '', headers: req.headers, raw: raw.toString('utf8') });
  if (req.url === '/signed') {
    if (req.headers.authorization !== `Bearer ${app.token}`) return void res.writeHead(401).end('wrong bearer token');
    req.body = raw;
    const verified = deliveryEndpoint((body) => void app.accepted.push({ path: '/signed', body, headers: req.headers }), { signingSecret: app.secret });
    return verified(req, res);
  }
  app.accepted.push({ path: req.url ?? '', body: JSON.parse(raw.toString('utf8')) as DeliveryBody, headers: req.headers });
  res.writeHead(204).end();
}

const listen = async (server: Server, scheme: string): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

let httpServer: Server;
let httpsServer: Server;
let sidecar: SidecarProcess;
const topics = { signed: '', tls: '', untrusted: '' };
const names = { signed: `signed-${randomUUID().slice(0, 6)}`, tls: `tls-${randomUUID().slice(0, 6)}`, untrusted: `untrusted-${randomUUID().slice(0, 6)}` };

const status = async (): Promise<{ text: string; subscriptions: SubscriptionStatus[] }> => {
  const text = await (await fetch(`${sidecar.url}/v1/subscriptions`)).text();
  return { text, subscriptions: (JSON.parse(text) as { subscriptions: SubscriptionStatus[] }).subscriptions };
};
const statusOf = async (name: string): Promise<SubscriptionStatus> => (await status()).subscriptions.find((s) => s.name === name)!;
const accepted = (path: string) => app.accepted.filter((a) => a.path === path);

beforeAll(async () => {
  const tls = certificates();
  httpServer = createServer((req, res) => void handle(req, res));
  httpsServer = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => void handle(req, res));
  const [http, https] = [await listen(httpServer, 'http'), await listen(httpsServer, 'https')];
  for (const which of ['signed', 'tls', 'untrusted'] as const) topics[which] = await createTopic(adminClient, 1);
  const common = { on_exhausted: 'block', retry_backoff: '100ms', retry_backoff_max: '300ms', ack_timeout: '5s' };
  const subscriptions = [
    {
      ...common,
      name: names.signed,
      topic: topics.signed,
      consumer_group: names.signed,
      endpoint: `${http}/signed`,
      max_attempts: 1000,
      auth_token_file: tokenFile,
      signing_secret_file: secretFile,
    },
    { ...common, name: names.tls, topic: topics.tls, consumer_group: names.tls, endpoint: `${https}/tls`, endpoint_ca_file: tls.ca },
    { ...common, name: names.untrusted, topic: topics.untrusted, consumer_group: names.untrusted, endpoint: `${https}/untrusted`, max_attempts: 3 },
  ];
  sidecar = await spawnSidecar(testOptions(), {
    flags: ['--subscriptions-file', file('subscriptions.json', JSON.stringify({ subscriptions })), '--consume-commit-interval', '200ms'],
  });
}, 60_000);
afterAll(async () => {
  await sidecar?.stop();
  httpServer?.closeAllConnections();
  httpServer?.close();
  httpsServer?.closeAllConnections();
  httpsServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('authenticated deliveries (a sidecar process, real Kafka and Redis)', () => {
  it('carry the bearer token and a signature the SDK verifies; the request is the document’s delivery webhook', async () => {
    await produceGroups(kafka, topics.signed, ['g1'], 1, () => 0);
    await vi.waitUntil(() => accepted('/signed').length === 1, { timeout: 30_000, interval: 100 });
    const [delivery] = accepted('/signed');
    expect(delivery!.body.messages.map((m) => m.value)).toEqual(['g1:0']);
    expect(delivery!.headers.authorization).toBe('Bearer token-one');
    expect(delivery!.headers[DELIVERY_SIGNATURE_HEADER]).toMatch(/^v1=[0-9a-f]{64}$/);
    const arrival = app.arrivals.find((a) => a.path === '/signed')!;
    expect(webhookViolation('delivery', arrival.headers, arrival.raw)).toBeUndefined();
  });

  it('a tampered body or a stale timestamp is refused by the SDK', async () => {
    const arrival = app.arrivals.find((a) => a.path === '/signed')!;
    const timestamp = Number(arrival.headers[DELIVERY_TIMESTAMP_HEADER]);
    const body = Buffer.from(arrival.raw);
    const at = (seconds: number) => ({ secret: 'secret-one', now: () => seconds * 1000 });
    expect(verifyDeliverySignature(body, arrival.headers, at(timestamp + 299))).toEqual({ ok: true });
    expect(verifyDeliverySignature(body, arrival.headers, at(timestamp + 301))).toEqual({ ok: false, reason: 'timestamp outside the 300 s window' });
    const tampered = Buffer.from(arrival.raw.replace('g1:0', 'g1:9'));
    expect(verifyDeliverySignature(tampered, arrival.headers, at(timestamp))).toEqual({ ok: false, reason: 'signature mismatch' });
    expect(verifyDeliverySignature(body, arrival.headers, { ...at(timestamp), secret: 'secret-two' })).toEqual({ ok: false, reason: 'signature mismatch' });

    // The same refusals from the SDK's endpoint, over HTTP: nothing reaches the handler.
    const before = accepted('/signed').length;
    const post = (payload: string, headers: Record<string, string>) =>
      fetch(new URL('/signed', `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer token-one', ...headers },
        body: payload,
      });
    const signed = (ts: number, payload: string) => ({
      [DELIVERY_TIMESTAMP_HEADER]: String(ts),
      [DELIVERY_SIGNATURE_HEADER]: `v1=${deliverySignature('secret-one', String(ts), Buffer.from(payload))}`,
    });
    const tamperedAnswer = await post(tampered.toString(), signed(timestamp, arrival.raw));
    expect([tamperedAnswer.status, await tamperedAnswer.text()]).toEqual([401, 'signature mismatch']);
    const stale = Math.floor(Date.now() / 1000) - 600;
    const staleAnswer = await post(arrival.raw, signed(stale, arrival.raw));
    expect([staleAnswer.status, await staleAnswer.text()]).toEqual([401, 'timestamp outside the 300 s window']);
    expect((await post(arrival.raw, {})).status).toBe(401);
    expect(accepted('/signed').length).toBe(before);
    // A fresh, correct signature passes the same endpoint: the refusals above are the tampering and the age.
    expect((await post(arrival.raw, signed(Math.floor(Date.now() / 1000), arrival.raw))).status).toBe(204);
  });

  it('rotated token and secret files take effect without a restart', async () => {
    writeFileSync(tokenFile, 'token-two\n');
    writeFileSync(secretFile, 'secret-two\n');
    // From now on the application accepts only the new ones: deliveries with the old are refused and retried.
    app.token = 'token-two';
    app.secret = 'secret-two';
    const before = accepted('/signed').length;
    await produceGroups(kafka, topics.signed, ['g2'], 1, () => 0);
    await vi.waitUntil(() => accepted('/signed').length === before + 1, { timeout: 30_000, interval: 100 });
    const delivery = accepted('/signed').at(-1)!;
    expect(delivery.body.messages.map((m) => m.value)).toEqual(['g2:0']);
    expect(delivery.headers.authorization).toBe('Bearer token-two');
    expect(sidecar.child.exitCode).toBeNull();
    for (const field of ['auth_token_file', 'signing_secret_file'])
      expect(sidecar.logs.filter((line) => line.includes(`subscription ${names.signed} ${field}: the secret changed`))).toHaveLength(1);
  });

  it('an https endpoint is verified with endpoint_ca_file; without the CA nothing is delivered, the group is retried then blocked', async () => {
    await produceGroups(kafka, topics.tls, ['t1'], 1, () => 0);
    await produceGroups(kafka, topics.untrusted, ['u1'], 1, () => 0);
    await vi.waitUntil(() => accepted('/tls').length === 1, { timeout: 30_000, interval: 100 });
    expect(accepted('/tls')[0]!.body.messages.map((m) => m.value)).toEqual(['t1:0']);
    await vi.waitUntil(async () => (await statusOf(names.untrusted)).blocked_groups.length === 1, { timeout: 30_000, interval: 200 });
    const untrusted = await statusOf(names.untrusted);
    expect(untrusted.blocked_groups[0]).toMatchObject({
      group: 'u1',
      attempt: 3,
      error: expect.stringMatching(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/),
    });
    expect(untrusted.counts).toMatchObject({ delivered: 0, retried: 2 });
    expect(app.arrivals.filter((a) => a.path === '/untrusted')).toEqual([]);
  });

  it('listings show which authentication is set, never a secret or a file; no log line holds a secret', async () => {
    const { text, subscriptions } = await status();
    expect(Object.fromEntries(subscriptions.map((s) => [s.name, s.delivery_auth]))).toEqual({
      [names.signed]: { bearer_token: true, signature: true, endpoint_ca: false },
      [names.tls]: { bearer_token: false, signature: false, endpoint_ca: true },
      [names.untrusted]: { bearer_token: false, signature: false, endpoint_ca: false },
    });
    const secrets = ['token-one', 'token-two', 'secret-one', 'secret-two'];
    for (const secret of [...secrets, dir]) expect(text).not.toContain(secret);
    expect(sidecar.logs.filter((line) => secrets.some((secret) => line.includes(secret)))).toEqual([]);
  });
});
