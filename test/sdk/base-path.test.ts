import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/sdk/index.ts';
import { endpointUrl } from '../../src/sdk/http.ts';
import { createTopic } from '../support/kafka.ts';
import { useSidecar } from '../support/fixture.ts';
import { readTopic, recordingLogger } from './records.ts';

const fx = useSidecar();
const PREFIX = '/gw/sidecar';
let gateway: Server;
let gatewayUrl: string;
const seen: string[] = [];

/** A reverse proxy that serves the sidecar under PREFIX only, as an ingress with a path rule would. */
beforeAll(async () => {
  gateway = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (!req.url!.startsWith(`${PREFIX}/`)) {
      res.statusCode = 404;
      res.end('no such path');
      return;
    }
    const target = new URL(req.url!.slice(PREFIX.length), fx.sidecar.url);
    const upstream = request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});

afterAll(async () => {
  gateway.closeAllConnections();
  await new Promise<void>((resolve) => gateway.close(() => resolve()));
});

describe('a sidecar URL with a base path', () => {
  it('resolves endpoints under the base path, with or without a trailing slash', () => {
    expect(endpointUrl('http://gw/sidecar', 'v1/api-versions')).toBe('http://gw/sidecar/v1/api-versions');
    expect(endpointUrl('http://gw/sidecar/', '/v1/ordered-produce')).toBe('http://gw/sidecar/v1/ordered-produce');
    expect(endpointUrl('http://gw', '/v1/ordered-produce')).toBe('http://gw/v1/ordered-produce');
  });

  it.each([PREFIX, `${PREFIX}/`])('sends through a gateway at %s', async (path) => {
    seen.length = 0;
    const topic = await createTopic(fx.admin, 1);
    const client = new Client({ url: `${gatewayUrl}${path}`, logger: recordingLogger() });
    const result = await client.orderedProducer().sendSingleOrderedMessage(topic, 'user-1', null, 'via gateway');
    expect(result).toMatchObject({ via: 'sidecar', successfulMessages: 1 });
    expect(seen).toEqual([`GET ${PREFIX}/v1/api-versions`, `POST ${PREFIX}/v1/ordered-produce`]);
    expect((await readTopic(fx.kafka, fx.admin, topic)).map((r) => r.value!.toString())).toEqual(['via gateway']);
    await client.close();
  });
});
