import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';

/** Digests of equal length, so the comparison takes the same time whatever the length or content of the guess. */
const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** `Authorization: Bearer <token>` when a token is configured; open otherwise (the bind address guards it). */
export function requireAdminToken(token: string | undefined): RequestHandler {
  if (token === undefined || token === '') return (_req, _res, next) => next();
  const expected = digest(token);
  return (req, res, next) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.get('authorization') ?? '');
    if (match && timingSafeEqual(digest(match[1]!), expected)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', 'Bearer realm="ordered-sidecar admin"');
    next(new SidecarError('UNAUTHORIZED', match ? 'admin API: wrong bearer token' : 'admin API: send Authorization: Bearer <ADMIN_TOKEN>'));
  };
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Called at start: an open admin API on a non-loopback address lets anyone on the network move groups. */
export function warnIfAdminExposed(options: { host: string; adminToken?: string | undefined }, log: Logger): void {
  if (!options.adminToken && !isLoopbackHost(options.host)) {
    log.warn('ADMIN_TOKEN is not set and HOST is not loopback: /admin/v1 is open to anyone who can reach this port', { host: options.host });
  }
}
