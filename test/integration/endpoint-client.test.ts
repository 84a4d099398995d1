import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EndpointClient } from '../../src/consume/endpoint-client.ts';
import type { Delivery } from '../../src/consume/delivery.ts';
import { parseSubscriptions } from '../../src/consume/subscriptions.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { freePort } from '../support/ports.ts';

const delivery: Delivery = {
  partition: 1,
  group: 'g',
  attempt: 1,
  records: [{ offset: 7n, key: null, value: Buffer.from('hi'), headers: {}, timestamp: '1' }],
};
const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function endpoint(handle: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const sockets = new Set<unknown>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handle(req, body, res));
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  cleanups.push(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/deliver`, sockets };
}

const client = (url: string, ackTimeout = '30s') => {
  const [sub] = parseSubscriptions({
    subscriptions: [{ name: 's', topic: 't', consumer_group: 'c', endpoint: url, on_exhausted: 'block', ack_timeout: ackTimeout }],
  });
  const c = new EndpointClient(sub!, createLogger('warn', { test: true }));
  cleanups.push(() => c.close());
  return c;
};

describe('EndpointClient', () => {
  it('POSTs the delivery body as JSON over one kept-alive connection, and a 2xx acknowledges', async () => {
    const bodies: unknown[] = [];
    const ep = await endpoint((req, body, res) => {
      bodies.push({ type: req.headers['content-type'], body: JSON.parse(body) });
      res.writeHead(204).end();
    });
    const c = client(ep.url);
    expect(await c.deliver(delivery)).toEqual({ ok: true });
    expect(await c.deliver({ ...delivery, attempt: 2 })).toEqual({ ok: true });
    expect(bodies[0]).toEqual({
      type: 'application/json',
      body: {
        subscription: 's',
        topic: 't',
        partition: 1,
        message_group: 'g',
        attempt: 1,
        messages: [{ offset: '7', key: null, value: 'hi', headers: {}, timestamp: '1' }],
      },
    });
    expect(ep.sockets.size).toBe(1);
  });

  it('reports a non-2xx status with its text and Retry-After', async () => {
    const ep = await endpoint((_req, _body, res) => res.writeHead(503, { 'retry-after': '2' }).end('busy, come back'));
    expect(await client(ep.url).deliver(delivery)).toEqual({ ok: false, error: 'HTTP 503: busy, come back', retryAfterMs: 2000 });
  });

  it('reports no answer within ack_timeout, and a refused connection', async () => {
    const ep = await endpoint(() => undefined);
    expect(await client(ep.url, '200ms').deliver(delivery)).toEqual({ ok: false, error: 'no answer within ack_timeout (200 ms)' });
    const refused = await client(`http://127.0.0.1:${await freePort()}/`).deliver(delivery);
    expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(/^ECONNREFUSED/) });
  });

  it('takes a 2xx whose body never ends for no acknowledgement, and says the body is what did not come', async () => {
    const ep = await endpoint((_req, _body, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('x');
    });
    expect(await client(ep.url, '1s').deliver(delivery)).toEqual({
      ok: false,
      error: 'HTTP 200 answered, but its body did not end within ack_timeout (1000 ms)',
    });
  });
});
