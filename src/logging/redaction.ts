/**
 * Field names whose values are secrets: never written to a log, whatever the depth. One list for both
 * loggers: our JSON logger matches names; pino takes `PINO_REDACT_PATHS` (`redact: { paths }`).
 */
export const SECRET_FIELDS = ['password', 'kafkaSaslPassword', 'redisPassword', 'apiToken', 'adminToken', 'token', 'authorization', 'secret', 'sasl'] as const;

export const REDACTED = '[redacted]';

const SECRET_NAMES = new Set<string>(SECRET_FIELDS.map((f) => f.toLowerCase()));

/** pino paths for the same names, at the top level and one level down (pino has no "any depth" path). */
export const PINO_REDACT_PATHS: string[] = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]);

/** `value` with every secret field replaced, recursively; a URL's password too. Never mutates `value`. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrlPassword(value);
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value)) out[name] = SECRET_NAMES.has(name.toLowerCase()) ? REDACTED : redact(v, depth + 1);
  return out;
}

/** `scheme://user:password@host` anywhere in a string (an error message quoting a URL, say). */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi;
const redactUrlPassword = (text: string): string => text.replace(URL_PASSWORD, `$1${REDACTED}@`);

