import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import typeis from 'type-is';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { Middleware } from './request-chain.ts';

/**
 * 415 unless the body is declared JSON: body-parser would skip any other body and leave the route none. A
 * request with no body at all gets 400 instead: its Content-Type may well be right, and the body is what is missing.
 */
export const requireJson: Middleware = (req, _res, next) => {
  if (!typeis.hasBody(req)) {
    next(new SidecarError('INVALID_REQUEST', 'body: missing; send a JSON object with Content-Type: application/json', { field: 'body' }));
    return;
  }
  // The SDK's exact header is let through without type-is's parsing (its answer for it, with a body, is the
  // same); type-is, what express's req.is runs, judges every other one.
  if (req.headers['content-type'] === 'application/json') {
    next();
    return;
  }
  next(
    typeis(req, ['application/json']) ? undefined : new SidecarError('UNSUPPORTED_MEDIA_TYPE', 'body: send Content-Type: application/json', { field: 'body' }),
  );
};

/**
 * The middleware of a route whose body is one small JSON object: declared JSON, at most `limitBytes`, and,
 * when bigger, a 413 that says what the body should be (body-parser's own error would quote the produce
 * API's MAX_BODY_BYTES). `shape` completes "body: …", e.g. `a move body is {"partition": N}`.
 */
export function smallJsonBody(limitBytes: number, shape: string): RequestHandler {
  const tooLarge: ErrorRequestHandler = (err: { type?: string }, _req, _res, next) => {
    next(err.type === 'entity.too.large' ? new SidecarError('PAYLOAD_TOO_LARGE', `body: ${shape}, at most ${limitBytes} bytes`, { field: 'body' }) : err);
  };
  // One router, so a route takes the three as one handler and the 413 rewrite stays with this route.
  return express.Router().use(requireJson, express.json({ limit: limitBytes, strict: true }), tooLarge);
}
