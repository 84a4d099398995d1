import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeliveredMessage, DeliveryBody } from '../protocol/delivery.ts';
import { checkToleranceSeconds, signingSecrets, verifyDeliverySignature, type SignatureOptions } from './delivery-signature.ts';

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
  /**
   * The subscription's signing secret (its `signing_secret_file`), or several during a rotation, or a function
   * read at each request. When set, a delivery whose signature does not verify, or whose timestamp is outside
   * `signatureToleranceSeconds`, is answered 401 and never reaches the handler. An empty secret or list (or one
   * holding an empty string) throws when the endpoint is made; a function returning one gets that request
   * answered 401, unverified. @defaultValue unset: not checked
   */
  signingSecret?: SignatureOptions['secret'] | (() => SignatureOptions['secret']);
  /**
   * How far the signed timestamp may be from this machine's clock, either way: a finite number, 0 or more
   * (anything else throws when the endpoint is made). @defaultValue 300
   */
  signatureToleranceSeconds?: number;
}

const isDelivery = (body: unknown): body is DeliveryBody =>
  typeof body === 'object' && body !== null && Array.isArray((body as DeliveryBody).messages) && typeof (body as DeliveryBody).subscription === 'string';

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
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
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A signature is over the bytes sent: a body a framework already parsed into an object cannot be checked. */
class UnverifiableBody extends Error {
  override name = 'UnverifiableBody';
}

/** The raw bytes: from the request itself, or as `express.raw()` / `express.text()` left them. */
async function rawBody(req: IncomingMessage & { body?: unknown }, limit: number): Promise<Buffer> {
  if (req.body === undefined) return readBody(req, limit);
  if (Buffer.isBuffer(req.body)) return req.body;
  if (typeof req.body === 'string') return Buffer.from(req.body, 'utf8');
  throw new UnverifiableBody(
    'cannot verify the delivery signature: the body was parsed before deliveryEndpoint; mount it without express.json() (or after express.raw({ type: "application/json" }))',
  );
}

/**
 * Turns a handler into a correct delivery endpoint for `node:http` or express (`app.post('/deliver',
 * deliveryEndpoint(handler))`, with or without `express.json()` before it): 204 once the handler returned,
 * 500 with the error's message when it threw, 400 for a body that is not a delivery, 401 for a signature that
 * does not verify (with `signingSecret`, which needs the raw body: no `express.json()` then). Any non-2xx makes the
 * sidecar deliver the same messages again, so the handler should be idempotent per (topic, partition, offset).
 */
export function deliveryEndpoint(
  handler: DeliveryHandler,
  options: DeliveryEndpointOptions = {},
): (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => Promise<void> {
  const limit = options.maxBodyBytes ?? 64 * 1024 * 1024;
  if (options.signatureToleranceSeconds !== undefined) checkToleranceSeconds(options.signatureToleranceSeconds, 'deliveryEndpoint: signatureToleranceSeconds');
  if (options.signingSecret !== undefined && typeof options.signingSecret !== 'function') {
    const usable = signingSecrets(options.signingSecret);
    if ('problem' in usable) throw new TypeError(`deliveryEndpoint: signingSecret: ${usable.problem}`);
  }
  return async (req, res) => {
    let delivery: DeliveryBody | undefined;
    try {
      const parsedBefore = req.body !== undefined && !Buffer.isBuffer(req.body) && typeof req.body !== 'string';
      const raw = parsedBefore && options.signingSecret === undefined ? undefined : await rawBody(req, limit);
      if (raw !== undefined && options.signingSecret !== undefined) {
        const secret = typeof options.signingSecret === 'function' ? options.signingSecret() : options.signingSecret;
        // A function's secret is read now: an empty one (a file not yet written, say) refuses the request.
        const usable = signingSecrets(secret);
        if ('problem' in usable) {
          res.writeHead(401, { 'content-type': 'text/plain' }).end(`no usable signing secret: ${usable.problem}`);
          return;
        }
        const verdict = verifyDeliverySignature(raw, req.headers, { secret: usable.secrets, ...tolerance(options) });
        if (!verdict.ok) {
          res.writeHead(401, { 'content-type': 'text/plain' }).end(verdict.reason);
          return;
        }
      }
      const body: unknown = raw === undefined ? req.body : JSON.parse(raw.toString('utf8'));
      if (!isDelivery(body)) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('not a delivery body');
        return;
      }
      delivery = body;
      await handler(delivery);
      res.writeHead(204).end();
    } catch (err) {
      try {
        options.onError?.(err, delivery);
      } catch {
        // An onError that throws must not leave the delivery unanswered (the sidecar would wait out its ack
        // timeout) nor reject this handler, which node:http would not catch: the answer below still goes out.
      }
      if (!res.headersSent)
        res
          .writeHead(delivery || err instanceof UnverifiableBody ? 500 : 400, { 'content-type': 'text/plain' })
          .end(err instanceof Error ? err.message : String(err));
    }
  };
}

const tolerance = (o: DeliveryEndpointOptions) => (o.signatureToleranceSeconds === undefined ? {} : { toleranceSeconds: o.signatureToleranceSeconds });
