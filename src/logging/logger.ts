import { redact } from './redaction.ts';

/**
 * JSON-lines logs on stderr: one object per line, greppable at 3 a.m. and parsed by any log pipeline.
 * Errors are flattened to their message, code and cause chain instead of an opaque "[object Object]".
 * Secret fields (redaction.ts) are replaced whatever their depth, so no password reaches a log.
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

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function describe(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const { code, type } = value as Error & { code?: unknown; type?: unknown };
  return {
    message: value.message,
    name: value.name,
    ...(code === undefined ? {} : { code }),
    ...(type === undefined ? {} : { type }),
    ...(value.cause === undefined ? {} : { cause: describe(value.cause) }),
  };
}

export function createLogger(level: LogLevel, base: LogFields = {}, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const emit = (at: LogLevel, msg: string, fields: LogFields = {}): void => {
    if (RANK[at] < RANK[level]) return;
    const entry: LogFields = { time: new Date().toISOString(), level: at, msg: redact(msg), ...base };
    const described: LogFields = {};
    for (const [key, value] of Object.entries(fields)) described[key] = describe(value);
    Object.assign(entry, redact(described));
    write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(level, { ...base, ...fields }, write),
  };
}
