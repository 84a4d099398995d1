import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeliveredMessage, DeliveryBody } from '../protocol/delivery.ts';

/** A delivered message's key and value as bytes (decoded from UTF-8 text or base64), or null. */
export function messageBytes(message: DeliveredMessage): { key: Buffer | null; value: Buffer | null } {
  const decode = (text: string | null, encoding: 'base64' | undefined) => (text === null ? null : Buffer.from(text, encoding === 'base64' ? 'base64' : 'utf8'));
  return { key: decode(message.key, message.key_encoding), value: decode(message.value, message.value_encoding) };
}

/** What the application does with one delivery; throwing (or rejecting) makes the sidecar retry it. */
export type DeliveryHandler = (delivery: DeliveryBody) => void | Promise<void>;

export interface DeliveryEndpointOptions {
  /** Largest body read when the request was not parsed by a framework already. @defaultValue 64 MiB */
  maxBodyBytes?: number;
  /** Called with a handler's error before the non-2xx answer (for the application's own logs). */
  onError?: (err: unknown, delivery: DeliveryBody | undefined) => void;
}

const isDelivery = (body: unknown): body is DeliveryBody =>
  typeof body === 'object' && body !== null && Array.isArray((body as DeliveryBody).messages) && typeof (body as DeliveryBody).subscription === 'string';

function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`delivery body over ${limit} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

/**
 * Turns a handler into a correct delivery endpoint for `node:http` or express (`app.post('/deliver',
 * deliveryEndpoint(handler))`, with or without `express.json()` before it): 204 once the handler returned,
 * 500 with the error's message when it threw, 400 for a body that is not a delivery. Any non-2xx makes the
 * sidecar deliver the same messages again, so the handler should be idempotent per (topic, partition, offset).
 */
export function deliveryEndpoint(
  handler: DeliveryHandler,
  options: DeliveryEndpointOptions = {},
): (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => Promise<void> {
  const limit = options.maxBodyBytes ?? 64 * 1024 * 1024;
  return async (req, res) => {
    let delivery: DeliveryBody | undefined;
    try {
      const body = req.body !== undefined ? req.body : await readBody(req, limit);
      if (!isDelivery(body)) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('not a delivery body');
        return;
      }
      delivery = body;
      await handler(delivery);
      res.writeHead(204).end();
    } catch (err) {
      options.onError?.(err, delivery);
      if (!res.headersSent) res.writeHead(delivery ? 500 : 400, { 'content-type': 'text/plain' }).end(err instanceof Error ? err.message : String(err));
    }
  };
}
