import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DELIVERY_SIGNATURE_HEADER,
  DELIVERY_TIMESTAMP_HEADER,
  deliveryEndpoint,
  deliverySignature,
  messageBytes,
  type DeliveryBody,
} from '../../src/sdk/index.ts';

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

  it('answers 500 when the handler throws, even when onError throws too', async () => {
    const reported: unknown[] = [];
    const url = await listen(
      createServer(
        deliveryEndpoint(
          () => {
            throw new Error('database down');
          },
          {
            onError: (err) => {
              reported.push(err);
              throw new Error('the error reporter is down too');
            },
          },
        ),
      ),
    );
    const failed = await post(url, body);
    expect([failed.status, await failed.text()]).toEqual([500, 'database down']);
    expect(reported).toMatchObject([{ message: 'database down' }]);
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

  describe('with signingSecret', () => {
    const text = JSON.stringify(body);
    const now = () => String(Math.floor(Date.now() / 1000));
    const sign = (secret: string, timestamp = now()) => ({
      [DELIVERY_TIMESTAMP_HEADER]: timestamp,
      [DELIVERY_SIGNATURE_HEADER]: `v1=${deliverySignature(secret, timestamp, Buffer.from(text))}`,
    });
    const postSigned = (url: string, headers: Record<string, string>, payload = text) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
    const answer = async (r: Response) => [r.status, await r.text()];

    it('passes a signed delivery to the handler and answers 401 to anything else, which never reaches it (node:http)', async () => {
      const seen: DeliveryBody[] = [];
      const url = await listen(createServer(deliveryEndpoint((d) => void seen.push(d), { signingSecret: ['old', 'new'] })));
      expect((await postSigned(url, sign('new'))).status).toBe(204);
      expect((await postSigned(url, sign('old'))).status).toBe(204);
      expect(await answer(await postSigned(url, sign('other')))).toEqual([401, 'signature mismatch']);
      expect(await answer(await postSigned(url, sign('new'), text.replace('"k"', '"K"')))).toEqual([401, 'signature mismatch']);
      expect(await answer(await postSigned(url, sign('new', String(Number(now()) - 301))))).toEqual([401, 'timestamp outside the 300 s window']);
      expect((await post(url, body)).status).toBe(401);
      expect(seen).toEqual([body, body]);
    });

    it('takes signatureToleranceSeconds and a secret read at each request', async () => {
      let secret = 'one';
      const url = await listen(createServer(deliveryEndpoint(() => undefined, { signingSecret: () => secret, signatureToleranceSeconds: 1000 })));
      expect((await postSigned(url, sign('one', String(Number(now()) - 900)))).status).toBe(204);
      secret = 'two';
      expect((await postSigned(url, sign('one'))).status).toBe(401);
      expect((await postSigned(url, sign('two'))).status).toBe(204);
    });

    it('an empty secret or list, or a window that is not a finite number, 0 or more, throws when the endpoint is made', () => {
      for (const signingSecret of ['', [], ['k', '']])
        expect(() => deliveryEndpoint(() => undefined, { signingSecret }), JSON.stringify(signingSecret)).toThrow(TypeError);
      expect(() => deliveryEndpoint(() => undefined, { signingSecret: '' })).toThrow(/deliveryEndpoint: signingSecret: a signing secret is empty/);
      for (const signatureToleranceSeconds of [Number.NaN, Number.POSITIVE_INFINITY, -5])
        expect(() => deliveryEndpoint(() => undefined, { signingSecret: 'k', signatureToleranceSeconds }), String(signatureToleranceSeconds)).toThrow(
          RangeError,
        );
      expect(() => deliveryEndpoint(() => undefined, { signingSecret: 'k', signatureToleranceSeconds: Number(undefined) })).toThrow(
        /signatureToleranceSeconds must be a finite number of seconds, 0 or more, got NaN/,
      );
      // Without a secret too: a bad setting is a mistake either way.
      expect(() => deliveryEndpoint(() => undefined, { signatureToleranceSeconds: Number.NaN })).toThrow(RangeError);
      expect(() => deliveryEndpoint(() => undefined, { signingSecret: 'k', signatureToleranceSeconds: 0 })).not.toThrow();
    });

    it('a secret function returning an empty secret or list: 401 for that request, never verified against it', async () => {
      let secret: string | string[] = '';
      const seen: DeliveryBody[] = [];
      const url = await listen(createServer(deliveryEndpoint((d) => void seen.push(d), { signingSecret: () => secret })));
      // Signed with the empty key, as anyone could.
      expect(await answer(await postSigned(url, sign('')))).toEqual([401, 'no usable signing secret: a signing secret is empty (anyone could sign with it)']);
      secret = [];
      expect(await answer(await postSigned(url, sign('')))).toEqual([401, 'no usable signing secret: the list of signing secrets is empty']);
      secret = ['k', ''];
      expect((await postSigned(url, sign(''))).status).toBe(401);
      expect(seen).toEqual([]);
      secret = 'k';
      expect((await postSigned(url, sign('k'))).status).toBe(204);
      expect(seen).toEqual([body]);
    });

    it('behind express.raw() verifies the raw bytes; behind express.json() says it cannot verify, with 500', async () => {
      const app = express();
      const seen: DeliveryBody[] = [];
      app.post(
        '/raw/deliver',
        express.raw({ type: 'application/json' }),
        deliveryEndpoint((d) => void seen.push(d), { signingSecret: 'k' }),
      );
      app.post(
        '/json/deliver',
        express.json(),
        deliveryEndpoint((d) => void seen.push(d), { signingSecret: 'k' }),
      );
      const url = await listen(createServer(app));
      expect((await postSigned(url.replace('/deliver', '/raw/deliver'), sign('k'))).status).toBe(204);
      expect(seen).toEqual([body]);
      const [status, message] = await answer(await postSigned(url.replace('/deliver', '/json/deliver'), sign('k')));
      expect([status, message]).toEqual([500, expect.stringContaining('mount it without express.json()')]);
      expect(seen).toHaveLength(1);
    });
  });
});
