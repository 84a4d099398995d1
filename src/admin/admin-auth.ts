import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';

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

/** `Authorization: Bearer <ADMIN_TOKEN>` when a token is configured; open otherwise (the bind address guards it). */
export const requireAdminToken = (token: string | undefined): RequestHandler =>
  requireBearerToken(token, { name: 'admin API', realm: 'ordered-sidecar admin', env: 'ADMIN_TOKEN' });

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Called at start: an open API on a non-loopback address lets anyone on the network write to Kafka or move groups. */
export function warnIfAdminExposed(options: { host: string; adminToken?: string | undefined; apiToken?: string | undefined }, log: Logger): void {
  if (isLoopbackHost(options.host)) return;
  if (!options.adminToken)
    log.warn('ADMIN_TOKEN is not set and HOST is not loopback: /admin/v1 is open to anyone who can reach this port', { host: options.host });
  if (!options.apiToken)
    log.warn('API_TOKEN is not set and HOST is not loopback: /v1 (produce) is open to anyone who can reach this port', { host: options.host });
}
