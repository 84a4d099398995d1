import pino from 'pino';
import { currentRequestId } from './request-context.ts';

/**
 * JSON-lines logs on stderr through pino: one object per line, greppable at 3 a.m. and parsed by any log pipeline.
 * The field names are the ones operators already parse: `time` (ISO 8601), `level` (its name), `msg`.
 * Errors are flattened to their message, code, cause chain and stack instead of an opaque "[object Object]",
 * and secrets are censored before a line is written (see REDACTED_KEYS).
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/**
 * Keys whose values never reach a log line, at any depth of the fields, child bindings and error properties.
 * A key matches when, lowercased and without `-`/`_`, it ends with one of these: `password` also catches
 * `saslPassword` and `sasl.password`, `token` catches `adminToken`. Add a row for any new secret-bearing option.
 */
export const REDACTED_KEYS: readonly string[] = ['password', 'passwd', 'secret', 'token', 'authorization', 'cookie', 'apikey', 'credentials', 'privatekey'];

export const REDACTED = '[REDACTED]';

const isRedactedKey = (key: string): boolean => {
  const normalized = key.toLowerCase().replace(/[-_]/g, '');
  return REDACTED_KEYS.some((secret) => normalized.endsWith(secret));
};

/**
 * `scheme://user:password@host` in any string (a Redis URL in an error message, say) keeps the user, not the password.
 * The password runs to the last "@" of the authority, as URL parsers read it, so a raw "@" in it is censored too;
 * a raw space is not (it ends the match): log a URL re-serialised by `new URL()`, which percent-encodes both.
 */
const URL_PASSWORD = /(\/\/[^\s/:@]*:)[^\s/]+@/g;
/** The query of any `scheme://...?...` inside a string, up to a `#` or a space (as URL_PASSWORD, a raw space ends it). */
const URL_QUERY = /(\/\/[^\s?#]*\?)([^\s#]*)/g;
const scrub = (text: string): string =>
  // Both need a "//": most strings logged have none and cost one scan.
  text.includes('//')
    ? text.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(URL_QUERY, (_, head: string, query: string) => `${head}${withoutQuerySecrets(query, REDACTED)}`)
    : text;

/** Stays as it is inside a URL (REDACTED's brackets would be %-encoded). */
const REDACTED_IN_URL = '***';

/**
 * Query parameters of a Redis URL that carry a secret. ioredis makes every parameter of REDIS_URL a client option
 * of the same name (parseURL in ioredis/built/utils), so `?password=` authenticates as `user:password@` does; the
 * names are matched as ioredis reads them, case included. `sentinelPassword` is the only other secret option.
 */
const URL_QUERY_SECRETS: ReadonlySet<string> = new Set(['password', 'sentinelPassword']);

/**
 * A URL's query (between "?" and "#") with the value of each URL_QUERY_SECRETS parameter replaced by `mask`, the
 * other parameters as written. The one place both the logger and withoutUrlPassword mask a query.
 */
function withoutQuerySecrets(query: string, mask: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      // The name decoded as ioredis gets it ("+" and %-escapes, by URLSearchParams); the "&" keeps a leading "?" in it.
      const name = new URLSearchParams(`&${pair.slice(0, eq)}`).keys().next().value;
      return name !== undefined && URL_QUERY_SECRETS.has(name) ? `${pair.slice(0, eq + 1)}${mask}` : pair;
    })
    .join('&');
}

/**
 * A URL fit to show in an answer or an error message, as written but with its password replaced (the user
 * kept), in the userinfo and in the query (URL_QUERY_SECRETS). In a string that is not a `scheme://` URL (a
 * mistyped REDIS_URL) the parts cannot be told apart reliably, so everything between `//` and its last `@`
 * goes: a password may itself hold `/`, `:` or `@`.
 */
export function withoutUrlPassword(raw: string): string {
  const masked = withoutUserinfoPassword(raw);
  // The query runs from the first "?" to a "#"; a "?" after a "#" is the fragment's. The userinfo is masked
  // first: a "?" or "#" in it would end the authority, so a parsed URL's has none and a mistyped one's is gone.
  const query = masked.indexOf('?');
  const hash = masked.indexOf('#');
  if (query < 0 || (hash >= 0 && hash < query)) return masked;
  const end = hash < 0 ? masked.length : hash;
  return `${masked.slice(0, query + 1)}${withoutQuerySecrets(masked.slice(query + 1, end), REDACTED_IN_URL)}${masked.slice(end)}`;
}

function withoutUserinfoPassword(raw: string): string {
  const slashes = raw.indexOf('//');
  const start = slashes < 0 ? 0 : slashes + 2;
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (url && raw.startsWith(`${url.protocol}//`)) {
    if (!url.password) return raw;
    // A URL's authority ends at the first of / ? #, its user at the first `:` of it.
    const authorityEnd = raw.slice(start).search(/[/?#]/);
    const at = raw.lastIndexOf('@', authorityEnd < 0 ? raw.length : start + authorityEnd);
    return `${raw.slice(0, raw.indexOf(':', start) + 1)}${REDACTED_IN_URL}${raw.slice(at)}`;
  }
  const at = raw.lastIndexOf('@');
  return at < start ? raw : `${raw.slice(0, start)}${REDACTED_IN_URL}${raw.slice(at)}`;
}

const isPlainObject = (value: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/**
 * A copy of `value` fit to log: errors flattened, secrets censored, cycles cut. Only plain objects and arrays are
 * walked; other objects (a Date, a Buffer) are left to JSON serialisation as they were before pino.
 */
function sanitize(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrub(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[Circular]';
  if (!(value instanceof Error) && !Array.isArray(value) && !isPlainObject(value)) return value;
  seen.add(value);
  try {
    if (value instanceof Error) return sanitizeEntries(describe(value), seen);
    if (Array.isArray(value)) return value.map((item) => sanitize(item, seen));
    return sanitizeEntries(value as LogFields, seen);
  } finally {
    // Only ancestors count as a cycle: the same object twice side by side is logged twice.
    seen.delete(value);
  }
}

function sanitizeEntries(fields: LogFields, seen: WeakSet<object>): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) out[key] = isRedactedKey(key) ? REDACTED : sanitize(value, seen);
  return out;
}

function describe(error: Error): LogFields {
  const { code, type } = error as Error & { code?: unknown; type?: unknown };
  return {
    message: error.message,
    name: error.name,
    ...(code === undefined ? {} : { code }),
    ...(type === undefined ? {} : { type }),
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    ...(error.stack === undefined ? {} : { stack: error.stack }),
  };
}

const sanitizeFields = (fields: LogFields): LogFields => sanitizeEntries(fields, new WeakSet());

function wrap(logger: pino.Logger): Logger {
  // Disabled levels cost one check: nothing is scrubbed or copied for a line that is not written.
  const at =
    (level: LogLevel) =>
    (msg: string, fields: LogFields = {}): void => {
      if (logger.isLevelEnabled(level)) logger[level](fields, scrub(msg));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    // pino serialises a child's bindings once, here; they are sanitized like the base fields in createLogger.
    child: (fields) => wrap(logger.child(sanitizeFields(fields))),
  };
}

/** A logger writing at `level` and above; `write` receives each line, newline included (stderr unless told). */
export function createLogger(level: LogLevel, base: LogFields = {}, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const logger = pino(
    {
      level,
      base: sanitizeFields(base),
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      // Every field goes through sanitize, errors included: pino's `err` serializer would undo the flattening.
      serializers: { err: (value: unknown) => value },
      formatters: { level: (label) => ({ level: label }), log: sanitizeFields },
      // Every line written while serving a request names it (X-Request-Id, src/http/app.ts).
      mixin: () => {
        const requestId = currentRequestId();
        return requestId === undefined ? {} : { requestId };
      },
    },
    { write },
  );
  return wrap(logger);
}
