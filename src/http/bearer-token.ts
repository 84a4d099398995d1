import { createHash, timingSafeEqual } from 'node:crypto';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import type { SecretSource } from '../config/secret-file.ts';
import { headerOf, type Middleware } from './request-chain.ts';

/** Digests of equal length, so the comparison takes the same time whatever the length or content of the guess. */
const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** A bearer token: fixed, or read from a file that may be rotated (src/config/secret-file.ts). */
export type BearerToken = string | SecretSource;

/**
 * `Authorization: Bearer <token>` when a token is configured; open otherwise (the bind address guards it).
 * A missing or wrong token is a 401 with the JSON error body, naming which token is expected. A token from
 * a file is asked for at each request, so a rotated one applies at once and the old one stops working.
 */
export function requireBearerToken(token: BearerToken | undefined, api: { name: string; realm: string; env: string }): Middleware {
  if (token === undefined || token === '') return (_req, _res, next) => next();
  const current = typeof token === 'string' ? () => token : token;
  let known = { token: current(), digest: digest(current()) };
  const expected = (): Buffer => {
    const now = current();
    if (now !== known.token) known = { token: now, digest: digest(now) };
    return known.digest;
  };
  return (req, res, next) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(headerOf(req, 'authorization') ?? '');
    if (match && timingSafeEqual(digest(match[1]!), expected())) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', `Bearer realm="${api.realm}"`);
    next(new SidecarError('UNAUTHORIZED', match ? `${api.name}: wrong bearer token` : `${api.name}: send Authorization: Bearer <${api.env}>`));
  };
}

/** `Authorization: Bearer <ADMIN_TOKEN>` when a token is configured; open otherwise (the bind address guards it). */
export const requireAdminToken = (token: BearerToken | undefined): Middleware =>
  requireBearerToken(token, { name: 'admin API', realm: 'ordered-sidecar admin', env: 'ADMIN_TOKEN' });

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Called at start: an open API on a non-loopback address lets anyone on the network write to Kafka or move groups. */
export function warnIfAdminExposed(options: { host: string; adminToken?: BearerToken | undefined; apiToken?: BearerToken | undefined }, log: Logger): void {
  if (isLoopbackHost(options.host)) return;
  if (!options.adminToken)
    log.warn('ADMIN_TOKEN is not set (nor ADMIN_TOKEN_FILE) and HOST is not loopback: /admin/v1 is open to anyone who can reach this port', {
      host: options.host,
    });
  if (!options.apiToken)
    log.warn('API_TOKEN is not set (nor API_TOKEN_FILE) and HOST is not loopback: /v1 (produce) is open to anyone who can reach this port', {
      host: options.host,
    });
}
