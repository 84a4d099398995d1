import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { SidecarError } from '../errors/sidecar-error.ts';

/** Digests of equal length, so the comparison takes the same time whatever the length or content of the guess. */
const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * `Authorization: Bearer <token>` when a token is configured; open otherwise (the bind address guards it).
 * A missing or wrong token is a 401 with the JSON error body, naming which token is expected.
 */
export function requireBearerToken(token: string | undefined, api: { name: string; realm: string; env: string }): RequestHandler {
  if (token === undefined || token === '') return (_req, _res, next) => next();
  const expected = digest(token);
  return (req, res, next) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.get('authorization') ?? '');
    if (match && timingSafeEqual(digest(match[1]!), expected)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', `Bearer realm="${api.realm}"`);
    next(new SidecarError('UNAUTHORIZED', match ? `${api.name}: wrong bearer token` : `${api.name}: send Authorization: Bearer <${api.env}>`));
  };
}
