import type { RequestHandler } from 'express';
import { requireBearerToken } from '../http/bearer-token.ts';
import type { Logger } from '../logging/logger.ts';

/** `Authorization: Bearer <ADMIN_TOKEN>` when a token is configured; open otherwise (the bind address guards it). */
export const requireAdminToken = (token: string | undefined): RequestHandler => requireBearerToken(token, { name: 'admin API', realm: 'ordered-sidecar admin', env: 'ADMIN_TOKEN' });

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Called at start: an open API on a non-loopback address lets anyone on the network write to Kafka or move groups. */
export function warnIfAdminExposed(options: { host: string; adminToken?: string | undefined; apiToken?: string | undefined }, log: Logger): void {
  if (isLoopbackHost(options.host)) return;
  if (!options.adminToken) log.warn('ADMIN_TOKEN is not set and HOST is not loopback: /admin/v1 is open to anyone who can reach this port', { host: options.host });
  if (!options.apiToken) log.warn('API_TOKEN is not set and HOST is not loopback: /v1 (produce) is open to anyone who can reach this port', { host: options.host });
}
