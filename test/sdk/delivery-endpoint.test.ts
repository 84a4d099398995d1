import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { deliveryEndpoint, messageBytes, type DeliveryBody } from '../../src/sdk/index.ts';

const servers: Server[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/deliver`;
}

const body: DeliveryBody = {
  subscription: 's',
  topic: 't',
  partition: 0,
  message_group: 'g',
  attempt: 1,
  messages: [{ offset: '5', key: 'k', value: '//4=', value_encoding: 'base64', headers: {}, timestamp: '1' }],
};
const post = (url: string, payload: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });

describe('deliveryEndpoint', () => {
  it('answers 204 after the handler, 500 with its message when it throws, 400 for a body that is not a delivery (node:http)', async () => {
    const seen: DeliveryBody[] = [];
    let fail = false;
    const url = await listen(
      createServer(
        deliveryEndpoint(async (d) => {
          if (fail) throw new Error('database down');
          seen.push(d);
        }),
      ),
    );
    expect((await post(url, body)).status).toBe(204);
    expect(seen).toEqual([body]);
    expect(messageBytes(seen[0]!.messages[0]!)).toEqual({ key: Buffer.from('k'), value: Buffer.from([0xff, 0xfe]) });
    fail = true;
    const failed = await post(url, body);
    expect([failed.status, await failed.text()]).toEqual([500, 'database down']);
    expect((await post(url, { hello: 1 })).status).toBe(400);
  });

  it('works behind express.json() too', async () => {
    const seen: DeliveryBody[] = [];
    const app = express();
    app.post(
      '/deliver',
      express.json(),
      deliveryEndpoint((d) => void seen.push(d)),
    );
    const url = await listen(createServer(app));
    expect((await post(url, body)).status).toBe(204);
    expect(seen).toEqual([body]);
  });
});
