import { AsyncResource } from 'node:async_hooks';
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import express from 'express';
import type { Middleware, Next } from './request-chain.ts';

/** A content type without parameters, or with only charset=utf-8: the body is UTF-8, as body-parser assumes by default. */
const UTF8_CHARSET = /^[^;]*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/** As body-parser (through http-errors) marks a failed read: errorResponder reads `type`, `status` and `message`. */
function failedRead(err: Error, type?: string): Error {
  return Object.assign(err, { status: 400, statusCode: 400, expose: true }, type === undefined ? {} : { type });
}

/**
 * A body whose bytes are not UTF-8 is refused: decoding would turn each bad byte into U+FFFD, so two message
 * groups that differ only there would become one in Redis and Kafka, and values would be written altered.
 */
const NOT_UTF8 = 'entity.invalid.utf8';
const notUtf8 = (): Error => failedRead(new Error('not valid UTF-8'), NOT_UTF8);

/** body-parser's `verify` (given the bytes, inflated, before they are decoded): the same rule for its bodies. */
function verifyUtf8(_req: IncomingMessage, _res: unknown, bytes: Buffer, charset: string): void {
  if (charset === 'utf-8' && !isUtf8(bytes)) throw notUtf8();
}

/**
 * The declared length of a body this reader takes on: uncompressed, UTF-8, of a declared length within
 * `limitBytes`, not yet read. Anything else (chunked, compressed, another charset, too big) is left to body-parser.
 */
function plainLength(req: IncomingMessage, limitBytes: number): number | undefined {
  const { headers } = req;
  if (!req.readable || headers['transfer-encoding'] !== undefined) return undefined;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return undefined;
  const type = headers['content-type'];
  if (type === undefined || !UTF8_CHARSET.test(type)) return undefined;
  const declared = headers['content-length'];
  if (declared === undefined || !/^\d+$/.test(declared)) return undefined;
  const length = Number(declared);
  return length <= limitBytes ? length : undefined;
}

/**
 * express.json({ strict: false }) for the produce routes, with a shorter path for the usual body (declared
 * length within the limit, uncompressed, UTF-8): it collects the bytes itself, then decodes and parses them as
 * body-parser does (a leading BOM dropped, an empty body is {}, its error types), skipping its per-request
 * set-up (raw-body, iconv-lite, content-type parsing and a second type check: about 25 µs a request besides
 * JSON.parse in a CPU profile at 1,000 produce requests/s). Every other body goes to body-parser itself.
 */
export function produceJsonBody(limitBytes: number): Middleware {
  const bodyParser = express.json({ limit: limitBytes, strict: false, verify: verifyUtf8 });
  return (req, res, next) => {
    const length = plainLength(req, limitBytes);
    if (length === undefined) {
      bodyParser(req, res, next);
      return;
    }
    // As raw-body does, `next` runs in the request's async context (its log lines keep the request id, its
    // spans their parent): an AsyncResource's runInAsyncScope, not AsyncResource.bind or
    // AsyncLocalStorage.snapshot (which binds too), several times dearer per request.
    readPlainBody(req, length, next, new AsyncResource('ordered-sidecar.produce-body'));
  };
}

interface PlainRead {
  chunks: Buffer[];
  received: number;
  settled: boolean;
  /** The async context the read began in. */
  context: AsyncResource;
}

/** Listeners are anonymous arrows and the state an object: a named closure per request costs a defineProperty in the bundle. */
function readPlainBody(req: IncomingMessage, length: number, next: Next, context: AsyncResource): void {
  const read: PlainRead = { chunks: [], received: 0, settled: false, context };
  req.on('data', (chunk: Buffer) => {
    read.received += chunk.length;
    read.chunks.push(chunk);
  });
  req.once('end', () => {
    const err = read.received === length ? undefined : failedRead(new Error('request size did not match content length'), 'request.size.invalid');
    settle(read, req, next, err);
  });
  req.once('aborted', () => settle(read, req, next, failedRead(new Error('request aborted'), 'request.aborted')));
  // Stays after the body is read, as a guard: an error on a request without a listener would be thrown.
  req.on('error', (err: Error) => settle(read, req, next, failedRead(err)));
}

/** The body decoded and parsed as body-parser does (a leading BOM dropped, an empty body is {}), once. */
function settle(read: PlainRead, req: IncomingMessage, next: Next, err: Error | undefined): void {
  if (read.settled) return;
  read.settled = true;
  const { chunks, received } = read;
  // The request outlives its body's bytes (its handler holds it until Kafka answers): only the parsed body stays.
  read.chunks = [];
  if (err) {
    read.context.runInAsyncScope(next, undefined, err);
    return;
  }
  const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
  if (!isUtf8(body)) {
    read.context.runInAsyncScope(next, undefined, notUtf8());
    return;
  }
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = text.length === 0 ? {} : JSON.parse(text);
  } catch (parseError) {
    read.context.runInAsyncScope(next, undefined, Object.assign(failedRead(parseError as Error, 'entity.parse.failed'), { body: text }));
    return;
  }
  Object.assign(req, { body: parsed });
  read.context.runInAsyncScope(next);
}
