import type { IncomingMessage } from 'node:http';
import typeis from 'type-is';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { BearerToken } from './bearer-token.ts';
import { headerOf, type Middleware } from './request-chain.ts';

/**
 * What another website's page can make a browser send to the sidecar, refused before the admin API and the console
 * see it, with or without ADMIN_TOKEN:
 * - a request from another origin (its `Origin` is not this request's own scheme://Host, or `Sec-Fetch-Site` says
 *   cross-site): a form POST or a `no-cors` fetch needs no preflight, so the request would run though the page never
 *   reads the answer;
 * - an admin change (a POST, PUT or PATCH) not declared `Content-Type: application/json`, bodyless ones included:
 *   a script of another origin can only send that after a CORS preflight, which the sidecar never grants (a form or a
 *   `no-cors` fetch can POST any other type, or none). DELETE is let through without it: no browser sends one to
 *   another origin without a preflight, whatever its type (the CLI and the console declare JSON all the same);
 * - when ADMIN_TOKEN is unset (the loopback bind its only guard), a `Host` that is not a loopback name nor the address
 *   the connection came to: DNS rebinding points the attacker's name at 127.0.0.1 and makes its page same-origin with
 *   the sidecar, but the browser still sends that name as Host.
 * Refusals are 403 FORBIDDEN (the origin and Host checks) or 415 UNSUPPORTED_MEDIA_TYPE, with the usual error body.
 */
export interface SameOriginGuardOptions {
  /** Named in the messages: "admin API" or "console". */
  name: string;
  /** ADMIN_TOKEN or its file: the Host check applies only when it is unset. */
  token: BearerToken | undefined;
  /** POST, PUT and PATCH (any method but GET, HEAD and DELETE) must declare a JSON body (the admin API). */
  jsonWrites: boolean;
  /** A cross-site top-level GET navigation is let through (a link to the console from a runbook page). */
  navigations: boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);
/** Methods a browser sends to another origin only after a preflight, whatever the Content-Type. */
const PREFLIGHTED = new Set(['DELETE']);

/** A name that resolves to this host whatever DNS says: localhost and *.localhost (RFC 6761), 127.0.0.0/8, ::1. */
export function isLoopbackName(hostname: string): boolean {
  const h = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The host name of a Host header (brackets kept off IPv6 addresses), or undefined when it is not one. */
function hostnameOf(host: string): string | undefined {
  const url = URL.parse(`http://${host}`);
  if (url === null || url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search !== '' || url.hash !== '') return undefined;
  return url.hostname.replace(/^\[|\]$/g, '');
}

/** The address the connection was accepted on (what HOST names, or an interface's address under 0.0.0.0 / ::). */
const localAddressOf = (req: IncomingMessage): string | undefined => req.socket.localAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

/** True when `origin` (an Origin header) is the request's own: same host and port as its Host, over http or https. */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  const from = URL.parse(origin);
  if (from === null || (from.protocol !== 'http:' && from.protocol !== 'https:') || host === undefined) return false;
  // Parsed with the Origin's scheme, so a default port written or left out in Host compares equal.
  const own = URL.parse(`${from.protocol}//${host}`);
  return own !== null && own.host === from.host && `${from.protocol}//${from.host}` === origin.toLowerCase().replace(/\/$/, '');
}

/** Why the request is refused (status and message), or undefined when it may go on. */
export function refusal(req: IncomingMessage, options: SameOriginGuardOptions): { status: 403 | 415; message: string } | undefined {
  const method = req.method ?? 'GET';
  const host = headerOf(req, 'host');
  const origin = headerOf(req, 'origin');
  if (origin !== undefined && !isOwnOrigin(origin, host))
    return {
      status: 403,
      message: `${options.name}: refused a request from another origin (Origin: ${origin.slice(0, 100)}); call it from its own page or without a browser`,
    };
  const site = headerOf(req, 'sec-fetch-site');
  const navigation = options.navigations && SAFE_METHODS.has(method) && headerOf(req, 'sec-fetch-mode') === 'navigate';
  if (site === 'cross-site' && !navigation)
    return { status: 403, message: `${options.name}: refused a request another website's page made (Sec-Fetch-Site: cross-site)` };
  if (options.jsonWrites && !SAFE_METHODS.has(method) && !PREFLIGHTED.has(method)) {
    const type = headerOf(req, 'content-type');
    if (type === undefined || typeis.is(type, ['application/json']) === false)
      return { status: 415, message: `${options.name}: send ${method} requests with Content-Type: application/json, a body or not` };
  }
  return rebindingRefusal(req, options.name, options.token, 'ADMIN_TOKEN');
}

/**
 * While `token` is unset, a `Host` that is neither a loopback name nor the address the connection came to: DNS
 * rebinding points the attacker's name at 127.0.0.1 and makes its page same-origin with the sidecar, but the
 * browser still sends that name as Host.
 */
export function rebindingRefusal(
  req: IncomingMessage,
  name: string,
  token: BearerToken | undefined,
  tokenEnv: string,
): { status: 403; message: string } | undefined {
  if (token !== undefined && token !== '') return undefined;
  const host = headerOf(req, 'host');
  const hostname = host === undefined ? undefined : hostnameOf(host);
  if (hostname !== undefined && (isLoopbackName(hostname) || hostname === localAddressOf(req))) return undefined;
  return {
    status: 403,
    message: `${name}: without ${tokenEnv}, only requests to a loopback name (localhost, 127.0.0.1, [::1]) or to the address the sidecar listens on are served (Host: ${(host ?? '').slice(0, 100)}); set ${tokenEnv} to serve others`,
  };
}

/**
 * The produce API's guard against DNS rebinding, on a loopback bind without API_TOKEN (the defaults): another
 * website's page in a browser on this machine could otherwise produce through it. On another bind, callers reach
 * the sidecar under names of their own (a Service, a compose service), which API_TOKEN guards instead.
 */
export function apiRebindingGuard(token: BearerToken | undefined): Middleware {
  return (req, _res, next) => {
    const refused = rebindingRefusal(req, 'produce API', token, 'API_TOKEN');
    next(refused && new SidecarError('FORBIDDEN', refused.message));
  };
}

/** The guard as a middleware: a refusal goes to the error responder (the usual JSON error body). */
export function sameOriginGuard(options: SameOriginGuardOptions): Middleware {
  return (req, _res, next) => {
    const refused = refusal(req, options);
    if (refused === undefined) {
      next();
      return;
    }
    next(new SidecarError(refused.status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'FORBIDDEN', refused.message));
  };
}
