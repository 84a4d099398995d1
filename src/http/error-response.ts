import type { IncomingMessage, ServerResponse } from 'node:http';
import { SidecarError, storeUnavailable } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import { pathOf, sendJson } from './request-chain.ts';

/** body-parser's own errors, translated to the sidecar's vocabulary. */
function bodyParserError(err: { type?: string; status?: number; message?: string; code?: unknown }, limit: number): SidecarError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new SidecarError('INVALID_REQUEST', `body: malformed JSON (${err.message})`, { field: 'body' });
    case 'entity.invalid.utf8':
      return new SidecarError('INVALID_REQUEST', `body: ${err.message ?? 'not valid UTF-8'}`, { field: 'body' });
    case 'entity.too.large':
      return new SidecarError('PAYLOAD_TOO_LARGE', `body: over the limit of ${limit} bytes`, { field: 'body' });
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new SidecarError('UNSUPPORTED_MEDIA_TYPE', `body: ${err.message}`, { field: 'body' });
    case 'request.aborted':
      return new SidecarError('INVALID_REQUEST', 'body: the client aborted the request', { field: 'body' });
    default:
      // zlib's errors for a gzip or deflate body that is not one, or is cut short, reach here as they are.
      if (typeof err.code === 'string' && err.code.startsWith('Z_'))
        return new SidecarError('INVALID_REQUEST', `body: could not decompress it as its content-encoding says (${err.message ?? 'corrupt'})`, {
          field: 'body',
        });
      // Other client errors express raises itself (a malformed %-escape in a path, say) keep their 4xx.
      return err.status !== undefined && err.status >= 400 && err.status < 500
        ? new SidecarError('INVALID_REQUEST', `request: ${err.message ?? 'malformed'}`)
        : undefined;
  }
}

export type ErrorResponder = (raw: unknown, req: IncomingMessage, res: ServerResponse) => void;

/** The answer to a failed request (logged, then the JSON error body), on every listener and route. */
export function errorResponder(log: Logger, maxBodyBytes: number): ErrorResponder {
  return (raw, req, res) => {
    const err =
      raw instanceof SidecarError
        ? raw
        : (storeUnavailable(raw, 'Redis unavailable') ??
          bodyParserError(raw as object, maxBodyBytes) ??
          new SidecarError('INTERNAL', 'internal error', { cause: raw }));
    // An internal error is a defect: its stack is what finds it.
    const stack = err.code === 'INTERNAL' && raw instanceof Error ? { stack: raw.stack } : {};
    const path = pathOf(req);
    if (err.status >= 500 && !err.summarized) log.error('request failed', { method: req.method, path, code: err.code, err: err.cause ?? err, ...stack });
    else log.debug('request rejected', { method: req.method, path, code: err.code, reason: err.message });
    if (res.headersSent) return;
    if (err.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.retryAfterSeconds));
    sendJson(res, err.status, err.toJSON());
  };
}
